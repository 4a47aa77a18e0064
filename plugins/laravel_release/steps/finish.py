"""Finish: record what went live where, and publish its release notes and CHANGELOG entry."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from airflow.sdk import task

from laravel_release import config

log = logging.getLogger(__name__)

CHANGELOG_HEAD = (
    "# Changelog\n\nEvery release that went live in production, newest first "
    "(the format of https://keepachangelog.com).\n"
)


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


def with_entry(changelog: str, version: str, entry: str) -> str:
    """The CHANGELOG with ``entry`` first, once: a version that has its entry keeps it (a rerun, a re-release)."""
    if re.search(rf"^## \[{re.escape(version)}\]", changelog, re.MULTILINE):
        return changelog
    head, _, rest = changelog.partition("\n## ")
    head = head if changelog.strip() else CHANGELOG_HEAD
    return f"{head.rstrip()}\n\n{entry.rstrip()}\n" + (f"\n## {rest}" if rest else "")


def safe_name(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", version)


@task(retries=1)
def publish_release_notes(plan: dict[str, Any], notes: str, entry: str) -> dict[str, Any]:
    """The seed's "release notes published": the CHANGELOG entry into ``CHANGELOG.md`` and the notes into
    ``release-notes/<version>.md`` of the reports folder, and, when ``reports.publish`` names an http
    connection, both posted there as JSON. A post that fails is reported (the checklist item fails), never
    the release: it is live."""
    cfg = config.load()
    folder = cfg.reports_path()
    (folder / "release-notes").mkdir(parents=True, exist_ok=True)
    changelog = folder / "CHANGELOG.md"
    changelog.write_text(with_entry(changelog.read_text() if changelog.exists() else "", plan["version"], entry))
    notes_file = folder / "release-notes" / f"{safe_name(plan['version'])}.md"
    notes_file.write_text(notes)
    result = {"changelog": str(changelog), "notes": str(notes_file), "posted": "not configured"}
    if cfg.publish_conn_id:
        body = {"app": cfg.app_name, "version": plan["version"], "changelog": entry, "notes": notes}
        from airflow.providers.http.hooks.http import HttpHook  # here, not at a DAG's parse (see hooks.py)

        try:
            hook = HttpHook(method="POST", http_conn_id=cfg.publish_conn_id)
            hook.run(cfg.publish_endpoint, data=json.dumps(body), headers={"Content-Type": "application/json"})
            result["posted"] = f"sent to {cfg.publish_conn_id}{cfg.publish_endpoint}"
        except Exception as err:  # noqa: BLE001 - whatever the service said, it is reported, not raised
            result["posted"] = f"failed: {cfg.publish_conn_id}{cfg.publish_endpoint}: {err}"
            log.warning("the release notes of %s were not posted: %s", plan["version"], result["posted"])
    log.info("release notes of %s published: %s", plan["version"], result)
    return result


def notes_lines(notes: str, most: int = 15) -> list[str]:
    """The change lines of release notes, for an announcement (at most ``most``, then how many more)."""
    changes = [f"Change: {line[2:]}" for line in notes.splitlines() if line.startswith("- ")]
    more = len(changes) - most
    return changes[:most] + ([f"Change: ... and {more} more (see the release notes)"] if more > 0 else [])
