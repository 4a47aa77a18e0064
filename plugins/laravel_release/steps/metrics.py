"""The release report (DAG release_metrics) and the post-release review (DAG release_review).

    write_report ─> post_summary

``write_report`` reads the run history from Airflow's REST API (the connection
``reports.api_conn_id``), computes the DORA metrics and the seed's targets
(evidence.py) and writes the HTML report (report.py) to ``reports.dir``:
``release-report-<time>.html`` and ``latest.html``. ``post_summary`` posts its
short summary to the releases channel.

    check_release ─> post_release_review ─> record_checklist

``check_release`` opens the form only for a release run that exists and went
live (its ``finish_release`` succeeded) with the version the form names.
``record_checklist`` stores the release's completed checklists (each item and
its proof, the form's answers included) with the review run, as its result.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from laravel_release import config, evidence, gates, history, notify, report
from laravel_release.client import Airflow, fetch_token
from laravel_release.steps.announce import link

log = logging.getLogger(__name__)


def reports_dir(cfg: config.Config) -> Path:
    return cfg.reports_path()


def api_client(conn_id: str) -> Airflow:
    """Airflow's REST API from an http connection: host = the URL; login and password, or a token as password."""
    conn = BaseHook.get_connection(conn_id)
    host = conn.host or "localhost"
    url: str = host if "://" in host else f"{conn.schema or 'http'}://{host}"
    if conn.port:
        url = f"{url.rstrip('/')}:{conn.port}"
    token = fetch_token(url, conn.login, conn.password or "") if conn.login else (conn.password or "")
    return Airflow(url, token)


@task(retries=1)
def write_report(**context: Any) -> dict[str, Any]:
    """Read the history, judge it, write the HTML report; returns its path and the summary."""
    cfg = config.load()
    weeks = int(context["params"].get("weeks") or cfg.reports_weeks)
    now = datetime.now(UTC)
    runs = history.collect(api_client(cfg.reports_api_conn_id), since=now - timedelta(weeks=weeks))
    page, summary = report.render(runs, now, weeks, cfg.app_name)
    folder = reports_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"release-report-{now:%Y%m%dT%H%M%S}.html"
    path.write_text(page)
    (folder / "latest.html").write_text(page)
    log.info("report written to %s (%d bytes): %s", path, len(page), summary)
    changes = len([c for c in evidence.changes(runs) if c.started and c.started >= now - timedelta(weeks=weeks)])
    return {
        "path": str(path),
        "latest": str(folder / "latest.html"),
        "summary": summary,
        "runs": len(runs),
        "changes": changes,
    }


@task(retries=0)
def post_summary(written: dict[str, Any], **context: Any) -> dict[str, Any]:
    """The summary on the releases channel and to production's stakeholders (never fails the run); nothing
    is sent for a period without any production change."""
    if not written.get("changes", 1):
        raise AirflowSkipException(f"nothing to say: no production change in the period ({written['summary']})")
    cfg = config.load()
    message = notify.Message(
        "report",
        "production",
        written["summary"].split(": ", 1)[0],
        (written["summary"].split(": ", 1)[-1], f"Report: {written['path']}"),
        link(context),
    )
    return to_stakeholders(cfg, message, context)


def to_stakeholders(cfg: config.Config, message: notify.Message, context: Any) -> dict[str, Any]:
    """A stakeholder update: Slack's releases channel, and e-mail to production's stakeholders."""
    channels = [c for c in ("slack", "email") if cfg.notifications.configured(c)]
    stakeholders = list(cfg.environments["production"].stakeholders) if "production" in cfg.environments else []
    return notify.deliver(cfg.notifications, message, channels, context, email_to=stakeholders)


@task(retries=1)
def post_progress(**context: Any) -> dict[str, Any]:
    """The day's progress of the releases (the seed's daily stakeholder update); nothing on a quiet day."""
    cfg = config.load()
    now = datetime.now(UTC)
    runs = history.collect(api_client(cfg.reports_api_conn_id), since=now - timedelta(days=7))
    lines = evidence.progress(runs, now)
    if not lines:
        raise AirflowSkipException("nothing to say: no release ended in the last 24 h and none is in progress")
    message = notify.Message("progress", "production", f"{cfg.app_name} releases: {now:%a %Y-%m-%d}", tuple(lines))
    return {"lines": lines, **to_stakeholders(cfg, message, context)}


@task(retries=1)
def record_checklist(**context: Any) -> list[dict[str, str]]:
    """The release's three checklists, completed: proof from its tasks and from the review form."""
    cfg = config.load()
    params = context["params"]
    api = api_client(cfg.reports_api_conn_id)
    review = history.review_answer(api, context["run_id"])
    run = history.one_run(api, params["dag_id"], params["run_id"], review)
    items = evidence.checklist(run)
    for item in items:
        log.info("%-12s %-36s %-7s %s", item.checklist, item.item, item.status, item.proof)
    done = sum(1 for i in items if i.status == "done")
    log.info("%s %s: %d of %d checklist items proven", params["dag_id"], params.get("version"), done, len(items))
    return [vars(i) for i in items]


def review_refusal(run_state: str | None, finished: str | None, released: str | None, version: str) -> str | None:
    """Why a review cannot be opened for this release run (None: it may)."""
    if run_state is None:
        return "no such run"
    if run_state == "failed" or finished != "success":
        return f"the run is {run_state} and its finish_release is {finished or 'not run'}: it did not go live"
    if released != version:
        return f"the run released {released}, not {version}"
    return None


@task(retries=0)
def check_release(**context: Any) -> dict[str, str]:
    """The review is of a release run that exists and went live with the version it names; anything else is
    refused before the form opens, and nothing is recorded."""
    params = context["params"]
    ti = context["ti"]
    dag_id, run_id, version = params["dag_id"], params["run_id"], params["version"]
    run_state = gates._run_state(ti, f"{dag_id}/{run_id}")
    finished = released = None
    if run_state is not None:
        states = ti.get_task_states(dag_id=dag_id, run_ids=[run_id], task_ids=["finish_release"])
        finished = gates._name(states.get(run_id, {}).get("finish_release"))
        released = (ti.xcom_pull(task_ids="plan_release", dag_id=dag_id, run_id=run_id) or {}).get("version")
    refused = review_refusal(run_state, finished, released, version)
    if refused:
        raise AirflowFailException(
            f"no review for {dag_id} run {run_id!r} ({version}): {refused}. A review is opened for a release that "
            "went live (its request_review task does it). Nothing was recorded."
        )
    log.info("reviewing %s run %s: %s went live", dag_id, run_id, version)
    return {"dag_id": dag_id, "run_id": run_id, "version": version}
