"""Judge a live release by the policy's rollback triggers, right after the switch and while it is watched.

    switch_release ─> verify_release (per host) ─> watch_release ─┬─> release_verified
                                                                  └─> rollback.decide_rollback

``watch_release`` is a reschedule-mode sensor: it frees its worker slot between
checks. Its first check judges what ``verify_release`` measured; later checks
(every 15 s, for the watch period of the policy or the environment file)
measure again. It ends at once when a trigger trips, or healthy when the
period is over, and then sends the environment on or to its rollback itself
(the way not taken shows as skipped): the next step starts without waiting for
a task of its own to branch.
"""

from __future__ import annotations

import logging
import shlex
import time
from datetime import timedelta
from typing import Any, NoReturn

from airflow.providers.standard.decorators.sensor import DecoratedSensorOperator
from airflow.sdk import PokeReturnValue, task
from airflow.sdk.bases.decorator import task_decorator_factory
from airflow.sdk.bases.skipmixin import XCOM_SKIPMIXIN_KEY, XCOM_SKIPMIXIN_SKIPPED
from airflow.sdk.exceptions import DownstreamTasksSkipped

from laravel_release import config, gates, remote, verify
from laravel_release.policy import ReleaseType
from laravel_release.steps.verify import measure_host

log = logging.getLogger(__name__)


def measure_database(target: dict[str, Any], since: str = "") -> dict[str, Any]:
    """measure.sh on the environment's primary host (``target`` carries its command)."""
    cmd = target["commands"]["measure"] + (" " + shlex.join(["--since", since]) if since else "")
    code, results, err = remote.call(target["ssh_conn_id"], target["host"], cmd)
    if code != 0 or not results:
        raise remote.RemoteError(f"{target['host']}: measure failed with exit {code}: {remote.error_reason(err)}")
    return results[-1]


def judge(
    environment: str, hosts: list[dict[str, Any]], before: dict[str, Any] | None, after: dict[str, Any]
) -> dict[str, Any]:
    """The verdict on an environment, as an XCom: healthy or not, the trigger, its numbers, the words."""
    measured = verify.measurements(hosts, before, after)
    verdict = verify.rollback_verdict(measured)
    return {
        "environment": environment,
        "healthy": verdict.healthy,
        "trigger": verdict.trigger,
        "text": verdict.describe(),
        "measured": {k: v for k, v in measured.items() if k not in ("problems", "notes")},
        "notes": measured["notes"],
        "at": time.time(),
    }


class BranchingSensor(DecoratedSensorOperator):
    """A ``@task.sensor`` that ends by taking one way (``take_one_way``), and says so as a branch does: a
    task on the way not taken that someone clears later is skipped again, not run."""

    inherits_from_skipmixin = True


def watch_release(plan: Any, environment: str, verified: Any, before: Any, rtype: ReleaseType) -> Any:
    @task_decorator_factory(
        multiple_outputs=False,
        decorated_operator_class=BranchingSensor,
        task_id="watch_release",
        poke_interval=gates.MIN_POKE_SECONDS,
        mode="reschedule",
        timeout=timedelta(hours=24).total_seconds(),
    )
    def watch(plan: dict[str, Any], verified: list[dict[str, Any]], before: Any, **context: Any) -> PokeReturnValue:
        hosts = plan["environments"][environment]
        seconds = config.load().environment(environment).watch_seconds(rtype)
        first = context.get("task_reschedule_count", 0) == 0
        if first:
            measured = list(verified)
        else:
            baselines = {v["host"]: v.get("baseline_p95_seconds") for v in verified}
            measured = [measure_host(t, None) for t in hosts]
            for m in measured:  # degradation stays judged against the baseline taken before the switch
                m["baseline_p95_seconds"] = baselines.get(m["host"])
        verdict = judge(environment, measured, before, measure_database(hosts[0]))
        started = min(v["at"] for v in verified)
        if not verdict["healthy"]:
            log.error("%s: rolling back. %s", environment, verdict["text"])
            take_one_way(context, verdict, skip=["release_verified"])
        left = seconds - (time.time() - started)
        log.info("%s: %s; measured %s", environment, verdict["text"], verdict["measured"])
        if left <= 0:
            log.info("%s: watched for %.0f s: the release stays", environment, seconds)
            take_one_way(context, verdict, skip=["rollback.decide_rollback"])
        log.info("%s: watching the rollback triggers for %.0f s more", environment, left)
        return PokeReturnValue(is_done=False)

    return watch(plan, verified, before)


def take_one_way(context: Any, value: Any, skip: list[str]) -> NoReturn:
    """End the task the way a branch ends: ``value`` pushed as its return value would be, and the tasks of
    ``skip`` (directly downstream, ids within the task's group) skipped. A branch operator after it would
    be one more task to start, and each costs its own process."""
    ti = context["ti"]
    group = ti.task_id.rpartition(".")[0]
    skipped = [f"{group}.{t}" if group else t for t in skip]
    ti.xcom_push(key="return_value", value=value)
    ti.xcom_push(key=XCOM_SKIPMIXIN_KEY, value={XCOM_SKIPMIXIN_SKIPPED: skipped})  # read when one is cleared
    log.info("skipped: %s", ", ".join(skipped))
    raise DownstreamTasksSkipped(tasks=skipped)


@task(task_id="release_verified")
def release_verified(verified: list[dict[str, Any]], verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """The environment is verified and was watched: what the next stage waits for. The seed's performance
    targets (p95 of pages and of APIs, error rate) are not rollback triggers: missed, the release warns."""
    missed = verify.targets_missed(verify.release_figures(verified))
    for line in missed:
        log.warning("PERFORMANCE TARGET MISSED on %s: %s", verdict["environment"], line)
    return [{**v, "measured": verdict["measured"], "targets_missed": missed} for v in verified]


def before_switch(plan: Any, environment: str) -> Any:
    """The primary host's measurements before anything changes (the integrity baseline)."""

    @task(task_id="measure_before")
    def measure(plan: dict[str, Any]) -> dict[str, Any]:
        result = measure_database(plan["environments"][environment][0])
        log.info("%s before the release: database %s, tables %s", environment, result["database"], result["tables"])
        return result

    return measure(plan)
