"""Announce: the communication plan's messages as tasks, and the incident's escalation.

    (gates passed)  announce_release                      pre-release: what, when, which window
    (each stage)    claim_environment ─> announce_started
                    ... ─> announce_finished              success, rolled back or failed; duration, hosts
    (rollback)      decide_rollback ─> escalate           levels 2..5 while the incident stays unresolved

The incident (decide_rollback) and its resolution (record_rollback) are sent by
those tasks themselves. No task here ever fails the run: a message that cannot
be delivered is retried and logged (see notify.py).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator, task
from airflow.sdk.exceptions import AirflowSkipException

from laravel_release import config, gates, notify, policy
from laravel_release.steps.finish import notes_lines

log = logging.getLogger(__name__)


def link(context: Any) -> str:
    return notify.run_link(context["dag"].dag_id, context["run_id"])


def send(
    cfg: config.Config, message: notify.Message, context: Any, channels: list[str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """A message about an environment, on the channels it announces on, to its stakeholders."""
    env = cfg.environment(message.environment)
    return notify.deliver(
        cfg.notifications,
        message,
        env.notify if channels is None else channels,
        context,
        email_to=list(env.stakeholders),
        **kwargs,
    )


def send_incident(
    cfg: config.Config,
    message: notify.Message,
    context: Any,
    decision: dict[str, Any],
    levels: list[config.Level] | None = None,
) -> dict[str, Any]:
    """A message about an incident: on the alerts channel and the environment's own, to its stakeholders and
    to ``levels`` of the escalation matrix (default: those told at once), updating its status page incident."""
    if levels is None:
        levels = notify.due_levels(cfg.notifications.escalation, 0, 0)
    return send(
        cfg,
        message,
        context,
        channels=incident_channels(cfg, decision),
        recipients=notify.Recipients.of(levels),
        incident_id=decision.get("statuspage_incident", ""),
    )


@task(retries=0)
def announce_release(plan: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Pre-release: tell the stakeholders what goes to production, and when (its window)."""
    cfg = config.load()
    rtype = policy.release_type(plan["release_type"])
    window = cfg.window(rtype)
    override = context["params"].get("window_override")
    decision, opens = gates.window_decision(window, datetime.now(UTC), override)
    described = window.describe() if window else None
    message = notify.pre_release(
        cfg.app_name,
        rtype.name,
        plan["version"],
        plan["since"],
        described,
        opens,
        override if decision == "override" else None,
        link(context),
    )
    span = notify.window_span(opens or datetime.now(UTC), window.hours if window else 1.0)
    return send(cfg, message, context, window=span)


def announce_started(plan: Any, environment: str) -> Any:
    @task(task_id="announce_started", retries=0)
    def started(plan: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Release started: version, environment, hosts, the run's link."""
        cfg = config.load()
        hosts = [h["host"] for h in plan["environments"][environment]]
        message = notify.started(
            cfg.app_name, plan["release_type"], environment, plan["version"], plan["since"], hosts, link(context)
        )
        return send(cfg, message, context)

    return started(plan)


def outcome(states: dict[str, str], environment: str) -> tuple[str, list[str]]:
    """success, rolled_back or failed, from the environment's task states (a mapped task's are keyed
    ``<task_id>_<map index>``); and the tasks that failed."""

    def all_succeeded(task_id: str) -> bool:
        found = [s for t, s in states.items() if t == task_id or t.rpartition("_")[0] == task_id]
        return bool(found) and all(s == "success" for s in found)

    failed = sorted(t for t, s in states.items() if s in ("failed", "upstream_failed") and "announce" not in t)
    if all_succeeded(f"{environment}.release_verified"):
        return "success", []
    if all_succeeded(f"{environment}.rollback.switch_back"):  # switched back and verified
        return "rolled_back", failed
    return "failed", failed


def announce_finished(plan: Any, environment: str, claim: Any) -> Any:
    @task(task_id="announce_finished", retries=0)
    def finished(plan: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Release finished (post-release success), rolled back or failed: duration, hosts, why."""
        cfg = config.load()
        ti = context["ti"]
        found = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_group_id=environment)
        states = {t: str(gates._name(s)) for t, s in found.get(ti.run_id, {}).items()}
        result, failed = outcome(states, environment)
        claimed = ti.xcom_pull(task_ids=f"{environment}.claim_environment") or {}
        started = claimed.get("at")
        seconds = time.time() - started if started else None
        hosts = [h["host"] for h in plan["environments"][environment]]
        detail: list[str] = []
        notes: list[str] = []  # the release notes' change lines, with a production success
        if result == "success":
            verified = ti.xcom_pull(task_ids=f"{environment}.release_verified") or []
            for v in verified:
                detail.append(
                    f"{v['host']}: health, version, smoke tests passed; {v.get('error_rate_percent', 0):g}% errors, "
                    f"p95 {v.get('p95_seconds', 0) * 1000:.0f} ms"
                )
            watch = cfg.environment(environment).watch_seconds(policy.release_type(plan["release_type"]))
            if watch:
                detail.append(f"Post-release: watched {watch / 60:g} min, no rollback trigger tripped")
            if environment == "production":  # the seed's "release notes published", with the success
                notes = notes_lines(str(ti.xcom_pull(task_ids="write_release_notes") or ""))
                detail += notes
        elif result == "rolled_back":
            record = ti.xcom_pull(task_ids=f"{environment}.rollback.record_rollback", key="rollback") or {}
            detail.append(f"Why: {record.get('reason', 'a rollback trigger tripped')}")
            back = record.get("version", plan["since"] or "the previous release")
            detail.append(f"{environment} serves {back} again")
        else:
            detail.append("Failed: " + (", ".join(failed) or "see the run"))
            detail.append(f"{environment} still serves what it served before, unless the run says otherwise")
        message = notify.finished(
            cfg.app_name, environment, plan["version"], result, seconds, hosts, detail, link(context)
        )
        sent = send(cfg, message, context)
        return {"outcome": result, **sent, "notes": len(notes)}

    # a teardown of the stage's claim: it runs whatever happened once the stage began (not when it never
    # did), and the run's state stays the stage's own
    return finished(plan).as_teardown(setups=claim)


class Escalate(BaseOperator):
    """Escalate an incident the rollback did not resolve, through the matrix, holding no worker slot in between.

    It runs once the rollback has ended. The incident is resolved when its
    environment is no longer frozen by this rollback: ``record_rollback`` lifts
    the freeze after a verified rollback, and an operator who repaired the
    environment by hand lifts it with the deployment_freeze DAG. Each level whose
    ``after_minutes`` (counted from the decision) has passed hears once; after the
    last level the task ends, failed, while the incident is still open.
    """

    ui_color = "#f9d0c4"

    def __init__(self, *, decided_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.decided_task_id = decided_task_id

    def execute(self, context: Any, event: Any = None, notified: int | None = None) -> Any:
        ti = context["ti"]
        decided = ti.xcom_pull(task_ids=self.decided_task_id)
        if not decided:  # no rollback was decided (none was needed, the stage never ran, or it was refused)
            found = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=[self.decided_task_id])
            state = gates._name(found.get(ti.run_id, {}).get(self.decided_task_id))
            raise AirflowSkipException(
                f"no rollback was decided ({self.decided_task_id}: {state}): nothing to escalate"
            )
        primary = decided[0]  # the primary host's rollback target, carrying the decision
        decision = primary["decision"]
        cfg = config.load()
        levels = cfg.notifications.escalation
        first = len(notify.due_levels(levels, 0, 0))  # the incident message went to the levels due at once
        if notified is None and event is not None:  # resumed: dag.test() drops the kwargs, the XCom keeps them
            notified = ti.xcom_pull(task_ids=self.task_id, key="escalated") or first
        if not frozen_by(primary, decision["owner"]):
            self.log.info("%s: the incident is resolved (the freeze is lifted)", decision["environment"])
            if notified is not None:  # it was escalating: everyone who heard hears it is over
                minutes = (time.time() - decision["started"]) / 60
                message = notify.closed(cfg.app_name, decision, minutes, link(context))
                send_incident(cfg, message, context, decision, [lv for lv in levels if lv.number <= notified])
            return {"resolved": True, "levels_notified": notified or 0}
        if not levels:
            self.log.warning("the incident is unresolved and there is no escalation matrix (notifications.escalation)")
            return {"resolved": False, "levels_notified": 0}
        notified = first if notified is None else notified
        minutes = (time.time() - decision["started"]) / 60
        for level in notify.due_levels(levels, minutes, notified):
            self.log.warning("escalating to level %d (%s) after %.1f min", level.number, level.name, minutes)
            message = notify.escalated(cfg.app_name, level, decision, minutes, link(context))
            notify.deliver(
                cfg.notifications,
                message,
                [c for c in ("slack", "email") if cfg.notifications.configured(c)],
                context,
                recipients=notify.Recipients.of([level]),
            )
            notified = level.number
            ti.xcom_push(key="escalated", value=notified)
        due = notify.next_level_at(levels, decision["started"], notified)
        if due is None:
            raise gates.GateClosed(
                f"{decision['environment']}: the incident is still unresolved after {minutes:.0f} min and every "
                f"level of the escalation matrix was told (last: level {notified}). The environment stays frozen."
            )
        wake = min(due, time.time() + cfg.notifications.escalation_poll_seconds)
        self.defer(
            trigger=DateTimeTrigger(moment=datetime.fromtimestamp(wake, UTC)),
            method_name="execute",
            kwargs={"notified": notified},
            timeout=timedelta(days=2),
        )


def incident_channels(cfg: config.Config, decision: dict[str, Any]) -> list[str]:
    """An incident's messages: Slack's alerts channel always, and the environment's own channels."""
    return list(dict.fromkeys(["slack", *cfg.environment(decision["environment"]).notify]))


def frozen_by(target: dict[str, Any], owner: str) -> bool:
    """Is the environment still frozen by this rollback (``owner``: dag_id/run_id)?"""
    _, frozen, _ = gates.run_verb(target, "freeze")
    if not frozen.get("frozen"):
        return False
    freeze = frozen.get("freeze")
    freeze = json.loads(freeze) if isinstance(freeze, str) else (freeze or {})
    return str(freeze.get("by", "")) == owner


def escalate(decided: Any) -> Any:
    """The escalation task of a rollback: after it, whatever its outcome. A teardown, like the stage's
    closing announcement, so that the run's state stays the rollback's (a rolled-back release fails)."""
    return Escalate(task_id="escalate", decided_task_id=decided.operator.task_id, retries=0).as_teardown()
