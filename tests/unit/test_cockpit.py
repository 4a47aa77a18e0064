"""The Releases cockpit: the environment cards and what the page shows (pure), and its endpoints through
FastAPI's TestClient with Airflow's user and permissions faked (what they decide is Airflow's)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount

from laravel_release import cockpit, config, webapp

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # a Tuesday, 03:00 UTC: the feature window is open


def release(name, version, live=False, bad=False):
    return {"release": name, "version": version, "live": live, "bad": bad, "origin": "built"}


def host(name, current="r2", version="v1.1.0", releases=None):
    kept = releases or [release("r2", "v1.1.0", live=current == "r2"), release("r1", "v1.0.0", live=current == "r1")]
    return {
        "host": name,
        "current": current,
        "version": version,
        "previous_good": "r1",
        "since": "2026-12-01T02:10:00Z",
        "run_id": "manual__1",
        "releases": kept,
    }


def production() -> config.Environment:
    return config.load().environment("production")


def test_a_card_lists_each_kept_release_once_bad_when_any_host_marks_it():
    hosts = [
        host("p1", releases=[release("r2", "v1.1.0", live=True), release("r1", "v1.0.0", bad=True)]),
        host("p2", releases=[release("r2", "v1.1.0", live=True), release("r1", "v1.0.0")]),
    ]
    freeze = {"frozen": True, "by": "alice", "reason": "INC-7"}
    card = cockpit.environment_card(production(), hosts, {"lock": None, "freeze": freeze, "errors": []})
    assert card["live"] == "r2" and card["version"] == "v1.1.0" and card["consistent"]
    assert card["kept"] == [
        {"release": "r2", "version": "v1.1.0", "bad": False, "live_on": ["p1", "p2"]},
        {"release": "r1", "version": "v1.0.0", "bad": True, "live_on": []},
    ]
    assert card["freeze"] == freeze and card["errors"] == []


def test_a_host_that_does_not_answer_is_named_and_the_others_still_show():
    hosts = [{"host": "p1", "error": "p1: cannot connect"}, host("p2", current="r1", version="v1.0.0")]
    card = cockpit.environment_card(production(), hosts, {"errors": ["p1: lock failed with exit 255"]})
    assert card["live"] == "r1" and not card["consistent"]
    assert card["errors"] == ["p1: cannot connect", "p1: lock failed with exit 255"]


def test_the_person_behind_a_live_release_is_its_run_s_triggering_user():
    cards = {"production": {"run_id": "manual__1"}, "uat": {"run_id": "gone"}}
    cockpit.by_whom(cards, [{"dag_id": "release_hotfix", "run_id": "manual__1", "triggered_by": "alice"}])
    assert cards == {
        "production": {"run_id": "manual__1", "by": "alice", "run_dag": "release_hotfix"},
        "uat": {"run_id": "gone", "by": "", "run_dag": ""},
    }


def run(dag_id, state, tasks, **conf):
    return {"dag_id": dag_id, "run_id": f"{dag_id}_1", "state": state, "tasks": tasks, "conf": conf, "start": "t"}


def test_runs_in_flight_and_open_incidents_are_read_from_the_task_states():
    runs = [
        run("release_hotfix", "running", {"production.claim_environment": "up_for_reschedule", "plan": "success"}),
        run("release_feature", "running", {"approve_production": "awaiting_input"}),
        run("rollback", "success", {"rollback.escalate": "deferred"}, environment="uat", reason="INC-9 errors"),
        run("rollback", "success", {"rollback.escalate": "success"}),
    ]
    flying = cockpit.in_flight(runs)
    assert [(r["dag_id"], r["waiting_on"]) for r in flying] == [
        ("release_hotfix", ["production.claim_environment"]),
        ("release_feature", ["approve_production"]),
    ]
    from laravel_release.steps.snapshot import with_escalation_levels

    class Api:  # the escalation task keeps the level it reached as its XCom "escalated"
        def xcom(self, dag_id, run_id, task_id, key):
            return 3 if (run_id, task_id, key) == ("rollback_1", "rollback.escalate", "escalated") else None

    incidents = with_escalation_levels(Api(), cockpit.open_incidents(runs))
    assert incidents == [
        {
            "dag_id": "rollback",
            "run_id": "rollback_1",
            "environment": "uat",
            "reason": "INC-9 errors",
            "since": "t",
            "task": "rollback.escalate",
            "level": 3,
        }
    ]


def test_each_release_type_s_window_says_whether_it_is_open_and_when_it_next_opens():
    windows = {w["release_type"]: w for w in cockpit.next_windows(config.load(), NOW)}
    assert windows["hotfix"] == {
        "release_type": "hotfix",
        "dag_id": "release_hotfix",
        "window": "any time",
        "open": True,
        "closes": None,
        "next": None,
    }
    assert windows["feature"]["open"] and windows["feature"]["closes"] == "2026-12-01T04:00:00+00:00"
    assert not windows["major"]["open"] and windows["major"]["next"] == "2026-12-05T02:00:00+00:00"


@pytest.mark.parametrize(
    ("taken", "stale"), [("2026-12-01T02:56:00+00:00", False), ("2026-12-01T02:40:00+00:00", True)]
)
def test_the_page_says_how_old_the_snapshot_is(taken, stale):
    shown = cockpit.view({"taken_at": taken, "environments": {}}, config.load(), NOW)
    assert shown["snapshot"]["age"] == ("20 min" if stale else "4 min")
    assert shown["snapshot"]["stale"] is stale and shown["snapshot"]["age_seconds"] > 0
    assert [e["environment"] for e in shown["environments"]] == list(config.load().environments)
    assert cockpit.view(None, config.load(), NOW)["snapshot"]["stale"] is True
    assert [cockpit.age_words(s) for s in (42, 7300, 6 * 86400 + 72000)] == ["42 s", "2 h 1 min", "6 d 20 h"]


def test_a_snapshot_without_the_rest_api_s_connection_still_stores_the_hosts_and_says_what_to_create(monkeypatch):
    from airflow.sdk.exceptions import AirflowNotFoundException

    from laravel_release.steps import snapshot

    def missing(conn_id):
        raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")

    stored = {}
    monkeypatch.setattr(snapshot, "hosts_state", lambda env: [host(env.hosts[0].name)])
    monkeypatch.setattr(snapshot, "primary_state", lambda env: {"lock": None, "freeze": None, "errors": []})
    monkeypatch.setattr(snapshot, "api_client", missing)
    monkeypatch.setattr(snapshot.Variable, "set", lambda key, value: stored.update({key: value}))
    snap = snapshot.take_snapshot.function(run_id="scheduled__1")
    assert snap["environments"]["production"]["live"] == "r2" and snap["changes"] == []
    assert snap["errors"] == [
        "the runs could not be read from Airflow's REST API (connection 'airflow_api', reports.api_conn_id): "
        "The conn_id `airflow_api` isn't defined"
    ]
    assert json.loads(stored[cockpit.SNAPSHOT_VARIABLE])["run_id"] == "scheduled__1"


# ── the endpoints ───────────────────────────────────────────────────────────


class User:
    def __init__(self, name: str, role: str) -> None:
        self.name, self.role = name, role

    def get_name(self) -> str:
        return self.name


def may(user, method, dag_id):  # SimpleAuthManager's rule: a viewer reads, a user acts
    return user.role in ("viewer", "user") and (method == "GET" or user.role == "user")


SNAPSHOT = {
    "taken_at": "2026-12-01T02:58:00+00:00",
    "run_id": "scheduled__1",
    "environments": {
        "production": {
            **cockpit.environment_card(production(), [host("production-1")], {"lock": None, "freeze": None}),
            "by": "alice",
            "run_dag": "release_hotfix",
        }
    },
    "changes": [],
    "dora_week": {},
}


@pytest.fixture
def client():
    started = []
    signed = {"user": None}

    def start(dag_id, run_id, conf, user, **how):
        started.append((dag_id, conf, user, how))
        return run_id

    overrides = webapp.app.dependency_overrides
    overrides[webapp.run_starter] = lambda: start
    overrides[webapp.signed_in] = lambda: signed["user"]
    overrides[webapp.permission_check] = lambda: may
    overrides[webapp.stored_snapshot] = lambda: SNAPSHOT
    with TestClient(webapp.app) as c:
        c.started, c.signed = started, signed
        yield c
    overrides.clear()


ROLLBACK = {"environment": "production", "reason": "INC-7 checkout errors", "confirm": "production", "from": "r2"}


def test_nobody_signed_in_gets_no_data_and_starts_nothing(client):
    assert client.get("/api/cockpit").status_code == 401
    assert client.post("/api/actions/rollback", json=ROLLBACK).status_code == 401
    assert client.started == []


def test_a_viewer_sees_the_cockpit_but_cannot_act(client):
    client.signed["user"] = User("vera", "viewer")
    data = client.get("/api/cockpit").json()
    assert data["environments"][2]["live"] == "r2" and data["user"] == {
        "name": "vera",
        "may": {"rollback": False, "freeze": False, "snapshot": False, "release": []},
    }
    page = client.get("/")
    assert page.status_code == 200 and "v1.1.0" in page.text and "alice" in page.text
    assert "Roll back</button>" not in page.text and "Freeze</button>" not in page.text
    assert "Start release</button>" not in page.text
    answer = client.post("/api/actions/rollback", json=ROLLBACK)
    assert answer.status_code == 403 and "vera may see the cockpit but not trigger rollback" in answer.text
    assert client.started == []


def test_a_user_without_a_role_may_not_read_it(client):
    client.signed["user"] = User("nobody", "")
    assert client.get("/api/cockpit").status_code == 403


def test_an_action_starts_the_existing_dag_as_the_signed_in_user(client):
    client.signed["user"] = User("alice", "user")
    page = client.get("/").text
    assert "Roll back</button>" in page and "Start release</button>" in page and "<option>major</option>" in page
    answer = client.post("/api/actions/rollback", json={**ROLLBACK, "target": "r1"})
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    assert answer.json()["link"] == f"/dags/rollback/runs/{run_id}" and run_id.startswith("cockpit__")
    conf = {
        "environment": "production",
        "mode": "code",
        "reason": "INC-7 checkout errors",
        "target": "r1",
        "from": "r2",
    }
    assert client.started == [("rollback", conf, "alice", {"needs": (), "by": "ui"})]
    client.post("/api/actions/freeze", json={"environment": "uat", "reason": "INC-8 payments down"})
    client.post("/api/actions/release", json={"release_type": "hotfix", "version": "v1.2.1", "reason": "CVE fix"})
    client.post("/api/actions/snapshot", json={})
    assert [s[:2] for s in client.started[1:]] == [
        ("deployment_freeze", {"environment": "uat", "action": "freeze", "reason": "INC-8 payments down"}),
        ("release_hotfix", {"version": "v1.2.1", "reason": "CVE fix"}),
        ("release_cockpit", {}),
    ]


@pytest.mark.parametrize(
    ("verb", "body", "words"),
    [
        ("rollback", {**ROLLBACK, "confirm": "prod"}, "to roll production back, type its name (production)"),
        ("rollback", {**ROLLBACK, "environment": "qa"}, "unknown environment 'qa': use one of staging, uat"),
        ("rollback", {**ROLLBACK, "mode": "drop"}, "unknown mode 'drop': use one of code, migrations, restore"),
        ("freeze", {"action": "thaw"}, "unknown freeze action 'thaw'"),
        ("release", {"release_type": "weekly", "version": "v1"}, "unknown release type 'weekly'"),
        ("deploy", {}, "unknown action 'deploy'"),
    ],
)
def test_a_wrong_action_is_refused_with_what_to_change(client, verb, body, words):
    client.signed["user"] = User("alice", "user")
    answer = client.post(f"/api/actions/{verb}", json=body)
    assert answer.status_code == 400 and words in answer.json()["detail"]
    assert client.started == []


def test_an_action_must_be_json_so_another_site_s_form_cannot_post_one(client):
    client.signed["user"] = User("alice", "user")
    answer = client.post("/api/actions/freeze", data={"environment": "production", "reason": "x" * 12})
    assert answer.status_code == 415 and client.started == []


def test_the_plugin_imports_the_web_app_on_its_first_request_only(client):
    """Every Airflow process loads the plugin, each task's included: the web app waits for a request."""
    loaded = "import sys, releases; print('laravel_release.webapp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True).stdout.strip() == "False"
    import releases

    mounted = Starlette(routes=[Mount("/releases", app=releases.ReleasesPlugin.fastapi_apps[0]["app"])])
    with TestClient(mounted) as c:
        assert c.get("/releases/api/cockpit").status_code == 401  # the cockpit's own answer: nobody signed in
        client.signed["user"] = User("vera", "viewer")
        assert c.get("/releases/api/cockpit").json()["user"]["name"] == "vera"
