"""The run history, read from Airflow's REST API v2: what evidence.py judges. No second source of truth.

For each run of the release DAGs and of the rollback DAG: who triggered it and
how, its note, its conf, its start and end, each task's state and end, the XComs
that carry proof (the plan, the build, the gates' figures, the verification, the
backup, the rollback's record), the sign-off's answer, and the answer of its
post-release review (a ``release_review`` run whose conf names it).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from laravel_release import evidence
from laravel_release.client import Airflow, state_name

log = logging.getLogger(__name__)

REVIEW_DAG = "release_review"
POST_MORTEM_DAG = "post_mortem"
ENVIRONMENTS = ("staging", "uat", "production")
RELEASE_XCOMS = (
    "plan_release",
    "build_release",
    "check_tests",
    "check_coverage",
    "scan_release",
    "write_release_notes",
    "write_changelog",
    "wait_for_window",
    "external_signoff",
    *(f"{env}.{task}" for env in ENVIRONMENTS for task in ("release_verified", "watch_release", "announce_finished")),
    "production.backup_database",
    "staging.rehearse_rollback",
)
ROLLBACK_XCOMS = ("plan_rollback", "rollback.decide_rollback")
# a rollback's record is kept under the key "rollback" (a release's own rollback fails its task after it)
RECORDS = {"rollback.record_rollback", *(f"{env}.rollback.record_rollback" for env in ENVIRONMENTS)}


def _time(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if value else None)


def _answer(answer: Any) -> dict[str, Any]:
    """A human-in-the-loop form's answer: who, when, what."""
    return {
        "responded_by": answer.responded_by_user.name if answer.responded_by_user else "",
        "responded_at": _time(answer.responded_at),
        "chosen": list(answer.chosen_options or []),
        "params_input": dict(answer.params_input or {}),
    }


def run_data(api: Airflow, dag_id: str, run: Any, reviews: dict[str, dict[str, Any]]) -> dict[str, Any]:
    tis = api.task_instances(dag_id, run.dag_run_id)
    tasks = {k: state_name(ti.state) for k, ti in tis.items()}
    xcom: dict[str, Any] = {}
    wanted = RELEASE_XCOMS if dag_id in evidence.RELEASE_DAGS else ROLLBACK_XCOMS
    for task_id in wanted:
        if tasks.get(task_id) == "success":
            xcom[task_id] = api.xcom(dag_id, run.dag_run_id, task_id)
    for task_id in RECORDS & set(tasks):
        if tasks[task_id] in ("success", "failed"):
            xcom[task_id] = api.xcom(dag_id, run.dag_run_id, task_id, key="rollback")
    hitl = {}
    if "approve_production" in tasks:
        for answer in api.answers(dag_id, run.dag_run_id):
            if answer.response_received:
                hitl[answer.task_instance.task_id] = _answer(answer)
    run_type = state_name(run.run_type)
    return {
        "dag_id": dag_id,
        "run_id": run.dag_run_id,
        "run_type": run_type,
        "state": state_name(run.state),
        "triggered_by": run.triggering_user_name or ("schedule" if run_type == "scheduled" else ""),
        "note": run.note or "",
        "conf": dict(run.conf or {}),
        "start": _time(run.start_date),
        "end": _time(run.end_date),
        "tasks": tasks,
        "ended": {k: _time(ti.end_date) for k, ti in tis.items() if ti.end_date},
        "xcom": xcom,
        "hitl": hitl,
        "review": reviews.get(f"{dag_id}/{run.dag_run_id}"),
    }


def review_answer(api: Airflow, review_run_id: str) -> dict[str, Any] | None:
    """The answer of one release_review run's form, None before it is answered."""
    for answer in api.answers(REVIEW_DAG, review_run_id):
        if answer.response_received:
            return _answer(answer)
    return None


def review_answers(api: Airflow, since: datetime | None, form_dag: str = REVIEW_DAG) -> dict[str, dict[str, Any]]:
    """{dag_id/run_id: the form's answer}, from the runs of ``form_dag`` (release_review, post_mortem)."""
    found: dict[str, dict[str, Any]] = {}
    for run in api.dag_runs(form_dag, since):
        conf = dict(run.conf or {})
        answer = next((_answer(a) for a in api.answers(form_dag, run.dag_run_id) if a.response_received), None)
        if answer:
            found[f"{conf.get('dag_id')}/{conf.get('run_id')}"] = answer
    return found


def one_run(api: Airflow, dag_id: str, run_id: str, review: dict[str, Any] | None = None) -> dict[str, Any]:
    """One run, as collect() reads it, with the given review answer."""
    return run_data(api, dag_id, api.dag_run(dag_id, run_id), {f"{dag_id}/{run_id}": review} if review else {})


def collect(api: Airflow, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every release and rollback run since ``since``, as evidence.py reads them."""
    reviews = review_answers(api, since)
    post_mortems = review_answers(api, since, POST_MORTEM_DAG)
    runs = []
    for dag_id in (*evidence.RELEASE_DAGS, evidence.ROLLBACK_DAG):
        for run in api.dag_runs(dag_id, since):
            runs.append(run_data(api, dag_id, run, reviews))
            runs[-1]["post_mortem"] = post_mortems.get(f"{dag_id}/{run.dag_run_id}")
    log.info("read %d runs (%d reviewed) from %s", len(runs), len(reviews), api.base_url)
    return runs
