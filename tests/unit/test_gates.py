"""The decisions of the gates, as pure functions: window, freeze, lock, sign-off."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from laravel_release import config, gates, hooks, policy

FEATURE = policy.release_type("feature")
HOTFIX = policy.release_type("hotfix")
TUESDAY_0230 = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
MONDAY_1200 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_inside_the_window_production_goes():
    assert gates.window_decision(FEATURE.window, TUESDAY_0230, None) == ("go", None)


def test_outside_the_window_production_waits_for_the_next_opening():
    assert gates.window_decision(FEATURE.window, MONDAY_1200, None) == (
        "wait",
        datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
    )


def test_an_override_with_a_reason_goes_now_and_a_hotfix_never_waits():
    assert gates.window_decision(FEATURE.window, MONDAY_1200, "INC-7: payments broken")[0] == "override"
    assert gates.window_decision(None, MONDAY_1200, None) == ("go", None)


FREEZE = {"since": "2026-11-25T10:00:00Z", "by": "alice", "reason": "INC-42"}


@pytest.mark.parametrize(
    ("freeze", "rtype", "reason", "decision"),
    [
        (None, FEATURE, None, "go"),
        (FREEZE, FEATURE, None, "wait"),
        (FREEZE, FEATURE, "a reason does not help a feature", "wait"),
        (FREEZE, HOTFIX, "CVE-2026-1234 in the login form", "pass"),
        (FREEZE, HOTFIX, None, "wait"),
    ],
)
def test_only_a_hotfix_with_a_reason_passes_a_freeze(freeze, rtype, reason, decision):
    assert gates.freeze_decision(freeze, rtype, reason) == decision


@pytest.mark.parametrize(
    ("code", "owner_state", "decision"),
    [
        (0, None, "taken"),
        (6, "running", "wait"),
        (6, "queued", "wait"),
        (6, "failed", "stale"),  # its worker was killed and the run ended
        (6, "success", "stale"),
        (6, None, "stale"),  # the owner run no longer exists
        (6, "DagRunState.RUNNING", "wait"),  # anything unexpected: never taken from a run that may be live
        (6, "up_for_retry", "wait"),
    ],
)
def test_a_lock_is_only_cleared_when_its_owner_run_is_over(code, owner_state, decision):
    assert gates.lock_decision(code, owner_state) == decision


def answer(option: str | None, who: str | None = "alice", comment: str = "", timedout: bool = False) -> dict:
    return {
        "chosen_options": [option] if option else [],
        "params_input": {"comment": comment},
        "responded_by_user": {"id": who, "name": who} if who else None,
        "timedout": timedout,
    }


def test_signoff_verdicts_say_who_and_why():
    assert gates.signoff_verdict(answer("Approve", comment="UAT ok"), 72) == (True, "approved by alice: UAT ok")
    assert gates.signoff_verdict(answer("Reject", "bob", "totals wrong"), 72) == (
        False,
        "rejected by bob: totals wrong",
    )
    assert gates.signoff_verdict(answer("Reject", "bob"), 72) == (False, "rejected by bob: no reason given")


def test_an_expired_signoff_counts_as_rejected():
    ok, said = gates.signoff_verdict(answer("Reject", who=None, timedout=True), 72)
    assert not ok and said.startswith("no answer within 72 h")
    ok, said = gates.signoff_verdict({"error": "timeout", "error_type": "timeout"}, 0.5)
    assert not ok and "0.5 h" in said


ECHO = {"version": "v1.4.0", "run_id": "manual__1"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": "approved", "by": "carol (CAB)", **ECHO}, "approved"),
        ({"status": "rejected", "by": "dave", "comment": "not this week", **ECHO}, "rejected"),
        ({"status": "pending"}, "pending"),
        ({"status": "maybe"}, "pending"),
        ("<html>", "pending"),
        # a decision that does not name this version and run is not one
        ({"status": "approved", "by": "carol"}, "pending"),
        ({"status": "approved", "by": "carol", "version": "v1.4.0", "run_id": "manual__0"}, "pending"),
        ({"status": "rejected", "by": "dave", "version": "v1.3.0", "run_id": "manual__1"}, "pending"),
    ],
)
def test_the_approval_service_answers(body, status):
    assert gates.external_verdict(body, "v1.4.0", "manual__1")[0] == status


def test_a_decision_for_another_run_says_so():
    said = gates.external_verdict({"status": "approved", "version": "v1.3.0", "run_id": "x"}, "v1.4.0", "manual__1")[1]
    assert (
        said
        == "a decision for version 'v1.3.0', run 'x', not for v1.4.0, run manual__1: it counts only when it names both"
    )


UAT = config.load(config.DEFAULT_CONFIG).environment("uat")
TWO = dataclasses.replace(UAT, approvers=("alice", "bob"))


def test_whoever_triggered_a_release_is_not_asked_to_approve_it():
    assert gates.may_approve(TWO, "alice") == ["bob"]
    assert gates.may_approve(TWO, "carol") == ["alice", "bob"]
    assert gates.may_approve(TWO, "") == ["alice", "bob"]  # scheduled, or dag.test
    assert gates.may_approve(dataclasses.replace(TWO, allow_self_approval=True), "alice") == ["alice", "bob"]


def approval(by: str) -> dict:
    return {"chosen_options": ["Approve"], "responded_by_user": {"id": by, "name": by}, "params_input": {}}


@pytest.mark.parametrize(
    ("answer", "service", "triggered_by", "ok", "words"),
    [
        (approval("bob"), None, "alice", True, "approved by bob in Airflow"),
        (approval("alice"), None, "alice", False, "answered by alice, who may not approve it"),
        (approval("mallory"), None, "alice", False, "answered by mallory, who may not approve it"),
        ({"chosen_options": ["Reject"]}, None, "alice", False, "no approval of v1.4.0 is recorded"),
        # "Mark success" on a gate: the task succeeded, and nothing was recorded
        (None, None, "alice", False, "A sign-off task marked success by hand does not sign off a release"),
        (None, {"status": "approved", "decision": "approved by carol", **ECHO}, "alice", True, "(approval service)"),
        (None, {"status": "approved", "version": "v1.4.0", "run_id": "manual__0"}, "alice", False, "run manual__0"),
    ],
)
def test_production_goes_only_on_a_recorded_approval(answer, service, triggered_by, ok, words):
    verdict = gates.signed_off(answer, service, TWO, triggered_by, "v1.4.0", "manual__1")
    assert verdict[0] is ok and words in verdict[1]


def test_the_approval_service_answer_says_who():
    assert gates.external_verdict({"status": "rejected", "by": "dave", "comment": "not this week", **ECHO}, **ECHO)[
        1
    ] == ("rejected by dave: not this week")


def test_states_are_compared_by_their_names_whatever_type_they_come_as():
    from airflow.sdk.api.datamodels._generated import DagRunState, TaskInstanceState

    assert gates._name(DagRunState.RUNNING) == "running"
    assert gates._name(TaskInstanceState.DEFERRED) == "deferred"
    assert gates._name("success") == "success" and gates._name(None) is None


def test_the_signoff_request_shows_the_uat_measurements():
    from laravel_release.gates import write_signoff_request

    uat = [{"host": "uat-1", "version": "v1.2.0", "requests": 812, "error_rate_percent": 0.0, "p95_seconds": 0.0174}]
    text = write_signoff_request.function({"version": "v1.2.0", "since": "v1.1.0"}, "## v1.2.0\n- change", uat)
    assert "Version **v1.2.0** is live on UAT" in text and "Production runs **v1.1.0**" in text
    assert (
        "- uat-1: serves v1.2.0, health, version and smoke tests passed; 812 probe requests, 0% errors, p95 17 ms"
        in text
    )


def test_the_approval_service_is_asked_over_https_unless_its_connection_says_otherwise(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_APPROVALS_A", '{"conn_type": "http", "host": "approvals.test", "login": "r"}')
    monkeypatch.setenv("AIRFLOW_CONN_APPROVALS_B", '{"conn_type": "http", "host": "127.0.0.1", "schema": "http"}')
    monkeypatch.setenv("AIRFLOW_CONN_APPROVALS_C", '{"conn_type": "http", "host": "http://approvals.test"}')
    urls = [
        hooks.ApprovalServiceHook(method="GET", http_conn_id=f"approvals_{x}").url_from_endpoint("/api") for x in "abc"
    ]
    assert urls == ["https://approvals.test/api", "http://127.0.0.1/api", "http://approvals.test/api"]
