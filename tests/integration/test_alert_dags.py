"""Alerts after the watch, on the sandbox: an alert judged by the rollback triggers, the latest release
rolled back once through a rollback run, and the daily audit of the live release's advisories.

``dag.test()`` runs one DAG: the run a task starts (TriggerDagRunOperator) is found in the
metadata database and run next with its own conf, as the scheduler would run it.
"""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import app_dir, live_on, releases_live, served_version
from tests.registry import npm_project, npm_registry

pytestmark = pytest.mark.integration

PRODUCTION = ("production-1", "production-2")


def started(dag_id: str, run_id: str) -> dict:
    """The conf of the run a task started (None when it started none)."""
    from airflow.models.dagrun import DagRun

    runs = DagRun.find(dag_id=dag_id, run_id=run_id)
    return runs[0].conf if runs else None


def alert(run_dag, **measured):
    conf = {"environment": "production", "measured": measured, "source": "alertmanager", "summary": "5xx on /api"}
    return run_dag("rollback_on_alert", conf)


def test_two_releases_go_live(sandbox, run_dag):
    releases_live(run_dag, ("v1.0.0", "v1.1.0"), "the releases an alert goes back from")


def test_an_alert_within_the_limits_or_about_another_release_changes_nothing(sandbox, run_dag):
    live = live_on(sandbox)
    within = alert(run_dag, error_rate_percent=4.5, p95_seconds=1.2)
    assert within.state == "success" and within.tasks == {"judge_alert": "skipped", "start_rollback": "skipped"}
    assert "within every rollback trigger's limit (error_rate_percent=4.5, p95_seconds=1.2 (5xx on /api))" in (
        within.log
    )
    stale = run_dag(
        "rollback_on_alert",
        {"environment": "production", "measured": {"error_rate_percent": 30}, "release": "v1.0.0", "source": "x"},
    )
    assert stale.tasks["judge_alert"] == "skipped"
    assert f"the alert is about v1.0.0, but {live} (v1.1.0) is live" in stale.log
    assert live_on(sandbox) == live and not (app_dir(sandbox) / ".deploy/freeze").exists()


def test_an_alert_over_a_limit_rolls_the_latest_release_back_once_as_an_incident(sandbox, run_dag, inbox):
    bad = live_on(sandbox)
    inbox.clear()
    run = alert(run_dag, error_rate_percent=12.5)
    assert run.state == "success" and run.tasks["start_rollback"] == "success", run.failed_tasks()
    conf = started("rollback", f"alert__production__{bad}")
    assert conf == {
        "environment": "production",
        "from": bad,
        "mode": "code",
        "trigger": "error_rate",
        "reason": "error rate over 5%: 12.5% (limit 5%) (alertmanager alert: 5xx on /api)",
    }
    rolled = run_dag("rollback", conf)
    assert rolled.state == "success", rolled.failed_tasks()
    # v1.1.0 only added a column: safe by code, so nobody is asked and the gates are skipped
    assert rolled.tasks["rollback.choose_rollback"] == rolled.tasks["rollback.approve_restore"] == "skipped"
    assert "no person's decision is needed: the switch follows at once" in rolled.log
    assert rolled.tasks["rollback.offer_restore"] == "skipped"  # not a data or database trigger
    assert rolled.tasks["request_post_mortem"] == "success"
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.0.0" for h in PRODUCTION}
    incident = next(m["text"] for m in inbox.slack if m["text"].startswith("*INCIDENT"))
    assert "• What tripped: error rate over 5%: 12.5% (limit 5%) (alertmanager alert: 5xx on /api)" in incident
    # the same alert again (a repeat notification): the live release is not the latest, nothing goes back further
    again = alert(run_dag, error_rate_percent=12.5)
    assert again.tasks["judge_alert"] == "skipped"
    assert f"is not the latest ({bad}, rolled back from): an alert rolls back the latest release once" in again.log
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.0.0" for h in PRODUCTION}


def stored_snapshot() -> dict:
    from laravel_release.webapp import stored_snapshot

    return stored_snapshot()


def test_the_cockpit_s_snapshot_shows_each_host_the_bad_release_and_a_freeze(sandbox, run_dag, monkeypatch):
    # no Airflow API server to read the runs from (port 9: discard): the snapshot says so, the hosts still show
    monkeypatch.setenv(
        "AIRFLOW_CONN_AIRFLOW_API", '{"conn_type": "http", "host": "http://127.0.0.1:9", "password": "x"}'
    )
    live = live_on(sandbox)  # v1.0.0, rolled back to from v1.1.0 (marked bad)
    frozen = run_dag("deployment_freeze", {"environment": "production", "reason": "INC-7 shown on the cockpit"})
    assert frozen.state == "success", frozen.failed_tasks()
    try:
        snap = run_dag("release_cockpit", {})
    finally:
        run_dag("deployment_freeze", {"environment": "production", "action": "clear"})
    assert snap.state == "success", snap.failed_tasks()
    stored = stored_snapshot()
    assert stored["run_id"] == snap.run_id
    card = stored["environments"]["production"]
    assert [h["host"] for h in card["hosts"]] == list(PRODUCTION) and card["consistent"]
    assert card["live"] == live and card["version"] == "v1.0.0" and card["since"] and card["run_id"]
    kept = {r["version"]: r for r in card["kept"]}
    assert kept["v1.1.0"]["bad"] and not kept["v1.0.0"]["bad"] and kept["v1.0.0"]["live_on"] == list(PRODUCTION)
    assert card["freeze"]["reason"] == "INC-7 shown on the cockpit" and card["lock"] is None
    assert stored["environments"]["staging"]["hosts"][0]["current"]
    uat = stored["environments"]["uat"]  # a hotfix skips UAT: nothing was ever released there
    assert uat["hosts"][0]["note"].startswith("nothing released here yet") and uat["errors"] == []
    assert "the runs could not be read from Airflow's REST API" in stored["errors"][0]


def put_into(sandbox, release: str, files: dict[str, str]) -> None:
    """Files a release was built with (its lock files), owned like the release."""
    folder = app_dir(sandbox) / "releases" / release
    owner = folder.stat()
    for name, text in files.items():
        (folder / name).write_text(text)
        os.chown(folder / name, owner.st_uid, owner.st_gid)


def test_the_daily_audit_raises_the_security_trigger_for_an_advisory_only_the_live_release_has(sandbox, run_dag):
    before = live_on(sandbox)  # v1.0.0, the previous good release once v1.2.0 is live
    released = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "the release an advisory is found in"})
    assert released.state == "success", released.failed_tasks()
    live = live_on(sandbox)
    with npm_registry() as registry:
        put_into(sandbox, live, npm_project(registry))
        audit = run_dag("security_audit", {})
        conf = started("rollback_on_alert", f"security_audit__production__{live}")
        assert audit.tasks["production.raise_security_trigger"] == "success", audit.failed_tasks()
        assert audit.tasks["staging.audit_dependencies"] == "skipped"  # nothing known against it
        assert conf["measured"] == {"critical_vulnerabilities": 1} and conf["release"] == live
        assert conf["summary"] == "1 critical finding(s) from npm audit in v1.2.0"
        judged = run_dag("rollback_on_alert", conf)
        assert judged.tasks["start_rollback"] == "success", judged.failed_tasks()
        rollback_conf = started("rollback", f"alert__production__{live}")
        assert rollback_conf["trigger"] == "security"
        reason = rollback_conf["reason"]
        assert "critical security vulnerability: 1 (limit 0) (security_audit alert: 1 critical" in reason
        # the release before has the same advisory: a rollback would remove none, a person is told so
        put_into(sandbox, before, npm_project(registry))
        both = run_dag("security_audit", {})
    assert both.tasks["production.audit_dependencies"] == "failed"
    assert "a rollback removes none. Release the fixed dependencies as a hotfix." in both.log
    assert live_on(sandbox) == live  # the audit itself changes nothing
