"""Go live: switch ``current`` on every host of an environment at once, then verify each host.

The release DAGs and the rollback DAG both go live through ``go_live``.
"""

from __future__ import annotations

from typing import Any

from laravel_release.remote import RemoteScript
from laravel_release.steps.verify import verify_release


def go_live(hosts: Any) -> tuple[Any, Any]:
    """``switch_release`` (never retried: the switch is atomic, a retry would hide a fault) then ``verify_release``."""
    switch = RemoteScript.partial(
        task_id="switch_release", step="switch", retries=0, map_index_template="{{ task.host }}"
    ).expand(target=hosts)
    verify = verify_release.expand(target=hosts)
    switch >> verify
    return switch, verify
