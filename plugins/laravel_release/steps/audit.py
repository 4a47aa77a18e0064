"""The daily audit of what is live: a critical advisory published since a release went live is the seed's
first rollback trigger ("critical security vulnerability").

    <environment>: audit_dependencies ─> raise_security_trigger (a rollback_on_alert run)

``audit_dependencies`` runs ``scan.sh --advisories-only`` (``composer audit`` and
``npm audit`` of the locked dependencies) in the live release's folder on the
environment's first host, and in the previous good release's. When the live
release has critical advisories the release before it has not, going back helps:
``raise_security_trigger`` sends them to ``rollback_on_alert`` as the security
trigger's figure, judged and rolled back like any alert, once per release. When
the release before has them too, a rollback removes nothing: the task fails and
says to release the fix as a hotfix. An advisory database out of reach is said;
``build.advisories: block`` makes it fail the audit.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from laravel_release import alerts, config, plan, remote
from laravel_release.steps.rollback import host_status

log = logging.getLogger(__name__)


def audit_release(h: config.Host, release: str) -> dict[str, Any]:
    """scan.sh's advisories of one kept release, where it is on the host (nothing is written there)."""
    cmd = remote.command(
        h.tools,
        "scan",
        extra=remote.options(
            dir=f"{h.deploy_path}/releases/{release}",
            advisories_only=True,
            advisories="warn",
            max_critical=plan.WAIVED_CRITICAL,
        ),
    )
    code, results, err = remote.call(h.ssh_conn_id, h.name, cmd, timeout=300)
    if code != 0 or not results:
        raise remote.RemoteError(
            f"{h.name}: the audit of {release} failed with exit {code}: {remote.error_reason(err)}"
        )
    return results[-1]


def security_alert(
    env_name: str, status: dict[str, Any], live: dict[str, Any], before: dict[str, Any] | None, block: bool
) -> dict[str, Any]:
    """The alert the audit raises (a rollback_on_alert run's conf), or why there is none (skipped, or
    failed when a person must act)."""
    current, version = status["current"], status["version"]
    critical = int(live["critical"])
    if critical == 0:
        if live["advisories"] != "checked":
            text = f"{env_name}: the advisories of {current} were not checked ({live['advisories']})"
            if block:
                raise AirflowFailException(
                    f"{text}. build.advisories is block: let {env_name}'s first host reach them."
                )
            raise AirflowSkipException(f"{text}; build.advisories is warn")
        raise AirflowSkipException(f"{env_name}: {current} ({version}) has no critical advisory ({live['high']} high)")
    findings = "; ".join(f for f in live.get("findings", []) if "critical" in f)
    found = f"{env_name}: {critical} critical advisory(ies) in the live {current} ({version}): {findings}."
    if before is not None and before["advisories"] != "checked":
        raise AirflowFailException(
            f"{found} Whether {status['previous_good']}, the release before it, has them is not known "
            f"({before['advisories']}): decide between a rollback (DAG rollback) and a hotfix."
        )
    if before is not None and int(before.get("critical") or 0) >= critical:
        raise AirflowFailException(
            f"{found} The release before it, {status['previous_good']}, has {before['critical']}: a rollback "
            "removes none. Release the fixed dependencies as a hotfix."
        )
    return {
        "environment": env_name,
        "source": "security_audit",
        "measured": {"critical_vulnerabilities": critical},
        "summary": f"{findings} in {version}"[: alerts.SUMMARY_MAX],
        "release": current,
    }


@task(retries=0)
def audit_dependencies(environment: str) -> dict[str, Any]:
    """The live release's known advisories (and the previous good release's), on the first host."""
    cfg = config.load()
    env = cfg.environment(environment)
    h = env.primary
    remote.install_tools(h.ssh_conn_id, h.name, h.tools)
    status = host_status(h)
    if not status["current"]:
        raise AirflowSkipException(f"{env.name}: nothing is live")
    live = audit_release(h, status["current"])
    before = audit_release(h, status["previous_good"]) if status.get("previous_good") else None
    log.info(
        "%s: %s has %s critical, %s high advisory(ies)%s",
        env.name,
        status["current"],
        live["critical"],
        live["high"],
        f"; {status['previous_good']} has {before['critical']} critical" if before else "",
    )
    return security_alert(env.name, status, live, before, cfg.build.advisories == "block")


class RaiseSecurityTrigger(TriggerDagRunOperator):
    """The audit's finding as an alert: a rollback_on_alert run, once per environment and release."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            trigger_dag_id=alerts.ALERT_DAG, wait_for_completion=False, skip_when_already_exists=True, **kwargs
        )

    def execute(self, context: Any) -> Any:
        group = self.task_group.group_id  # type: ignore[union-attr]
        conf = context["ti"].xcom_pull(task_ids=f"{group}.audit_dependencies")
        self.conf = conf
        self.trigger_run_id = f"security_audit__{conf['environment']}__{conf['release']}"[:250]
        self.log.warning("SECURITY TRIGGER raised for %s: %s", conf["environment"], conf["summary"])
        return super().execute(context)
