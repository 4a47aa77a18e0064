"""Gates between environments: the UAT sign-off before production."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.hitl import ApprovalOperator

from laravel_release.policy import ReleaseType

SIGNOFF_BODY = """\
Version **{{ params.version }}** is live on UAT and passed its checks.
Approve to release it to production; reject to stop the release (production is not touched).

{{ ti.xcom_pull(task_ids='write_release_notes') }}

**UAT checks**
{% for r in ti.xcom_pull(task_ids='uat.verify_release') or [] %}
- {{ r.host }}: {{ r.checks }} checks passed (slowest {{ r.slowest_ms }} ms)
{% endfor %}
"""


def uat_signoff(rtype: ReleaseType) -> ApprovalOperator:
    """A person approves in the UI (Required Actions) before production. No answer in time counts as Reject."""
    return ApprovalOperator(
        task_id="approve_production",
        subject="Release {{ params.version }} to production?",
        body=SIGNOFF_BODY,
        defaults="Reject",
        response_timeout=timedelta(hours=rtype.signoff_timeout_hours),
        fail_on_reject=True,  # a rejected release is a stopped change: the run ends failed
    )
