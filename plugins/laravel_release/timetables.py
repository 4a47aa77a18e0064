"""When scheduled release runs fire: at the opening of their release type's window.

Airflow's own ``CronTriggerTimetable`` does the scheduling; the cron expression
comes from the policy's window (UTC), so the schedule and the window guard
(``gates.WaitForWindow``) read the same data. A type without a window (hotfix)
has no schedule.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable

from laravel_release.policy import ReleaseType


def release_schedule(rtype: ReleaseType) -> CronTriggerTimetable | None:
    if rtype.window is None:
        return None
    return CronTriggerTimetable(rtype.window.cron, timezone="UTC")
