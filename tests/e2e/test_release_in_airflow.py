"""Releases in a running Airflow, triggered and signed off over the REST API as a person's browser would.

The tests run in order on one sandbox, reset at the start: each begins from what the previous one left live.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from airflow_client import client as af

from laravel_release.client import ApiError
from tests.e2e.conftest import PORT
from tests.integration.conftest import ROOT, served_version, sql

pytestmark = pytest.mark.e2e

ALL_HOSTS = ("staging-1", "uat-1", "production-1", "production-2")
PRODUCTION = ("production-1", "production-2")


def wait_for_signoff(api, dag_id, run_id):
    state = api.wait(dag_id, run_id, timeout=600, until=lambda: bool(api.pending_signoffs(dag_id, run_id)))
    assert state not in ("success", "failed"), (
        f"run ended {state} before asking for sign-off: {api.task_states(dag_id, run_id)}"
    )
    return api.pending_signoffs(dag_id, run_id)[0]


def wait_for_task(api, dag_id, run_id, task_id, states, timeout=300):
    api.wait(dag_id, run_id, timeout=timeout, until=lambda: api.task_states(dag_id, run_id).get(task_id) in states)
    return api.task_states(dag_id, run_id)[task_id]


def live_releases(sandbox) -> dict[str, str | None]:
    current = {h: sandbox / "hosts" / h / "app" / "current" for h in PRODUCTION}
    return {h: link.readlink().name if link.is_symlink() else None for h, link in current.items()}


def lock_journal(sandbox, host) -> list[dict]:
    text = (sandbox / "hosts" / host / "app" / ".deploy" / "lock.log").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_two_releases_at_the_same_moment_take_production_one_after_the_other(api, e2e_sandbox):
    api.unpause("release_hotfix")
    conf = {"version": "v1.0.0", "reason": "first release of ZenaManage, twice at once"}
    runs = [api.trigger("release_hotfix", conf), api.trigger("release_hotfix", conf)]
    assert [api.wait("release_hotfix", r, timeout=900) for r in runs] == ["success", "success"]
    for host in ("staging-1", "production-1"):
        journal = [e for e in lock_journal(e2e_sandbox, host) if e["owner"].split("/", 1)[1] in runs]
        # never two owners at once: each take is followed by its owner's release
        assert [e["event"] for e in journal] == ["take", "release", "take", "release"], journal
        assert journal[0]["owner"] == journal[1]["owner"] and journal[2]["owner"] == journal[3]["owner"]
    waited = [
        r
        for r in runs
        if "is locked by release_hotfix/"
        in api.task_log("release_hotfix", r, "staging.claim_environment")
        + api.task_log("release_hotfix", r, "production.claim_environment")
    ]
    assert waited, "one run should have waited for the other's lock"
    live = live_releases(e2e_sandbox)
    assert live["production-1"] == live["production-2"]  # never half-switched
    assert {h: served_version(h) for h in PRODUCTION} == dict.fromkeys(PRODUCTION, "v1.0.0")


def test_a_feature_release_waits_for_an_approver_then_for_its_window(api, login, configure, cockpit, e2e_sandbox):
    before = served_version("production-1")
    api.unpause("release_feature")
    run_id = api.trigger("release_feature", {"version": "v1.1.0"})
    signoff = wait_for_signoff(api, "release_feature", run_id)
    assert signoff.subject == "Release v1.1.0 to production?"
    assert "Version **v1.1.0** is live on UAT" in signoff.body and "uat-1:" in signoff.body
    assert "Add a status to projects" in signoff.body  # the release notes
    # the approvers are admin and alice; admin triggered the release, so only alice is asked
    assert {u.id for u in signoff.assigned_users} == {"alice"}
    page = cockpit.screenshot("during-a-release")
    assert "release_feature" in page and "Release v1.1.0 to production?" in page and "alice" in page

    # the feature window opens at the next minute boundary, one to two minutes from now
    opens = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    window = {"weekdays": [opens.isoweekday()], "start": f"{opens:%H:%M}", "hours": 1}
    configure(lambda data: data["windows"].update(feature=window))

    with pytest.raises(ApiError, match=r"HTTP 403.*mallory.*not a respondent"):
        login("mallory").answer("release_feature", run_id, "approve_production", "Approve")
    with pytest.raises(ApiError, match=r"HTTP 403.*admin.*not a respondent"):  # who triggered it
        api.answer("release_feature", run_id, "approve_production", "Approve")
    login("alice").answer("release_feature", run_id, "approve_production", "Approve", comment="UAT checked")

    assert wait_for_task(api, "release_feature", run_id, "wait_for_window", ("deferred", "success")) == "deferred"
    waiting = api.task_log("release_feature", run_id, "wait_for_window")
    assert "outside the feature release window" in waiting and opens.isoformat() in waiting
    assert served_version("production-1") == before and served_version("uat-1") == "v1.1.0"

    assert api.wait("release_feature", run_id, timeout=600) == "success"
    assert datetime.now(UTC) >= opens
    assert {h: served_version(h) for h in ALL_HOSTS} == dict.fromkeys(ALL_HOSTS, "v1.1.0")
    assert "UAT sign-off: approved by alice: UAT checked" in api.task_log(
        "release_feature", run_id, "approve_production"
    )
    assert "inside the release window" in api.task_log("release_feature", run_id, "wait_for_window")


def test_a_rejected_release_stops_and_says_who_and_why(api, login, e2e_sandbox):
    before = live_releases(e2e_sandbox)
    api.unpause("release_maintenance")
    run_id = api.trigger("release_maintenance", {"version": "v1.2.0"})
    wait_for_signoff(api, "release_maintenance", run_id)
    login("alice").answer("release_maintenance", run_id, "approve_production", "Reject", comment="totals are wrong")
    assert api.wait("release_maintenance", run_id, timeout=300) == "failed"
    states = api.task_states("release_maintenance", run_id)
    assert states["approve_production"] == "failed"
    log = api.task_log("release_maintenance", run_id, "approve_production")
    assert (
        "UAT sign-off: rejected by alice: totals are wrong. The release stops here; production was not touched." in log
    )
    ran = {t.split("[")[0].split(".")[1] for t, s in states.items() if t.startswith("production.") and s == "success"}
    assert ran <= {"plan_hosts", "upload_release"}  # the build arrived; nothing went live
    assert live_releases(e2e_sandbox) == before


def signoff_marked_success_by_hand(api) -> dict[str, str]:
    """A maintenance release whose approve_production is marked success ("Mark success" in the UI) while it
    waits for an answer: the release stops at uat_signed_off, and production is never reached."""
    run_id = api.trigger("release_maintenance", {"version": "v1.2.0"})
    wait_for_signoff(api, "release_maintenance", run_id)
    body = af.PatchTaskInstanceBody(new_state="success", note="looks fine to me")
    api._call(
        "mark approve_production success",
        lambda c: af.TaskInstanceApi(c).patch_task_instance("release_maintenance", run_id, "approve_production", body),
    )
    assert api.wait("release_maintenance", run_id, timeout=600) == "failed"
    states = api.task_states("release_maintenance", run_id)
    assert states["approve_production"] == "success" and states["uat_signed_off"] == "failed"
    assert states["wait_for_window"] == "upstream_failed"
    assert "A sign-off task marked success by hand does not sign off a release" in api.task_log(
        "release_maintenance", run_id, "uat_signed_off"
    )
    return states


def test_a_signoff_marked_success_by_hand_does_not_let_the_release_through(api, e2e_sandbox):
    before = live_releases(e2e_sandbox)
    signoff_marked_success_by_hand(api)
    assert live_releases(e2e_sandbox) == before


def test_an_unanswered_signoff_expires_and_counts_as_rejected(api, configure, e2e_sandbox):
    before = live_releases(e2e_sandbox)
    configure(lambda data: data["environments"]["uat"]["signoff"].update(timeout_hours=0.005))  # 18 s
    run_id = api.trigger("release_maintenance", {"version": "v1.2.0"})
    wait_for_signoff(api, "release_maintenance", run_id)
    assert api.wait("release_maintenance", run_id, timeout=300) == "failed"
    log = api.task_log("release_maintenance", run_id, "approve_production")
    assert "no answer within 0.005 h: the sign-off request expired and counts as rejected" in log
    assert live_releases(e2e_sandbox) == before


def test_an_approval_service_may_sign_off_instead(api, approval_service, e2e_sandbox):
    run_id = api.trigger("release_maintenance", {"version": "v1.2.0"})
    wait_for_signoff(api, "release_maintenance", run_id)
    assert wait_for_task(api, "release_maintenance", run_id, "external_signoff", ("up_for_reschedule",)) == (
        "up_for_reschedule"  # asked, no decision yet, holding no worker slot
    )
    assert approval_service.asked[-1] == {"release_type": "maintenance", "version": "v1.2.0", "run_id": run_id}
    # (asked with the credentials of its Airflow connection: the stand-in answers 401 to anything else)
    approval_service.decisions["v1.2.0"] = {"status": "approved", "by": "carol (CAB)", "comment": "CAB-118"}
    assert api.wait("release_maintenance", run_id, timeout=600) == "success"
    states = api.task_states("release_maintenance", run_id)
    assert states["approve_production"] == "skipped" and states["external_signoff"] == "success"
    assert "approved by carol (CAB): CAB-118" in api.task_log("release_maintenance", run_id, "external_signoff")
    assert "approved by carol (CAB): CAB-118 (approval service)" in api.task_log(
        "release_maintenance", run_id, "uat_signed_off"
    )
    assert not api.pending_signoffs("release_maintenance", run_id)
    assert {h: served_version(h) for h in PRODUCTION} == dict.fromkeys(PRODUCTION, "v1.2.0")


def test_a_rejection_from_the_approval_service_stops_the_release(api, approval_service, e2e_sandbox):
    before = live_releases(e2e_sandbox)
    approval_service.decisions["v1.2.0"] = {"status": "rejected", "by": "dave", "comment": "freeze week"}
    api.unpause("release_major")
    run_id = api.trigger("release_major", {"version": "v1.2.0"})
    assert api.wait("release_major", run_id, timeout=600) == "failed"
    states = api.task_states("release_major", run_id)
    assert states["external_signoff"] == "failed" and states["approve_production"] == "skipped"
    assert "rejected by dave: freeze week (approval service)" in api.task_log(
        "release_major", run_id, "external_signoff"
    )
    assert live_releases(e2e_sandbox) == before


def test_a_frozen_production_holds_a_release_until_the_freeze_is_cleared(api, login, cockpit, e2e_sandbox):
    api.unpause("deployment_freeze")
    freeze = api.trigger(
        "deployment_freeze", {"environment": "production", "action": "freeze", "reason": "INC-42 checkout errors"}
    )
    assert api.wait("deployment_freeze", freeze, timeout=120) == "success"
    before = live_releases(e2e_sandbox)
    run_id = api.trigger("release_maintenance", {"version": "v1.2.0"})
    wait_for_signoff(api, "release_maintenance", run_id)
    login("alice").answer("release_maintenance", run_id, "approve_production", "Approve")
    claim = "production.claim_environment"
    assert (
        wait_for_task(api, "release_maintenance", run_id, claim, ("up_for_reschedule", "success"))
        == "up_for_reschedule"
    )
    log = api.task_log("release_maintenance", run_id, claim)
    assert "production is FROZEN" in log and "INC-42 checkout errors" in log
    assert live_releases(e2e_sandbox) == before
    page = cockpit.screenshot("with-a-freeze")
    assert "frozen by admin" in page and "INC-42 checkout errors" in page and "Clear the freeze" in page

    clear = api.trigger("deployment_freeze", {"environment": "production", "action": "clear"})
    assert api.wait("deployment_freeze", clear, timeout=120) == "success"
    assert api.wait("release_maintenance", run_id, timeout=600) == "success"
    assert live_releases(e2e_sandbox) != before


def hotfix_being_watched(api, configure, sandbox, **production) -> tuple[dict, str, str]:
    """A hotfix of v1.2.0 live in production and watched for a minute: (what was live before, run id, watch)."""

    def watch_a_minute(data):
        data["environments"]["production"].update(watch_minutes=1, **production)

    configure(watch_a_minute)
    before = live_releases(sandbox)
    run_id = api.trigger("release_hotfix", {"version": "v1.2.0", "reason": "rebuild with the patched base image"})
    watch = "production.watch_release"
    # the watch frees its worker slot between checks
    assert wait_for_task(api, "release_hotfix", run_id, watch, ("up_for_reschedule", "success", "failed")) == (
        "up_for_reschedule"
    )
    assert live_releases(sandbox) != before  # the new release is live and being watched
    return before, run_id, watch


def test_a_trigger_that_trips_while_production_is_watched_rolls_it_back(api, configure, e2e_sandbox):
    before, run_id, watch = hotfix_being_watched(api, configure, e2e_sandbox)
    app = e2e_sandbox / "hosts" / "production-1" / "app"
    alarm = [str(app / ".deploy/bin/alarm.sh"), "--deploy-path", str(app)]
    raised = subprocess.run(
        [
            "runuser",
            "-u",
            "deploy",
            "--",
            *alarm,
            "--raise",
            "--reason",
            "CVE-2026-4242 found after release",
            "--by",
            "scanner",
        ],
        capture_output=True,
        text=True,
    )
    assert raised.returncode == 0, raised.stderr
    try:
        assert api.wait("release_hotfix", run_id, timeout=300) == "failed"
    finally:
        subprocess.run(["runuser", "-u", "deploy", "--", *alarm, "--clear", "--by", "scanner"], check=True)
    states = api.task_states("release_hotfix", run_id)
    assert states["production.rollback.record_rollback"] == "failed" and states["finish_release"] != "success"
    assert "critical security vulnerability: 1 (limit 0)" in api.task_log("release_hotfix", run_id, watch)
    assert "ROLLED BACK production" in api.task_log("release_hotfix", run_id, "production.rollback.record_rollback")
    assert live_releases(e2e_sandbox) == before  # back on the release that was live before
    assert {h: served_version(h) for h in PRODUCTION} == dict.fromkeys(PRODUCTION, "v1.2.0")


def test_a_database_stopped_during_the_watch_rolls_the_code_back_and_only_offers_a_restore(
    api, login, configure, e2e_sandbox
):
    approvers = {"approvers": ["admin", "alice"]}
    before, run_id, watch = hotfix_being_watched(api, configure, e2e_sandbox, signoff=approvers)
    bad = live_releases(e2e_sandbox)["production-1"]
    sql(
        e2e_sandbox, "INSERT INTO zena_production.projects (name, created_at, updated_at) VALUES ('Live', NOW(), NOW())"
    )
    rows = sql(e2e_sandbox, "SELECT COUNT(*) FROM zena_production.projects")
    socket = e2e_sandbox / "mariadb" / "run" / "mariadb.sock"
    subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={socket}", "-uroot", "shutdown"], check=True)
    try:  # a blip: the database is back once the watch has seen it gone
        wait_for_task(api, "release_hotfix", run_id, watch, ("success", "failed"), timeout=120)
    finally:
        subprocess.run([str(ROOT / "include/sandbox/target.sh"), "start"], check=True, capture_output=True)
    assert api.wait("release_hotfix", run_id, timeout=300) == "failed"
    states = api.task_states("release_hotfix", run_id)
    assert "database connectivity failures" in api.task_log("release_hotfix", run_id, "production.watch_release")
    decided = api.task_log("release_hotfix", run_id, "production.rollback.decide_rollback")
    assert f"ROLLBACK of production: {bad} -> {before['production-1']}" in decided and "mode code" in decided
    assert states["production.rollback.record_rollback"] == "failed"  # rolled back: the run fails
    assert live_releases(e2e_sandbox) == before
    # no restore: every row written while the release was live is still there
    assert sql(e2e_sandbox, "SELECT COUNT(*) FROM zena_production.projects") == rows
    assert not (e2e_sandbox / "hosts/production-1/app/.deploy/restores.log").exists()

    # ... but one is offered: a rollback run waits for production's approvers, the rows it would lose shown
    assert states["production.rollback.offer_restore"] == "success"
    offer = f"restore_offer__{run_id}"
    gate = "rollback.approve_restore"
    wait_for_task(api, "rollback", offer, gate, ("awaiting_input", "failed", "success"))
    (form,) = api.pending_signoffs("rollback", offer)
    assert f"backup taken before {bad}" in form.subject and "Rows written since the backup" in form.body
    assert "the code is back on" in form.body  # this run restores the database only
    with pytest.raises(ApiError, match=r"HTTP 403.*mallory.*not a respondent"):
        login("mallory").answer("rollback", offer, gate, "Approve", inputs={"confirm": f"restore production {bad}"})
    login("alice").answer("rollback", offer, gate, "Reject", comment="the data is fine")
    assert api.wait("rollback", offer, timeout=300) == "failed"
    assert "rejected by alice: the data is fine. Nothing was restored" in api.task_log("rollback", offer, gate)
    assert sql(e2e_sandbox, "SELECT COUNT(*) FROM zena_production.projects") == rows
    assert not (e2e_sandbox / "hosts/production-1/app/.deploy/freeze").exists()


def test_the_rest_api_refuses_a_malformed_version_before_any_task_runs(api):
    with pytest.raises(ApiError, match=r"HTTP 400.*version") as err:
        api.trigger("release_major", {"version": "2.0"})
    assert "does not match" in str(err.value)


def test_the_rest_api_refuses_a_hotfix_without_a_reason(api):
    with pytest.raises(ApiError, match=r"HTTP 400.*reason"):
        api.trigger("release_hotfix", {"version": "v1.2.0"})


def test_the_rest_api_refuses_a_window_override_without_a_reason(api):
    with pytest.raises(ApiError, match=r"HTTP 400.*window_override"):
        api.trigger("release_feature", {"version": "v1.2.0", "window_override": "now"})


def post_alert(body: dict, token: str | None) -> tuple[int, dict]:
    """A monitor's webhook call to the Releases plugin, in Airflow's API server."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/releases/api/alerts", data=json.dumps(body).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_a_monitor_s_alert_after_the_watch_rolls_the_latest_release_back(api, cockpit, e2e_sandbox):
    before = live_releases(e2e_sandbox)
    run_id = api.trigger("release_hotfix", {"version": "v1.2.0", "reason": "the release a monitor finds failing"})
    assert api.wait("release_hotfix", run_id, timeout=600) == "success"
    bad = live_releases(e2e_sandbox)["production-1"]
    for dag_id in ("rollback_on_alert", "rollback"):
        api.unpause(dag_id)
    firing = {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "environment": "production", "rollback_trigger": "error_rate"},
        "annotations": {"summary": "5xx over 5%", "value": "12.5"},
    }
    body = {"version": "4", "status": "firing", "alerts": [firing]}
    assert post_alert(body, None)[0] == 401
    assert post_alert(body, "wrong")[0] == 401
    token = json.loads(os.environ["AIRFLOW_CONN_RELEASE_ALERTS"])["password"]
    status, answer = post_alert(body, token)
    assert status == 202, answer
    (judging,) = answer["runs"]
    assert judging["environment"] == "production" and judging["measured"] == {"error_rate_percent": 12.5}
    assert api.wait("rollback_on_alert", judging["run_id"], timeout=300) == "success"
    assert api.task_states("rollback_on_alert", judging["run_id"])["start_rollback"] == "success"
    rollback_run = f"alert__production__{bad}"
    assert api.wait("rollback", rollback_run, timeout=300) == "success"
    decided = api.task_log("rollback", rollback_run, "rollback.decide_rollback")
    assert "why: error rate over 5%: 12.5% (limit 5%) (alertmanager alert: 5xx over 5%)" in decided
    assert live_releases(e2e_sandbox) == before
    page = cockpit.screenshot("after-a-rollback")
    card = next(c for c in cockpit.call("GET", "/api/cockpit")[1]["environments"] if c["environment"] == "production")
    assert card["live"] == before["production-1"] and {"release": bad, "version": "v1.2.0", "bad": True} in [
        {k: r[k] for k in ("release", "version", "bad")} for r in card["kept"]
    ]
    assert "rolled_back" in page or "rollback" in page
