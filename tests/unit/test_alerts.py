"""Alerts from outside: the webhook bodies read, the judgement of one, and the endpoint's answers."""

from __future__ import annotations

import base64
import json

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from fastapi.testclient import TestClient

from laravel_release import alerts, webapp
from laravel_release.config import ENVIRONMENTS
from laravel_release.steps.alert import rollback_conf
from laravel_release.steps.audit import security_alert


def alertmanager(*items, **extra):
    return {"version": "4", "receiver": "releases", "status": "firing", "alerts": list(items), **extra}


def firing(trigger="error_rate", value="12.5", env="production", status="firing", **labels):
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "environment": env, "rollback_trigger": trigger, **labels},
        "annotations": {"summary": "5xx over 5% on the API", "value": value},
    }


def test_alertmanager_alerts_are_read_by_their_labels_and_value_annotation():
    found = alerts.parse(alertmanager(firing(), firing(status="resolved")), {}, ENVIRONMENTS)
    assert found == [alerts.Alert("production", "error_rate_percent", 12.5, "5xx over 5% on the API")]


def test_grafana_values_and_the_query_string_name_what_the_labels_do_not():
    grafana = {
        "orgId": 1,
        "alerts": [{"status": "firing", "labels": {"alertname": "p95"}, "values": {"A": 2.9, "B": 3.4}}],
    }
    found = alerts.parse(grafana, {"environment": "uat", "trigger": "p95_seconds"}, ENVIRONMENTS)
    assert found == [alerts.Alert("uat", "p95_seconds", 3.4, "p95")]


def test_plain_json_is_one_alert_or_a_list():
    one = {"environment": "staging", "trigger": "database", "value": 3, "summary": "db down", "release": "v1.2.0"}
    assert alerts.parse(one, {}, ENVIRONMENTS) == [alerts.Alert("staging", "database_failures", 3, "db down", "v1.2.0")]
    assert len(alerts.parse([one, one], {}, ENVIRONMENTS)) == 2


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (alertmanager(firing(env="")), "names no environment: label it environment="),
        (alertmanager(firing(env="qa")), "unknown environment 'qa': one of staging, uat, production"),
        (alertmanager(firing(trigger="")), "names no rollback trigger: label it rollback_trigger=<security|"),
        (alertmanager(firing(trigger="cpu")), "unknown rollback trigger 'cpu': name one of security, data"),
        (alertmanager(firing(value="high")), "carries no measured value (got 'high', a number of 0 or more"),
        (alertmanager(firing(value="-3")), "carries no measured value (got '-3'"),
        (alertmanager(firing(value="NaN")), "carries no measured value (got 'NaN'"),
        (alertmanager(firing(release="../x")), "release '../x' is not a release folder name or a version"),
        ("firing", "neither Alertmanager's nor Grafana's webhook JSON"),
    ],
)
def test_an_alert_that_cannot_be_judged_says_what_to_fix_in_its_rule(body, words):
    with pytest.raises(alerts.AlertError, match=None) as err:
        alerts.parse(body, {}, ENVIRONMENTS)
    assert words in str(err.value)


def test_one_run_per_environment_with_the_worst_value_of_each_measurement():
    found = alerts.parse(
        alertmanager(firing(value="7"), firing(value="12.5"), firing("response_time", "2.5"), firing(env="uat")),
        {},
        ENVIRONMENTS,
    )
    confs = alerts.run_confs(found, "alertmanager")
    assert sorted(confs) == ["production", "uat"]
    assert confs["production"]["measured"] == {"error_rate_percent": 12.5, "p95_seconds": 2.5}
    assert confs["production"]["summary"] == "5xx over 5% on the API"
    assert confs["production"]["release"] is None
    with pytest.raises(alerts.AlertError, match="must be a short name"):
        alerts.run_confs(found, "bad;source")


def status(current="r3", previous_good="r2", bad=()):
    releases = [
        {"release": r, "version": v, "live": r == current, "bad": r in bad}
        for r, v in (("r3", "v1.2.0"), ("r2", "v1.1.0"), ("r1", "v1.0.0"))
    ]
    return {"current": current, "version": "v1.2.0", "previous_good": previous_good, "releases": releases}


def params(**measured):
    return {"environment": "production", "measured": measured, "source": "alertmanager", "summary": "5xx"}


def test_an_alert_over_a_limit_rolls_back_the_live_release_by_code():
    conf = rollback_conf("production", params(error_rate_percent=12.5), status())
    assert conf == {
        "environment": "production",
        "from": "r3",
        "mode": "code",
        "trigger": "error_rate",
        "reason": "error rate over 5%: 12.5% (limit 5%) (alertmanager alert: 5xx)",
    }


@pytest.mark.parametrize(
    ("measured", "state", "about", "words"),
    [
        ({"error_rate_percent": 4.9}, status(), None, "within every rollback trigger's limit (error_rate_percent=4.9"),
        ({"error_rate_percent": 9}, status(), "v1.1.0", "the alert is about v1.1.0, but r3 (v1.2.0) is live"),
        ({"error_rate_percent": 9}, status(current="r2", bad=("r3",)), None, "r3, rolled back from): an alert rolls"),
        ({"error_rate_percent": 9}, status(current=""), None, "nothing is live"),
    ],
)
def test_an_alert_rolls_nothing_back_when_within_limits_stale_or_already_rolled_back(measured, state, about, words):
    with pytest.raises(AirflowSkipException) as err:
        rollback_conf("production", {**params(**measured), "release": about}, state)
    assert words in str(err.value)


def test_an_alert_with_nowhere_to_go_back_to_fails_for_a_person():
    with pytest.raises(AirflowFailException, match="no good release before r3 to go back to: fix forward"):
        rollback_conf("production", params(database_failures=1), status(previous_good=""))


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_RELEASE_ALERTS", json.dumps({"conn_type": "http", "password": "s3cret"}))
    started = []

    def start(dag_id, run_id, conf, user):
        started.append((dag_id, run_id, conf, user))
        return run_id

    webapp.app.dependency_overrides[webapp.run_starter] = lambda: start
    with TestClient(webapp.app) as c:
        c.started = started
        yield c
    webapp.app.dependency_overrides.clear()


BEARER = {"Authorization": "Bearer s3cret"}


def test_the_endpoint_starts_one_judging_run_per_environment(client):
    answer = client.post("/api/alerts", json=alertmanager(firing(), firing(env="uat")), headers=BEARER)
    assert answer.status_code == 202, answer.text
    runs = answer.json()["runs"]
    assert [(r["environment"], r["measured"]) for r in runs] == [
        ("production", {"error_rate_percent": 12.5}),
        ("uat", {"error_rate_percent": 12.5}),
    ]
    dag_id, run_id, conf, user = client.started[0]
    assert dag_id == "rollback_on_alert" and run_id.startswith("alert__production__")
    assert conf["source"] == "alertmanager" and user == "alert:alertmanager"


def test_basic_authentication_carries_the_token_as_its_password(client):
    basic = base64.b64encode(b"grafana:s3cret").decode()
    body = {"orgId": 1, "alerts": [firing()]}
    answer = client.post("/api/alerts", json=body, headers={"Authorization": f"Basic {basic}"})
    assert answer.status_code == 202 and client.started[0][2]["source"] == "grafana"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic !!"}])
def test_no_valid_token_starts_nothing(client, headers):
    answer = client.post("/api/alerts", json=alertmanager(firing()), headers=headers)
    assert answer.status_code == 401 and "Bearer <the release_alerts connection's password>" in answer.text
    assert client.started == []


def test_without_the_token_connection_alerts_are_refused_and_it_says_which(client, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_RELEASE_ALERTS", json.dumps({"conn_type": "http"}))
    answer = client.post("/api/alerts", json=alertmanager(firing()), headers=BEARER)
    assert answer.status_code == 503 and "the connection 'release_alerts'" in answer.text
    assert client.started == []


def test_a_bad_alert_is_refused_with_its_fix_and_resolved_alerts_start_nothing(client):
    answer = client.post("/api/alerts", json=alertmanager(firing(trigger="cpu")), headers=BEARER)
    assert answer.status_code == 400 and "unknown rollback trigger 'cpu'" in answer.json()["detail"]
    answer = client.post("/api/alerts", content=b"{not json", headers=BEARER)
    assert answer.status_code == 400 and answer.json()["detail"] == "the body is not JSON"
    answer = client.post("/api/alerts", json=alertmanager(firing(status="resolved")), headers=BEARER)
    assert answer.status_code == 200 and answer.json()["runs"] == []
    assert client.started == []


def audited(critical=0, high=0, advisories="checked"):
    return {
        "critical": critical,
        "high": high,
        "advisories": advisories,
        "findings": ["1 critical finding(s) from npm audit"],
    }


UNREACHABLE = "unreachable: composer audit: curl error 7"


@pytest.mark.parametrize(
    ("live", "before", "block", "outcome", "words"),
    [
        (audited(), audited(), False, AirflowSkipException, "r3 (v1.2.0) has no critical advisory (0 high)"),
        (audited(advisories=UNREACHABLE), None, False, AirflowSkipException, "were not checked (unreachable: com"),
        (audited(advisories=UNREACHABLE), None, True, AirflowFailException, "build.advisories is block: let"),
        (audited(1), audited(1), False, AirflowFailException, "has 1: a rollback removes none. Release the fixed"),
        (audited(1), audited(advisories=UNREACHABLE), False, AirflowFailException, "is not known (unreachable"),
    ],
)
def test_the_audit_raises_nothing_when_a_rollback_would_not_help_or_it_could_not_tell(
    live, before, block, outcome, words
):
    with pytest.raises(outcome) as err:
        security_alert("production", status(), live, before, block)
    assert words in str(err.value)


@pytest.mark.parametrize("before", [audited(), None])
def test_a_critical_advisory_only_the_live_release_has_is_the_security_trigger(before):
    # found by npm audit even though composer's database was out of reach: what was found counts
    live = audited(1, advisories=UNREACHABLE)
    assert security_alert("production", status(), live, before, True) == {
        "environment": "production",
        "source": "security_audit",
        "measured": {"critical_vulnerabilities": 1},
        "summary": "1 critical finding(s) from npm audit in v1.2.0",
        "release": "r3",
    }
