"""steps/judge.py: how the watch ends, taking one way."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import DownstreamTasksSkipped

from laravel_release.steps.judge import take_one_way


class FakeTI:
    def __init__(self, task_id: str):
        self.task_id = task_id
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


@pytest.mark.parametrize(
    "task_id, skip, skipped",
    [
        ("production.watch_release", ["release_verified"], ["production.release_verified"]),
        ("staging.watch_release", ["rollback.decide_rollback"], ["staging.rollback.decide_rollback"]),
        ("decide", ["choose_rollback"], ["choose_rollback"]),  # a task outside any group
    ],
)
def test_taking_one_way_pushes_the_value_and_skips_the_other_way_within_the_group(task_id, skip, skipped):
    ti = FakeTI(task_id)
    verdict = {"environment": "production", "healthy": False}
    with pytest.raises(DownstreamTasksSkipped) as raised:
        take_one_way({"ti": ti}, verdict, skip=skip)
    assert raised.value.tasks == skipped
    assert ti.pushed["return_value"] == verdict  # what release_verified or decide_rollback read
    assert ti.pushed["skipmixin_key"] == {"skipped": skipped}  # a cleared task there is skipped again
