"""Finish: record what went live where."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import task

log = logging.getLogger(__name__)


@task
def finish_release(plan: dict[str, Any], verified: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
    """The summary of a successful release: version, release folder, hosts verified, duration."""
    dag_run = context["dag_run"]
    started = dag_run.start_date
    seconds = (context["ti"].start_date - started).total_seconds() if started else None
    summary = {
        "version": plan["version"],
        "release": plan["release"],
        "replaced": plan["since"] or None,
        "hosts": sorted(v["host"] for v in verified),
        "seconds": round(seconds, 1) if seconds is not None else None,
    }
    log.info("released %(version)s (%(release)s) replacing %(replaced)s on %(hosts)s in %(seconds)ss", summary)
    return summary
