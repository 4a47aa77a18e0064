"""The Releases cockpit's data: what runs where, what waits, and what changed (pure functions).

The snapshot is taken by the DAG ``release_cockpit`` (steps/snapshot.py): each host's
``status.sh``, the environment's lock and freeze on its first host, and the runs of
the last week from Airflow's REST API. It is stored in the Airflow Variable
``releases_cockpit_snapshot``; the cockpit (webapp.py) shows it with its age and
never waits on SSH. What needs no host (the release windows) is computed when the
page is shown.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from laravel_release import config, evidence, policy

COCKPIT_DAG = "release_cockpit"
SNAPSHOT_VARIABLE = "releases_cockpit_snapshot"
SNAPSHOT_CRON = "*/5 * * * *"
HISTORY_DAYS = 7
CHANGES_SHOWN = 10
# a task in one of these states has not ended
ACTIVE = {
    "scheduled",
    "queued",
    "running",
    "deferred",
    "awaiting_input",  # a Required Action: a person's answer
    "up_for_reschedule",
    "up_for_retry",
    "restarting",
}
ACTIVE_RUNS = {"queued", "running"}


def run_environment(run: dict[str, Any]) -> str:
    """The environment a run changes: its conf's, else production (a release's last stage)."""
    return str(run.get("conf", {}).get("environment") or "production")


def _version(run: dict[str, Any]) -> str:
    conf = run.get("conf", {})
    return str(conf.get("version") or conf.get("target") or "")


def waiting_on(run: dict[str, Any]) -> list[str]:
    """The run's tasks that have not ended (what an operator would look at)."""
    return sorted(t for t, s in run.get("tasks", {}).items() if s in ACTIVE)


def in_flight(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Release and rollback runs that have not ended, newest first."""
    found = [
        {
            "dag_id": r["dag_id"],
            "run_id": r["run_id"],
            "environment": run_environment(r),
            "version": _version(r),
            "triggered_by": r.get("triggered_by", ""),
            "start": r.get("start"),
            "waiting_on": waiting_on(r),
        }
        for r in runs
        if r.get("state") in ACTIVE_RUNS
    ]
    return sorted(found, key=lambda r: r["start"] or "", reverse=True)


def open_incidents(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rollbacks whose incident is still open: their escalation has not ended. ``level``: the escalation
    level it reached, filled in by the snapshot (None: only those told at once)."""
    found = []
    for r in runs:
        escalating = [t for t, s in r.get("tasks", {}).items() if t.endswith("escalate") and s in ACTIVE]
        if not escalating:
            continue
        conf = r.get("conf", {})
        found.append(
            {
                "dag_id": r["dag_id"],
                "run_id": r["run_id"],
                "environment": run_environment(r),
                "reason": str(conf.get("reason") or conf.get("trigger") or ""),
                "since": r.get("start"),
                "task": escalating[0],
                "level": None,
            }
        )
    return found


def change_row(c: evidence.Change) -> dict[str, Any]:
    """One line of the audit trail: who, what replaced what, where, the outcome."""
    row = {k: v for k, v in asdict(c).items() if k in CHANGE_FIELDS}
    for k in ("started", "finished"):
        row[k] = row[k].isoformat() if row[k] else None
    return row


CHANGE_FIELDS = (
    "dag_id",
    "run_id",
    "kind",
    "release_type",
    "version",
    "replaced",
    "triggered_by",
    "approved_by",
    "started",
    "finished",
    "outcome",
    "hosts",
    "reason",
)


def week_figures(runs: list[dict[str, Any]], now: datetime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The last production changes (newest first) and this week's DORA figures, as evidence.py computes them
    for the release report."""
    found = evidence.changes(runs)
    m = evidence.dora(found, now, weeks=1)
    figures = {
        "deployments": m.deployments,
        "failures": m.failures,
        "deployment_frequency_per_week": m.deployment_frequency,
        "lead_time_hours": m.lead_time_hours,
        "change_failure_rate_percent": m.change_failure_rate,
        "time_to_restore_hours": m.time_to_restore_hours,
        "restores": m.restores,
    }
    return [change_row(c) for c in reversed(found[-CHANGES_SHOWN:])], figures


def environment_card(env: config.Environment, hosts: list[dict[str, Any]], primary: dict[str, Any]) -> dict[str, Any]:
    """An environment's card from its hosts' status (or their error) and its first host's lock and freeze.
    Each kept release is listed once, marked bad when any host marks it so."""
    first = next((h for h in hosts if "current" in h), {})
    kept: dict[str, dict[str, Any]] = {}
    for h in hosts:
        for r in h.get("releases", []):
            mark = kept.setdefault(r["release"], {"release": r["release"], "version": r["version"], "bad": False})
            mark["bad"] = mark["bad"] or bool(r["bad"])
            mark["live_on"] = [*mark.get("live_on", []), h["host"]] if r["live"] else mark.get("live_on", [])
    return {
        "environment": env.name,
        "hosts": hosts,
        "live": first.get("current", ""),
        "version": first.get("version", ""),
        "since": first.get("since", ""),
        "run_id": first.get("run_id", ""),
        "previous_good": first.get("previous_good", ""),
        "kept": list(kept.values()),
        "consistent": len({h.get("current") for h in hosts}) == 1,
        "lock": primary.get("lock"),
        "freeze": primary.get("freeze"),
        "errors": [h["error"] for h in hosts if h.get("error")] + list(primary.get("errors", [])),
    }


def by_whom(cards: dict[str, dict[str, Any]], runs: list[dict[str, Any]]) -> None:
    """Name the person behind each live release: the triggering user of the run that put it live."""
    known = {r["run_id"]: r for r in runs}
    for card in cards.values():
        run = known.get(card["run_id"], {})
        card["by"], card["run_dag"] = run.get("triggered_by", ""), run.get("dag_id", "")


def next_windows(cfg: config.Config, now: datetime) -> list[dict[str, Any]]:
    """Per release type: its window, whether it is open now, and when it next opens (pure: the clock is given)."""
    rows = []
    for rtype in policy.RELEASE_TYPES.values():
        window = cfg.window(rtype)
        opened = window.opened(now) if window else now
        rows.append(
            {
                "release_type": rtype.name,
                "dag_id": rtype.dag_id,
                "window": window.describe() if window else "any time",
                "open": opened is not None,
                "closes": (opened + window.length).isoformat() if window and opened else None,
                "next": window.next_opening(now).isoformat() if window and opened is None else None,
            }
        )
    return rows


def age_seconds(snapshot: dict[str, Any] | None, now: datetime) -> float | None:
    taken = evidence.parse_time((snapshot or {}).get("taken_at"))
    return (now - taken).total_seconds() if taken else None


def age_words(seconds: float | None) -> str:
    """How old, as a person says it: 40 s, 3 min, 2 h 5 min, 6 d 20 h."""
    if seconds is None:
        return "never"
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def stale(age: float | None) -> bool:
    """Older than two snapshot periods: the snapshot DAG is paused or failing."""
    return age is None or age > timedelta(minutes=11).total_seconds()


def view(snapshot: dict[str, Any] | None, cfg: config.Config, now: datetime) -> dict[str, Any]:
    """What the page and the JSON endpoint show: the snapshot, its age, and the windows."""
    age = age_seconds(snapshot, now)
    snap = snapshot or {}
    return {
        "now": now.isoformat(),
        "snapshot": {
            "taken_at": snap.get("taken_at"),
            "run_id": snap.get("run_id"),
            "age_seconds": age,
            "age": age_words(age),
            "stale": stale(age),
        },
        "environments": [
            snap.get("environments", {}).get(env.name, {"environment": env.name, "hosts": [], "errors": []})
            for env in cfg.environments.values()
        ],
        "in_flight": snap.get("in_flight", []),
        "incidents": snap.get("incidents", []),
        "signoffs": snap.get("signoffs", []),
        "changes": snap.get("changes", []),
        "dora_week": snap.get("dora_week", {}),
        "windows": next_windows(cfg, now),
        "errors": snap.get("errors", []),
    }
