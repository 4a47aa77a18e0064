"""A release DAG from a row of the policy table.

    plan_release ─> install_tools ─> build_release ─> staging
                                          │   ─> [uat ─> write_signoff_request ─> approve_production]
                                          └─> write_release_notes ─┘    ─> production ─> finish_release

Each stage is the task group of ``steps.deploy`` (its build is distributed to
every stage at once; going live waits for the previous stage); a type whose
policy asks for UAT sign-off gets ``approve_production`` between UAT and production.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, Param

from laravel_release import gates, policy
from laravel_release.steps.build import build_release
from laravel_release.steps.deploy import deploy_environment
from laravel_release.steps.finish import finish_release
from laravel_release.steps.prepare import install_tools, plan_release

START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_ARGS = {"owner": "release-engineering", "retries": 0, "retry_delay": timedelta(seconds=5)}


def release_params(rtype: policy.ReleaseType) -> dict[str, Param]:
    """The trigger form: checked against these schemas in the UI, over REST and on the CLI."""
    params = {
        "version": Param(
            type="string",
            pattern=policy.VERSION_PATTERN,
            title="Version",
            description="The git tag to release, e.g. v1.4.0. It must exist in the app's repository.",
        ),
    }
    if rtype.requires_reason:
        params["reason"] = Param(
            type="string",
            minLength=10,
            title="Reason",
            description="Why this cannot wait for a release window: the critical issue it fixes "
            "(at least 10 characters).",
        )
    return params


def release_dag(name: str, doc_md: str | None = None) -> DAG:
    rtype = policy.release_type(name)
    with DAG(
        dag_id=rtype.dag_id,
        description=rtype.summary,
        doc_md=doc_md,
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        params=release_params(rtype),
        tags=["release", rtype.name],
    ) as dag:
        plan = plan_release(rtype.name)
        build, notes = build_release(plan)
        install_tools(plan) >> build  # type: ignore[arg-type]  # XComs, resolved at run time
        previous = build
        for stage in rtype.stages:
            if stage == "production" and rtype.uat_signoff:
                previous = gates.uat_signoff(rtype, plan, notes, previous)
            previous = deploy_environment(plan, stage, built=build, previous=previous)
        finish_release(plan, previous)  # type: ignore[arg-type]
    return dag
