"""Go live: measure the release live now, switch ``current`` on every host of an environment at once,
then measure each host again (``steps.judge`` decides what the numbers mean).

The release DAGs go live through ``go_live``; the rollback task group switches back with rollback.sh.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator

from laravel_release.remote import RemoteScript
from laravel_release.steps.verify import measure_baseline, verify_release


def go_live(hosts: Any) -> tuple[Any, Any, Any]:
    """``measure_baseline`` ─> ``switch_release`` ─> ``switched`` ─> ``verify_release``.

    The switch is never retried (it is atomic; a retry would hide a fault). ``switched`` lets
    the hosts be measured (and judged, and rolled back) when the switch failed on some of
    them, a mixed environment, but not when none switched: the old release still serves.
    """
    baseline = measure_baseline.expand(target=hosts)
    switch = RemoteScript.partial(
        task_id="switch_release", step="switch", retries=0, map_index_template="{{ task.host }}"
    ).expand(target=hosts)
    switched = EmptyOperator(task_id="switched", trigger_rule="all_done_min_one_success")
    verify = verify_release.partial(baselines=baseline).expand(target=hosts)
    baseline >> switch >> switched >> verify
    return baseline, switch, verify
