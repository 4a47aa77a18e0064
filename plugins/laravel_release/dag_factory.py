"""A release DAG from a row of the policy table.

    plan_release ─> install_tools ─> build_release ─> check_tests, scan_release ─> staging ─> [uat ─> sign-off
                                          │                                 ─> uat_signed_off] ─┐
                                          ├─> write_release_notes                              │
                                          └─> the other quality gates ─────────────────────────┴─> wait_for_window
                                                       ─> production ─> finish_release ─> publish_release_notes
                                                                  (gates passed) ─> announce_release

Each stage is the task group of ``steps.deploy`` (its build is distributed to
every stage at once; going live waits for the previous stage). A type whose
policy asks for UAT sign-off gets the sign-off gates between UAT and production;
every type's production waits for the quality gates and for its release window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLEntryOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, CronTriggerTimetable, Param, TaskGroup

from laravel_release import alerts, cockpit, gates, policy
from laravel_release.config import ENVIRONMENTS
from laravel_release.steps.alert import StartRollback, judge_alert
from laravel_release.steps.announce import announce_release
from laravel_release.steps.audit import RaiseSecurityTrigger, audit_dependencies
from laravel_release.steps.build import build_release
from laravel_release.steps.deploy import deploy_environment
from laravel_release.steps.finish import finish_release, publish_release_notes
from laravel_release.steps.metrics import (
    check_release,
    post_progress,
    post_summary,
    record_checklist,
    write_report,
)
from laravel_release.steps.postmortem import POST_MORTEM_DAG, RequestPostMortem, record_post_mortem, write_timeline
from laravel_release.steps.prepare import install_tools, plan_release, preflight_checks
from laravel_release.steps.quality import quality_gates
from laravel_release.steps.rollback import MODES, plan_rollback, rollback_environment
from laravel_release.steps.snapshot import take_snapshot
from laravel_release.timetables import release_schedule

START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
REVIEW_DAG = "release_review"
MAX_ACTIVE_RUNS = 3
DEFAULT_ARGS = {"owner": "release-engineering", "retries": 0, "retry_delay": timedelta(seconds=5)}


def project_dag(
    dag_id: str,
    description: str,
    doc_md: str | None,
    tags: list[str],
    params: dict[str, Param] | None = None,
    schedule: Any = None,
    max_active_runs: int = 16,
) -> DAG:
    """A DAG of this project: the house's start date, no catch-up, its owner and no retries by default."""
    return DAG(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=max_active_runs,
        default_args=DEFAULT_ARGS,
        params=params or {},
        tags=tags,
    )


def environment_param() -> Param:
    return Param("production", enum=list(ENVIRONMENTS), title="Environment")


def release_params(rtype: policy.ReleaseType) -> dict[str, Param]:
    """The trigger form: checked against these schemas in the UI, over REST and on the CLI."""
    describe = "The git tag to release, e.g. v1.4.0. It must exist in the app's repository."
    if rtype.window is None:
        version = Param(
            type="string",
            pattern=policy.VERSION_PATTERN,
            maxLength=policy.VERSION_MAX_LENGTH,
            title="Version",
            description=describe,
        )
    else:  # scheduled runs (at the window's opening) have no version: they report what waits for the window
        version = Param(
            None,
            type=["null", "string"],
            pattern=policy.VERSION_PATTERN,
            maxLength=policy.VERSION_MAX_LENGTH,
            title="Version",
            description=describe + " Required when you trigger a release.",
        )
    params = {"version": version}
    if rtype.window is not None:
        params["window_override"] = Param(
            None,
            type=["null", "string"],
            minLength=10,
            pattern=policy.TEXT_PATTERN,
            title="Window override: reason",
            description=f"Leave empty to wait for the release window ({rtype.window.describe()}). "
            "For an emergency, say why production must go now (at least 10 characters); "
            "the override and its reason are logged.",
        )
    if rtype.name != "major":
        params["destructive_migrations"] = Param(
            None,
            type=["null", "string"],
            minLength=10,
            pattern=policy.TEXT_PATTERN,
            title="Destructive migrations: acknowledgement",
            description="Leave empty unless the release drops, renames or retypes something, or rewrites data. "
            "Then say why it is safe (at least 10 characters); without it such a release stops before "
            "production. A code-only rollback of it is not safe.",
        )
    params["waive"] = Param(
        [],
        type="array",
        items={"enum": ["tests", "coverage", "scan"]},
        uniqueItems=True,
        title="Waive quality gates",
        description="Leave empty. In an emergency: the gates this run may fail (they still run and report "
        "their figures); needs 'waiver_reason'. Logged, and shown in the audit trail and the release report.",
    )
    params["waiver_reason"] = Param(
        None,
        type=["null", "string"],
        pattern=policy.TEXT_PATTERN,
        title="Waiver: reason",
        description="Why the waived gates may fail for this run (e.g. INC-42: the flaky test is tracked in #123).",
    )
    if rtype.requires_reason:
        params["reason"] = Param(
            type="string",
            minLength=10,
            pattern=policy.TEXT_PATTERN,
            title="Reason",
            description="Why this cannot wait for a release window: the critical issue it fixes "
            "(at least 10 characters).",
        )
    return params


def release_dag(name: str, doc_md: str | None = None) -> DAG:
    rtype = policy.release_type(name)
    with project_dag(
        rtype.dag_id,
        rtype.summary,
        doc_md,
        ["release", rtype.name],
        release_params(rtype),
        schedule=release_schedule(rtype),
        # several releases may be in flight (one waiting for its window, the next in UAT): each
        # environment's lock makes sure only one of them changes an environment at a time
        max_active_runs=MAX_ACTIVE_RUNS,
    ) as dag:
        plan = plan_release(rtype.name)
        build, notes = build_release(plan)
        install_tools(plan) >> build  # type: ignore[arg-type]  # XComs, resolved at run time
        tested, gates_passed, changelog = quality_gates(plan, build, notes)
        previous: Any = tested  # the first environment waits for the tests and the scan
        for stage in rtype.stages:
            if stage == "production":
                ready = previous  # the previous stage verified (skipped when it rolled back)
                if rtype.uat_signoff:
                    ready = gates.uat_signed_off()  # one recorded approval, no rejection
                    gates.uat_signoff(rtype, plan, notes, previous) >> ready
                previous = gates.WaitForWindow(task_id="wait_for_window", release_type=rtype.name)
                [ready, *gates_passed] >> previous
                [ready, *gates_passed] >> announce_release(plan)  # type: ignore[arg-type]
            previous = deploy_environment(plan, stage, built=build, previous=previous, rtype=rtype)
        finished = finish_release(plan, previous)  # type: ignore[arg-type]
        finished >> [request_review(), publish_release_notes(plan, notes, changelog)]  # type: ignore[arg-type]
    return dag


def request_review() -> TriggerDagRunOperator:
    """Open the post-release review form (DAG release_review) for this release, without waiting for it."""
    return TriggerDagRunOperator(
        task_id="request_review",
        trigger_dag_id=REVIEW_DAG,
        trigger_run_id="review__{{ run_id }}",
        conf={"dag_id": "{{ dag.dag_id }}", "run_id": "{{ run_id }}", "version": "{{ params.version }}"},
        wait_for_completion=False,
        skip_when_already_exists=True,
    )


def form_dag(
    dag_id: str,
    description: str,
    doc_md: str | None,
    of_dags: list[str],
    params: dict[str, Param] | None = None,
    tags: list[str] | None = None,
) -> DAG:
    """A DAG whose run is a form about another DAG's run (``dag_id`` and ``run_id`` in its conf), opened
    by that run and waiting for a person: the review, the post-mortem."""
    return project_dag(  # as many runs at once as runs waiting for their answer (16)
        dag_id,
        description,
        doc_md,
        tags or [],
        {
            "dag_id": Param(of_dags[0], enum=of_dags, title="DAG of the run"),
            "run_id": Param(type="string", minLength=1, maxLength=250, title="Run"),
            **(params or {}),
        },
    )


def review_dag(doc_md: str | None = None) -> DAG:
    """``release_review``: the post-release checklist items only a person can confirm, as a form."""
    version = Param(type="string", pattern=policy.VERSION_PATTERN, maxLength=policy.VERSION_MAX_LENGTH, title="Version")
    with form_dag(
        REVIEW_DAG,
        "The post-release review: code review, documentation, user feedback, lessons learned.",
        doc_md,
        [t.dag_id for t in policy.RELEASE_TYPES.values()],
        {"version": version},
        tags=["release", "review"],
    ) as dag:
        (
            check_release()
            >> HITLEntryOperator(
                task_id="post_release_review",
                subject="Post-release review of {{ params.version }}",
                body=(
                    "The release **{{ params.version }}** ({{ params.dag_id }}, run `{{ params.run_id }}`) is live. "
                    "Confirm what only a person can: the rest of the checklists is proven by the release's own tasks "
                    "(see the release report, DAG release_metrics)."
                ),
                params={
                    "code_review_completed": Param(False, type="boolean", title="Code review completed"),
                    "documentation_updated": Param(False, type="boolean", title="Documentation updated"),
                    "user_feedback_collected": Param(
                        "", type="string", title="User feedback collected", description="Where, and what it said."
                    ),
                    "lessons_learned": Param(
                        "", type="string", title="Lessons learned documented", description="A link or a summary."
                    ),
                },
                response_timeout=timedelta(days=14),
            )
            >> record_checklist()
        )
    return dag


def post_mortem_dag(doc_md: str | None = None) -> DAG:
    """``post_mortem``: the last step of the seed's emergency procedure, a form per incident."""
    with form_dag(
        POST_MORTEM_DAG,
        "The post-mortem of a rolled-back or failed release, or of a rollback: timeline, cause, actions.",
        doc_md,
        ["rollback", *(t.dag_id for t in policy.RELEASE_TYPES.values())],
        tags=["release", "incident"],
    ) as dag:
        form = HITLEntryOperator(
            task_id="post_mortem",
            subject="Post-mortem: {{ params.dag_id }} {{ params.run_id }}",
            body="{{ ti.xcom_pull(task_ids='write_timeline') }}",
            # defaults that pass the form's own schema: the task checks its params when it starts
            params={
                "root_cause": Param("", type="string", title="Root cause", description="What made it happen."),
                "actions": Param(
                    "",
                    type="string",
                    title="Actions",
                    description="What keeps it from happening again (one per line, or a link).",
                ),
                "owner": Param("", type="string", title="Owner", description="Who sees the actions through."),
            },
            response_timeout=timedelta(days=14),
        )
        write_timeline() >> form
        record_post_mortem(form.output)  # type: ignore[arg-type]
    return dag


# The seed's stakeholder updates: (DAG, cron, weeks of history; 0: the day's progress, not the report)
STAKEHOLDER_UPDATES = {
    "release_metrics": ("0 6 * * 1", 12, "weekly (Monday 06:00 UTC)"),
    "release_monthly": ("0 6 1 * *", 4, "monthly (the 1st, 06:00 UTC)"),
    "release_daily": ("0 8 * * *", 0, "daily (08:00 UTC)"),
}


def metrics_dag(doc_md: str | None = None, dag_id: str = "release_metrics") -> DAG:
    """A stakeholder update of ``STAKEHOLDER_UPDATES``: the release report (DORA metrics against the seed's
    targets) weekly or monthly, or the day's progress; each on demand too, and silent when there is nothing."""
    cron, weeks, when = STAKEHOLDER_UPDATES[dag_id]
    with project_dag(
        dag_id,
        f"The release report {when}: DORA metrics, the seed's targets, audit trail, checklists."
        if weeks
        else f"The releases' progress {when}, to the stakeholders, on days with something to say.",
        doc_md,
        ["release", "metrics"],
        {"weeks": Param(weeks, type="integer", minimum=1, maximum=104, title="Weeks of history")} if weeks else {},
        schedule=CronTriggerTimetable(cron, timezone="UTC"),
        max_active_runs=1,
    ) as dag:
        if weeks:
            post_summary(write_report())  # type: ignore[arg-type]  # an XCom, resolved at run time
        else:
            post_progress()
    return dag


def freeze_dag(doc_md: str | None = None) -> DAG:
    """``deployment_freeze``: an operator stops (or allows again) deployments to one environment."""
    with project_dag(
        "deployment_freeze",
        "Stop new deployments to an environment during an incident, or allow them again.",
        doc_md,
        ["release", "freeze"],
        {
            "environment": environment_param(),
            "action": Param("freeze", enum=["freeze", "clear"], title="Action"),
            "reason": Param(
                None,
                type=["null", "string"],
                minLength=10,
                pattern=policy.TEXT_PATTERN,
                title="Reason",
                description="Why deployments stop (the incident); needed to freeze.",
            ),
        },
    ) as dag:
        gates.set_freeze()
    return dag


def rollback_dag(doc_md: str | None = None) -> DAG:
    """``rollback``: put an environment back on a kept release, by hand or from CI.

    (A release rolls itself back through the same task group when a trigger trips.)
    """
    with project_dag(
        "rollback",
        "Go back to a good release in seconds: switch back, optionally undo migrations or restore.",
        doc_md,
        ["release", "rollback"],
        {
            "environment": environment_param(),
            "from": Param(
                None,
                type=["null", "string"],
                pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                title="Release to roll back from",
                description="The release live now (its folder name). Empty: whatever is live when the run "
                "starts. A run whose 'from' is no longer live refuses and changes nothing, so a retried or "
                "double-submitted rollback never goes back one release more.",
            ),
            "target": Param(
                None,
                type=["null", "string"],
                pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                title="Target release",
                description="A kept release (its folder name, or its version such as v1.3.0). "
                "Empty: the previous good release.",
            ),
            "mode": Param(
                "code",
                enum=list(MODES),
                title="Mode",
                description="code: switch back only (the default). migrations: switch back, then undo the "
                "migrations the bad release ran. restore: switch back, then restore the backup taken before "
                "the bad release (rows written since are lost): it waits for an approver in Required Actions, who "
                "sees the rows it loses and types its confirmation.",
            ),
            "reason": Param(
                type="string",
                minLength=10,
                pattern=policy.TEXT_PATTERN,
                title="Reason",
                description="Why (the incident).",
            ),
            "trigger": Param(
                None,
                type=["null", "string"],
                enum=[None, *(t.name for t in policy.ROLLBACK_TRIGGERS)],
                title="Rollback trigger",
                description="Set by rollback_on_alert: the trigger an alert tripped. Nobody chose this rollback "
                "then, so a code rollback that is not safe (the release's migrations drop, rename or rewrite) "
                "switches nothing until an approver chooses in Required Actions. Empty: a person asked for it.",
            ),
            "skip_unreachable": Param(
                False,
                type="boolean",
                title="Skip unreachable hosts",
                description="Roll back the hosts that answer when another one does not (never the first host: it "
                "keeps the lock, the freeze and the database). The skipped hosts are reported as NOT rolled back.",
            ),
            "take_over_lock": Param(
                False,
                type="boolean",
                title="Take over the lock",
                description="Take the environment's lock from a release run that still holds it (stuck, or being "
                "rolled back by hand), instead of waiting for it. Stop that run first if it has not ended.",
            ),
        },
        max_active_runs=MAX_ACTIVE_RUNS,  # one per environment at a time: the environment's lock
    ) as dag:
        request = plan_rollback()
        claim = gates.claim_environment(request, None, policy.ROLLBACK)
        decided, record = rollback_environment(request=request)
        claim >> decided
        record >> gates.release_environment(request).as_teardown(setups=claim)  # type: ignore[arg-type]
        record >> RequestPostMortem(task_id="request_post_mortem", retries=0).as_teardown(setups=claim)
    return dag


def alert_dag(doc_md: str | None = None) -> DAG:
    """``rollback_on_alert``: an alert from outside, judged by the rollback triggers; the latest release
    rolled back (a rollback run) when one tripped."""
    with project_dag(
        alerts.ALERT_DAG,
        "An alert from a monitor, judged by the rollback triggers: the latest release rolled back.",
        doc_md,
        ["release", "rollback", "incident"],
        {
            "environment": environment_param(),
            "measured": Param(
                type="object",
                title="Measured",
                description="The alert's figures, by measurement: "
                + ", ".join(f"{t.metric} ({t.title})" for t in policy.ROLLBACK_TRIGGERS),
                properties={t.metric: {"type": "number", "minimum": 0} for t in policy.ROLLBACK_TRIGGERS},
                additionalProperties=False,
                minProperties=1,
            ),
            "source": Param("manual", type="string", pattern=alerts.SOURCE_PATTERN, title="Source"),
            "summary": Param("", type="string", maxLength=alerts.SUMMARY_MAX, title="Summary"),
            "release": Param(
                None,
                type=["null", "string"],
                pattern=alerts.RELEASE_PATTERN,
                title="Release",
                description="The release the alert is about (folder name or version). Empty: the live one.",
            ),
        },
        max_active_runs=MAX_ACTIVE_RUNS,
    ) as dag:
        judge_alert() >> StartRollback(task_id="start_rollback", retries=0)
    return dag


def audit_dag(doc_md: str | None = None) -> DAG:
    """``security_audit``: every day, the live releases' locked dependencies against the known advisories."""
    with project_dag(
        "security_audit",
        "Daily: a critical advisory against a live release raises the security rollback trigger.",
        doc_md,
        ["release", "security"],
        schedule=CronTriggerTimetable(policy.SECURITY_AUDIT_CRON, timezone="UTC"),
        max_active_runs=1,
    ) as dag:
        for env in ENVIRONMENTS:
            with TaskGroup(env):
                audit_dependencies(env) >> RaiseSecurityTrigger(task_id="raise_security_trigger", retries=0)
    return dag


def cockpit_dag(doc_md: str | None = None) -> DAG:
    """``release_cockpit``: every five minutes (and on demand), the snapshot the Releases cockpit shows."""
    with project_dag(
        cockpit.COCKPIT_DAG,
        "Every 5 minutes: what runs where, read from every host and the last week's runs, for the cockpit.",
        doc_md,
        ["release", "cockpit"],
        schedule=CronTriggerTimetable(cockpit.SNAPSHOT_CRON, timezone="UTC"),
        max_active_runs=1,
    ) as dag:
        take_snapshot()
    return dag


def preflight_dag(doc_md: str | None = None) -> DAG:
    """``preflight``: check every host of an environment before its first release (the CLI's preflight)."""
    with project_dag(
        "preflight",
        "Before the first release: can every host of an environment take one? What to fix.",
        doc_md,
        ["release", "preflight"],
        {"environment": environment_param()},
    ) as dag:
        preflight_checks()
    return dag
