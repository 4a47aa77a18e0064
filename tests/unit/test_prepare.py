"""A run without a version: scheduled at a window's opening it reports and ends; by hand it is refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from laravel_release import policy
from laravel_release.steps import prepare

FEATURE = policy.release_type("feature")


class FakeTI:
    """The two questions the scheduled run asks Airflow: task states across runs, and each run's plan."""

    run_id = "scheduled__2026-12-01T02:00:00+00:00"

    def __init__(self, runs: dict[str, tuple[str, str, str]]):
        self.runs = runs  # run_id -> (wait_for_window state, dag run state, version)

    def get_task_states(self, dag_id, task_ids):
        return {run_id: {"wait_for_window": state} for run_id, (state, _, _) in self.runs.items()}

    def get_dagrun_state(self, dag_id, run_id):
        return self.runs[run_id][1]

    def xcom_pull(self, task_ids, dag_id, run_id):
        return {"version": self.runs[run_id][2]}


def context(run_type: str, ti: FakeTI) -> dict:
    return {"dag_run": SimpleNamespace(run_type=run_type), "ti": ti}


def test_a_run_by_hand_without_a_version_is_refused():
    with pytest.raises(prepare.RequestError, match="version is required"):
        prepare.scheduled_run(FEATURE, context("manual", FakeTI({})))


def test_a_window_with_nothing_waiting_ends_cleanly_saying_so():
    ti = FakeTI({"manual__a": ("success", "success", "v1.1.0"), "manual__b": (None, "running", "v1.2.0")})
    with pytest.raises(AirflowSkipException, match="no feature release passed UAT and waits for production"):
        prepare.scheduled_run(FEATURE, context("scheduled", ti))


def test_the_newest_waiting_release_goes_live_and_older_ones_are_superseded():
    ti = FakeTI(
        {
            "manual__a": ("deferred", "running", "v1.3.0"),
            "manual__b": ("deferred", "running", "v1.10.0"),
            "manual__c": ("deferred", "failed", "v2.0.0"),  # a run that ended is not waiting
        }
    )
    with pytest.raises(AirflowSkipException) as said:
        prepare.scheduled_run(FEATURE, context("scheduled", ti))
    assert "v1.10.0 (run manual__b) passed UAT and goes live now in its own run; superseded: v1.3.0" in str(said.value)


@pytest.mark.parametrize(
    ("older", "newer"),
    [("v1.9.0", "v1.10.0"), ("v2.0.0-rc.1", "v2.0.0"), ("v1.2.3", "v2.0.0"), ("not-a-version", "v0.0.1")],
)
def test_versions_are_ordered_as_numbers(older, newer):
    assert policy.version_key(older) < policy.version_key(newer)
