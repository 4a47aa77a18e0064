"""Releases in a running Airflow, triggered and signed off over the REST API as a person's browser would."""

from __future__ import annotations

import pytest

from laravel_release.client import ApiError
from tests.integration.conftest import served_version

pytestmark = pytest.mark.e2e

ALL_HOSTS = ("staging-1", "uat-1", "production-1", "production-2")


def wait_for_signoff(api, dag_id, run_id):
    state = api.wait(dag_id, run_id, timeout=600, until=lambda: bool(api.pending_signoffs(dag_id, run_id)))
    assert state not in ("success", "failed"), (
        f"run ended {state} before asking for sign-off: {api.task_states(dag_id, run_id)}"
    )
    return api.pending_signoffs(dag_id, run_id)[0]


def test_a_feature_release_waits_for_signoff_then_reaches_production(api):
    before = served_version("production-1")
    api.unpause("release_feature")
    run_id = api.trigger("release_feature", {"version": "v1.2.0"})
    signoff = wait_for_signoff(api, "release_feature", run_id)
    assert signoff.subject == "Release v1.2.0 to production?"
    assert "Version **v1.2.0** is live on UAT" in signoff.body and "uat-1:" in signoff.body
    assert "Welcome visitors on the home page" in signoff.body  # release notes
    assert (served_version("uat-1"), served_version("production-1")) == ("v1.2.0", before)

    api.answer("release_feature", run_id, "approve_production", "Approve")
    assert api.wait("release_feature", run_id, timeout=600) == "success"
    assert {h: served_version(h) for h in ALL_HOSTS} == dict.fromkeys(ALL_HOSTS, "v1.2.0")


def test_a_rejected_release_stops_with_production_untouched(api):
    before = {h: served_version(h) for h in ("production-1", "production-2")}
    api.unpause("release_maintenance")
    run_id = api.trigger("release_maintenance", {"version": "v1.1.0"})
    wait_for_signoff(api, "release_maintenance", run_id)
    api.answer("release_maintenance", run_id, "approve_production", "Reject")
    assert api.wait("release_maintenance", run_id, timeout=300) == "failed"
    states = api.task_states("release_maintenance", run_id)
    assert states["approve_production"] == "failed"
    ran = {t.split("[")[0].split(".")[1] for t, s in states.items() if t.startswith("production.") and s == "success"}
    assert ran <= {"plan_hosts", "upload_release"}  # the build arrived; nothing went live
    assert {h: served_version(h) for h in before} == before


def test_the_rest_api_refuses_a_malformed_version_before_any_task_runs(api):
    with pytest.raises(ApiError, match=r"HTTP 400.*version") as err:
        api.trigger("release_major", {"version": "2.0"})
    assert "does not match" in str(err.value)


def test_the_rest_api_refuses_a_hotfix_without_a_reason(api):
    with pytest.raises(ApiError, match=r"HTTP 400.*reason"):
        api.trigger("release_hotfix", {"version": "v1.2.0"})
