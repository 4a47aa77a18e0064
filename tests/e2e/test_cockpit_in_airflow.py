"""The Releases cockpit in a real Airflow: behind Airflow's login and permissions, a viewer sees and cannot
act, and an action is a run of the existing DAG, started as the signed-in user.

Runs first of the e2e modules (nothing is deployed yet): what it changes is a snapshot.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_the_cockpit_needs_a_login_and_a_viewer_sees_it_but_cannot_act(cockpit, login):
    assert cockpit.call("GET", "/api/cockpit", token="")[0] == 401
    status, location = cockpit.call("GET", "/", token="")
    assert status == 303 and "login" in location  # the page sends a browser to Airflow's login

    vera = login("vera").token
    status, data = cockpit.call("GET", "/api/cockpit", token=vera)
    assert status == 200 and data["user"] == {
        "name": "vera",
        "may": {"rollback": False, "freeze": False, "snapshot": False, "release": []},
    }
    freeze = {"environment": "production", "reason": "a viewer tries to freeze"}
    status, refused = cockpit.call("POST", "/api/actions/freeze", freeze, token=vera)
    assert status == 403 and "vera may see the cockpit but not trigger deployment_freeze" in refused["detail"]
    assert cockpit.api.dag_runs("deployment_freeze") == []


def test_an_action_starts_a_run_of_the_existing_dag_and_the_snapshot_shows_every_host(cockpit):
    data = cockpit.refresh()
    cards = {c["environment"]: c for c in data["environments"]}
    assert [h["host"] for h in cards["production"]["hosts"]] == ["production-1", "production-2"]
    assert all(not h.get("error") for c in cards.values() for h in c["hosts"]), cards
    assert cards["production"]["live"] == "" and cards["production"]["lock"] is None  # nothing deployed yet
    assert data["errors"] == [] and data["snapshot"]["stale"] is False
    # the DAG's own schema checks an action's values: a rollback without its reason is refused
    cockpit.api.unpause("rollback")
    bare = {"environment": "production", "confirm": "production"}
    status, refused = cockpit.call("POST", "/api/actions/rollback", bare)
    assert status == 400 and "rollback refused the run" in refused["detail"], refused


def test_the_cockpit_is_in_airflow_s_navigation(cockpit):
    page = cockpit.screenshot("in-airflow-navigation", in_airflow=True)
    assert "signed in as admin" in page and "production-1" in page
