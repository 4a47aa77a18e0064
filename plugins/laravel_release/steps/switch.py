"""Go live: measure the release live now, switch ``current`` on every host of an environment at once,
then measure each host again (``steps.judge`` decides what the numbers mean)."""

from __future__ import annotations

from typing import Any

from laravel_release.remote import RemoteScript
from laravel_release.steps.verify import measure_baseline, verify_release


def go_live(hosts: Any) -> tuple[Any, Any, Any]:
    """``measure_baseline`` then ``switch_release`` (never retried: the switch is atomic, a retry would
    hide a fault) then ``verify_release``."""
    baseline = measure_baseline.expand(target=hosts)
    switch = RemoteScript.partial(
        task_id="switch_release", step="switch", retries=0, map_index_template="{{ task.host }}"
    ).expand(target=hosts)
    # measured even when the switch failed on some host (a mixed environment must be judged and rolled
    # back), but not when nothing switched (a failed migration: the old release still serves)
    verify = (
        verify_release.override(trigger_rule="all_done_min_one_success")
        .partial(baselines=baseline)
        .expand(target=hosts)
    )
    baseline >> switch >> verify
    return baseline, switch, verify
