"""An alert from outside, judged; a rollback of the environment's latest release when a trigger tripped.

    judge_alert ─> start_rollback (a rollback DAG run: the incident, as any other)

``judge_alert`` reads the alert's figures (alerts.py) through the policy's
rollback triggers (``verify.rollback_verdict``, the limits a release's own
verification uses) and what is live on the environment's first host. It rolls
nothing back when every figure is within its limit, when the alert is about a
release that is no longer live, or when the live release is not the latest (the
latest was rolled back already: an alert never goes back one release more). Otherwise
``start_rollback`` starts a ``rollback`` run from the live release, code only, with
the trigger named: it freezes, announces the incident, stops for an approver when going
back by code alone is not safe, offers a restore after a data or database trigger, and
opens the post-mortem. Its run id names the release, so a second alert about the same
release starts nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from laravel_release import alerts, config, remote, verify
from laravel_release.steps.rollback import host_status, with_reported_version

log = logging.getLogger(__name__)


def rollback_conf(env_name: str, params: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The rollback run an alert asks for, or AirflowSkipException saying why there is none."""
    measured = {k: float(v) for k, v in (params.get("measured") or {}).items()}
    source = params.get("source") or "an alert"
    verdict = verify.rollback_verdict(measured)
    figures = alerts.describe({"measured": measured, "summary": params.get("summary")})
    if verdict.healthy:
        raise AirflowSkipException(
            f"{env_name}: {source} alert within every rollback trigger's limit ({figures}): nothing is rolled back"
        )
    log.warning("%s: %s alert: %s\n%s", env_name, source, figures, verdict.describe())
    current, version = status["current"], status["version"]
    if not current:
        raise AirflowSkipException(f"{env_name}: nothing is live, nothing to roll back")
    about = params.get("release")
    if about and about not in (current, version):
        raise AirflowSkipException(
            f"{env_name}: the alert is about {about}, but {current} ({version}) is live: nothing is rolled back"
        )
    latest = status["releases"][0]
    if latest["release"] != current:
        raise AirflowSkipException(
            f"{env_name}: the live release {current} ({version}) is not the latest ({latest['release']}"
            + (", rolled back from" if latest["bad"] else "")
            + "): an alert rolls back the latest release once, never one release more. If "
            f"{current} must go too, a person decides: trigger the rollback DAG."
        )
    if not status.get("previous_good"):
        raise AirflowFailException(
            f"{env_name}: {verdict.tripped[0][1]}, but there is no good release before {current} to go back "
            "to: fix forward (a hotfix passes a freeze), or freeze the environment (DAG deployment_freeze)."
        )
    name, text = verdict.tripped[0]
    return {
        "environment": env_name,
        "from": current,
        "mode": "code",
        "trigger": name,
        "reason": f"{text} ({source} alert" + (f": {params['summary']}" if params.get("summary") else "") + ")",
    }


@task(retries=0)
def judge_alert(**context: Any) -> dict[str, Any]:
    """The alert against the rollback triggers' limits and what is live: the rollback run's conf."""
    params = context["params"]
    env = config.load().environment(params["environment"])
    remote.install_tools(env.primary.ssh_conn_id, env.primary.name, env.primary.tools)
    status = with_reported_version(env, env.primary, host_status(env.primary))
    conf = rollback_conf(env.name, params, status)
    log.warning("ROLLBACK of %s from %s: %s", env.name, conf["from"], conf["reason"])
    return conf


class StartRollback(TriggerDagRunOperator):
    """A rollback run as ``judge_alert`` asked for it; its run id names the environment and the release,
    so that every alert about one release starts one rollback."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trigger_dag_id="rollback", wait_for_completion=False, skip_when_already_exists=True, **kwargs)

    def execute(self, context: Any) -> Any:
        conf = context["ti"].xcom_pull(task_ids="judge_alert")
        self.conf = conf
        self.trigger_run_id = f"alert__{conf['environment']}__{conf['from']}"[:250]
        self.log.warning("rollback run %s: %s", self.trigger_run_id, conf["reason"])
        return super().execute(context)
