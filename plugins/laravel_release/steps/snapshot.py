"""The cockpit's snapshot (DAG release_cockpit): what runs where, read without changing anything.

    take_snapshot

Every host's ``status.sh`` (live release, since when, by which run, kept releases),
the environment's lock and freeze on its first host, and the release and rollback
runs of the last week from Airflow's REST API (``reports.api_conn_id``, as the
release report reads them): in flight, open incidents and their escalation level,
sign-offs waiting, the last production changes and this week's DORA figures. A host
that does not answer is said on its card; the snapshot is stored all the same
(Variable ``releases_cockpit_snapshot``), so the page shows what is known and how old.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Variable, task
from airflow.sdk.exceptions import AirflowNotFoundException

from laravel_release import cockpit, config, gates, history, notify, remote
from laravel_release.client import Airflow, ApiError
from laravel_release.steps.metrics import api_client
from laravel_release.steps.rollback import host_status

log = logging.getLogger(__name__)


NO_TOOLS = 127  # the shell's "command not found": the release tools were never installed there


def unreleased(err: remote.RemoteError) -> bool:
    return f"exit {NO_TOOLS}:" in str(err)


def hosts_state(env: config.Environment) -> list[dict[str, Any]]:
    found = []
    for h in env.hosts:
        try:
            found.append({"host": h.name, **host_status(h)})
        except remote.RemoteError as err:
            log.warning("%s", err)
            if unreleased(err):  # reachable, and never released to by this project: not an error
                found.append({"host": h.name, "current": "", "version": "", "releases": [], "note": NOT_YET})
            else:
                found.append({"host": h.name, "error": str(err)})
    return found


NOT_YET = "nothing released here yet (no release tools on the host)"


def primary_state(env: config.Environment) -> dict[str, Any]:
    """The lock's holder and the freeze, kept on the environment's first host."""
    h = env.hosts[0]
    target = {"host": h.name, "ssh_conn_id": h.ssh_conn_id, "tools_dir": h.tools, "deploy_path": h.deploy_path}
    state: dict[str, Any] = {"errors": []}
    for verb, key, extra in (("lock", "lock", {"status": True}), ("freeze", "freeze", {})):
        try:
            _, result, _ = gates.run_verb(target, verb, **extra)
        except remote.RemoteError as err:
            if not unreleased(err):
                state["errors"].append(str(err))
            state[key] = None
            continue
        if verb == "lock":
            state[key] = result if result.get("locked") else None
        else:
            state[key] = result["freeze"] if result.get("frozen") else None
    return state


def signoffs(api: Airflow, flying: list[dict[str, Any]], base_url: str) -> list[dict[str, Any]]:
    """The sign-offs and approvals the runs in flight wait for, each with its Required Actions page."""
    found = []
    for run in flying:
        for detail in api.pending_signoffs(run["dag_id"], run["run_id"]):
            task_id = detail.task_instance.task_id
            found.append(
                {
                    "dag_id": run["dag_id"],
                    "run_id": run["run_id"],
                    "environment": run["environment"],
                    "version": run["version"],
                    "task_id": task_id,
                    "subject": detail.subject,
                    "assignees": [u.name for u in (detail.assigned_users or [])],
                    "link": notify.run_link(run["dag_id"], run["run_id"], base_url) + "/required_actions",
                }
            )
    return found


def with_escalation_levels(api: Airflow, incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each open incident with the escalation level its task reached (its XCom ``escalated``)."""
    for inc in incidents:
        try:
            inc["level"] = api.xcom(inc["dag_id"], inc["run_id"], inc["task"], "escalated")
        except ApiError:
            inc["level"] = None
    return incidents


@task(retries=0)  # the next snapshot is five minutes away
def take_snapshot(**context: Any) -> dict[str, Any]:
    """Read every host and the last week's runs; store the snapshot for the cockpit, and return it."""
    cfg = config.load()
    now = datetime.now(UTC)
    snap: dict[str, Any] = {"taken_at": now.isoformat(), "run_id": context["run_id"], "errors": []}
    cards = {}
    for env in cfg.environments.values():
        cards[env.name] = cockpit.environment_card(env, hosts_state(env), primary_state(env))
    runs: list[dict[str, Any]] = []
    try:
        api = api_client(cfg.reports_api_conn_id)
        runs = history.collect(api, since=now - timedelta(days=cockpit.HISTORY_DAYS))
        flying = cockpit.in_flight(runs)
        incidents = with_escalation_levels(api, cockpit.open_incidents(runs))
        snap.update(in_flight=flying, incidents=incidents, signoffs=signoffs(api, flying, api.base_url))
    except (ApiError, AirflowNotFoundException) as err:  # the hosts' state is still worth showing
        log.warning("the runs could not be read: %s", err)
        snap["errors"].append(
            f"the runs could not be read from Airflow's REST API (connection {cfg.reports_api_conn_id!r}, "
            f"reports.api_conn_id): {err}"
        )
    cockpit.by_whom(cards, runs)
    snap["changes"], snap["dora_week"] = cockpit.week_figures(runs, now)
    snap["environments"] = cards
    Variable.set(cockpit.SNAPSHOT_VARIABLE, json.dumps(snap, default=str))
    for name, card in cards.items():
        log.info(
            "%s: %s (%s) live since %s; lock %s; freeze %s; %s",
            name,
            card["live"] or "nothing",
            card["version"] or "-",
            card["since"] or "?",
            card["lock"] and card["lock"].get("held_by"),
            card["freeze"] and card["freeze"].get("reason"),
            "; ".join(card["errors"]) or "every host answered",
        )
    return snap
