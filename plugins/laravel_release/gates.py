"""Gates between environments: the UAT sign-off before production."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import task

from laravel_release.policy import ReleaseType


@task
def write_signoff_request(plan: dict[str, Any], notes: str, uat_results: Iterable[dict[str, Any]]) -> str:
    """What the approver reads: the version, what it replaces, the release notes, the UAT results."""
    checks = "\n".join(
        f"- {r['host']}: {r['checks']} checks passed (slowest {r['slowest_ms']} ms)" for r in uat_results
    )
    return (
        f"Version **{plan['version']}** is live on UAT and passed its checks. Production runs "
        f"**{plan['since'] or 'nothing yet'}**.\n\n"
        "Approve to release it to production; Reject stops the release and production is not touched.\n\n"
        f"{notes}\n**UAT results**\n\n{checks}\n"
    )


def uat_signoff(rtype: ReleaseType, plan: Any, notes: Any, uat_verified: Any) -> ApprovalOperator:
    """A person approves in the UI (Required Actions) before production. No answer in time counts as Reject."""
    return ApprovalOperator(
        task_id="approve_production",
        subject="Release {{ params.version }} to production?",
        body=write_signoff_request(plan, notes, uat_verified),
        defaults="Reject",
        response_timeout=timedelta(hours=rtype.signoff_timeout_hours),
        fail_on_reject=True,  # a rejected release is a stopped change: the run ends failed
    )
