"""Gates: what must hold before an environment changes.

    write_signoff_request ─┬─> approve_production (Required Actions in the UI) ─┐
                           └─> external_signoff   (an approval service, HTTP)  ─┴─> uat_signed_off ─> wait_for_window
    ... ─> claim_<env> (setup: not frozen, then the lock) ─> deploy ... ─> release_<env> (teardown)

- The UAT sign-off: only the environment's approvers may answer, and never the
  person who triggered the release (unless ``signoff.allow_self_approval``);
  Reject, or no answer within the timeout, stops the release with production
  untouched. Stakeholders outside Airflow answer through an approval service;
  either source may approve, a rejection from either stops the release.
  ``uat_signed_off`` passes only on a recorded approval: a gate marked success
  by hand has none, and stops the release.
- The release window: production waits (deferred, no worker slot) for the
  window of its release type, and checks it again at the moment it starts.
  An emergency override needs a reason, which is logged and kept in the XCom.
- Freeze and lock, per environment, on its first host (freeze.sh, lock.sh):
  a frozen environment is waited for (only a hotfix passes, with its reason);
  the lock makes sure two runs never deploy to one environment at once. It is
  taken by a setup task and given back by a teardown, so a failure releases it;
  a lock whose owner run is no longer running is stale and cleared, with a log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator, Param, PokeReturnValue, task
from airflow.sdk.api.client import ServerResponseError
from airflow.sdk.exceptions import AirflowException, AirflowRuntimeError, AirflowSkipException

from laravel_release import config, policy, remote
from laravel_release.policy import ReleaseType

log = logging.getLogger(__name__)

FINISHED_RUN_STATES = {"success", "failed"}
# Reschedule-mode sensors poke no more often than this: with a shorter interval, Airflow 3.3's
# scheduler can queue the next poke before it has processed the executor's event for the last one,
# and then marks the sensor FAILED ("finished with state success, but ... state attribute is queued").
MIN_POKE_SECONDS = 15
CLAIM_POKE_SECONDS = MIN_POKE_SECONDS


def _name(state: Any) -> str | None:
    """A state as Airflow spells it ("running"), whether it came as a string or as an enum."""
    return None if state is None else str(getattr(state, "value", state))


class GateClosed(AirflowException):
    """A gate stopped the release before the environment changed; the message says which and why."""


# ── the release window ──────────────────────────────────────────────────────


def window_decision(window: policy.Window | None, now: datetime, override: str | None) -> tuple[str, datetime | None]:
    """("go", None) | ("override", None) | ("wait", next opening). Pure: the clock is an argument."""
    if window is None or window.is_open(now):
        return "go", None
    if override:
        return "override", None
    return "wait", window.next_opening(now)


IN_FLIGHT = {"deferred", "scheduled", "queued", "running", "success"}


def releases_at_the_window(ti: Any, dag_id: str) -> list[dict[str, str]]:
    """Runs of ``dag_id`` (other than this one) that passed their gates and wait for, or went through,
    the window while still running: ``[{"run_id", "version", "state"}]``, newest version first."""
    states = ti.get_task_states(dag_id=dag_id, task_ids=["wait_for_window"])
    found = []
    for run_id, tasks in states.items():
        state = str(_name(tasks.get("wait_for_window")))
        if run_id == ti.run_id or state not in IN_FLIGHT or _run_state(ti, f"{dag_id}/{run_id}") != "running":
            continue
        plan = ti.xcom_pull(task_ids="plan_release", dag_id=dag_id, run_id=run_id) or {}
        if plan.get("version"):
            found.append({"run_id": run_id, "version": plan["version"], "state": state})
    return sorted(found, key=lambda r: policy.version_key(r["version"]), reverse=True)


class WaitForWindow(BaseOperator):
    """Production waits for the release window without holding a worker slot (deferred until it opens).

    The window is checked when the task runs and again when it resumes, so a run
    that resumes late, is caught up or is unpaused never deploys outside its window.
    """

    ui_color = "#fdf2d0"

    def __init__(self, *, release_type: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release_type = release_type

    def execute(self, context: Any, event: Any = None) -> dict[str, Any]:
        rtype = policy.release_type(self.release_type)
        window = config.load().window(rtype)
        override = context["params"].get("window_override")
        now = datetime.now(UTC)
        decision, opens = window_decision(window, now, override)
        described = window.describe() if window else "any time"
        if decision == "wait":
            assert opens is not None
            self.log.info(
                "outside the %s release window (%s): production waits until %s (%s from now), holding no worker slot",
                rtype.name,
                described,
                opens.isoformat(),
                str(opens - now).split(".")[0],
            )
            self.defer(trigger=DateTimeTrigger(moment=opens), method_name="execute")
        newer = [
            r
            for r in releases_at_the_window(context["ti"], context["dag"].dag_id)
            if policy.version_key(r["version"]) > policy.version_key(context["params"]["version"])
        ]
        if newer and decision == "go":
            raise AirflowSkipException(
                f"superseded: {newer[0]['version']} (run {newer[0]['run_id']}) also passed UAT for this window; "
                f"only the newest {rtype.name} release goes live. Production is not touched by this run."
            )
        if decision == "override":
            self.log.warning(
                "WINDOW OVERRIDE: production goes now, outside the %s release window (%s), triggered by %s. Reason: %s",
                rtype.name,
                described,
                _triggered_by(context),
                override,
            )
        else:
            self.log.info("inside the release window (%s): production may go", described)
        return {"decision": decision, "window": described, "override_reason": override or None, "at": now.isoformat()}


def _triggered_by(context: Any) -> str:
    dag_run = context["dag_run"]
    return getattr(dag_run, "triggering_user_name", None) or str(getattr(dag_run, "run_type", "")) or "unknown"


# ── freeze and lock ─────────────────────────────────────────────────────────


def _primary(plan: dict[str, Any], environment: str) -> dict[str, Any]:
    return plan["environments"][environment][0]


def run_verb(target: dict[str, Any], verb: str, **values: Any) -> tuple[int, dict[str, Any], str]:
    """A verb script whose exit code may be an answer (6: locked) on a host: (exit, its JSON line, stderr)."""
    cmd = remote.command(target["tools_dir"], verb, extra=remote.options(deploy_path=target["deploy_path"], **values))
    code, results, err = remote.call(target["ssh_conn_id"], target["host"], cmd)
    if code not in (0, 6) or not results:
        raise remote.RemoteError(f"{target['host']}: {verb} failed with exit {code}: {remote.error_reason(err)}")
    return code, results[-1], err


def freeze_decision(freeze: dict[str, Any] | None, rtype: ReleaseType, reason: str | None) -> str:
    """ "go" (not frozen), "pass" (a hotfix passes it with its reason) or "wait"."""
    if not freeze:
        return "go"
    if rtype.passes_freeze and reason:
        return "pass"
    return "wait"


def lock_decision(code: int, holder_state: str | None) -> str:
    """After lock.sh: "taken", "stale" (its owner run is over or gone) or "wait" (anything else:
    a lock is never taken from a run that may still be live)."""
    if code == 0:
        return "taken"
    return "stale" if holder_state is None or holder_state in FINISHED_RUN_STATES else "wait"


def may_take_over(rtype: ReleaseType, params: Any, holder: str) -> bool:
    """A rollback asked to (``take_over_lock``) takes the lock from a release run that still holds it;
    never from another rollback."""
    return (
        rtype.name == policy.ROLLBACK.name and bool(params.get("take_over_lock")) and not holder.startswith("rollback/")
    )


def _run_state(ti: Any, owner: str) -> str | None:
    dag_id, _, run_id = owner.partition("/")
    try:
        return _name(ti.get_dagrun_state(dag_id=dag_id, run_id=run_id))
    # the API answers "not found" for a run that no longer exists (in-process under dag.test: ServerResponseError)
    except (AirflowRuntimeError, ServerResponseError) as err:
        log.info("the owner run %s cannot be found (%s): treated as over", owner, err)
        return None


def claim_environment(plan: Any, environment: str | None, rtype: ReleaseType) -> Any:
    """Setup task of an environment: wait while it is frozen or locked by a live run, then take the lock.

    ``environment`` None: the one the plan names (the rollback DAG's, chosen at trigger time).
    """

    static_environment = environment

    @task.sensor(
        task_id="claim_environment",
        poke_interval=CLAIM_POKE_SECONDS,
        mode="reschedule",
        timeout=timedelta(hours=24).total_seconds(),
    )
    @remote.shared_connections()  # the freeze and the lock: one SSH connection
    def claim(plan: dict[str, Any], **context: Any) -> PokeReturnValue:
        environment = static_environment or plan["environment"]
        target = _primary(plan, environment)
        # how long to wait for a frozen or locked environment comes from the environment file
        context["task"].timeout = config.load().environment(environment).claim_timeout_minutes * 60
        _, frozen, _ = run_verb(target, "freeze")
        freeze = json.loads(frozen["freeze"]) if isinstance(frozen.get("freeze"), str) else frozen.get("freeze")
        reason = context["params"].get("reason")
        verdict = freeze_decision(freeze if frozen.get("frozen") else None, rtype, reason)
        if verdict == "wait":
            assert freeze is not None
            log.warning(
                "%s is FROZEN since %s by %s (%s): waiting until an operator clears it (DAG deployment_freeze, "
                "action clear). Only a hotfix with a reason passes a freeze.",
                environment,
                freeze.get("since"),
                freeze.get("by"),
                freeze.get("reason"),
            )
            return PokeReturnValue(is_done=False)
        if verdict == "pass":
            log.warning(
                "%s is frozen (%s); this %s passes the freeze. Reason: %s", environment, freeze, rtype.name, reason
            )

        owner = plan["owner"]
        label = f"{plan['release_type']} {plan['version']}"
        code, held, _ = run_verb(target, "lock", owner=owner, by=label)
        holder = held.get("held_by", "")
        state = _run_state(context["ti"], holder) if code == 6 else None
        decision = lock_decision(code, state)
        takeover = decision == "wait" and may_take_over(rtype, context["params"], holder)
        if takeover:
            log.warning(
                "LOCK TAKEN OVER on %s: %s (%s, run %s since %s) still held it; this rollback was asked to take it "
                "(take_over_lock). That run may still change hosts: stop it (mark it failed) if it has not ended.",
                environment,
                holder,
                held.get("label"),
                state,
                held.get("since"),
            )
        elif decision == "stale":
            log.warning(
                "STALE LOCK on %s: held by %s (%s) since %s, whose run is %s. Clearing it.",
                environment,
                holder,
                held.get("label"),
                held.get("since"),
                state or "gone",
            )
        if decision == "stale" or takeover:
            run_verb(target, "lock", owner=holder, **{"break": True})
            code, held, _ = run_verb(target, "lock", owner=owner, by=label)
            decision = lock_decision(code, "running")
        if decision == "wait":
            log.info(
                "%s is locked by %s (%s, run %s) since %s: waiting for it to finish",
                environment,
                holder,
                held.get("label"),
                state,
                held.get("since"),
            )
            return PokeReturnValue(is_done=False)
        log.info("%s locked for %s (%s)", environment, owner, label)
        if environment == "production" and plan["release_type"] != policy.ROLLBACK.name:
            never_backwards(plan, target)
        return PokeReturnValue(
            is_done=True,
            xcom_value={"owner": owner, "freeze_passed": freeze if verdict == "pass" else None, "at": time.time()},
        )

    return claim(plan)


def never_backwards(plan: dict[str, Any], target: dict[str, Any]) -> None:
    """Production never goes back to an older version through a release (that is what rollback is for):
    when two releases waited for one window, the older one ends here, skipped, with the lock given back."""
    live = remote.live_version(target["ssh_conn_id"], target["host"], target["deploy_path"])
    if live and policy.version_key(live) > policy.version_key(plan["version"]):
        run_verb(target, "lock", owner=plan["owner"], release=True)
        raise AirflowSkipException(
            f"superseded: production already runs {live}, newer than {plan['version']}; nothing deployed. "
            "To go back to an older version, use the rollback DAG."
        )


@task(task_id="release_environment")
def release_environment(plan: dict[str, Any], environment: str | None = None) -> dict[str, Any]:
    """Teardown: give the environment's lock back (only this run's lock; runs even when the deploy failed)."""
    environment = environment or plan["environment"]
    target = _primary(plan, environment)
    code, result, _ = run_verb(target, "lock", owner=plan["owner"], release=True)
    if code == 6:
        log.warning("%s: the lock is held by %s, not by this run: left alone", environment, result.get("held_by"))
    else:
        log.info("%s: lock released", environment)
    return result


# ── the UAT sign-off ────────────────────────────────────────────────────────


@task
def write_signoff_request(plan: dict[str, Any], notes: str, uat_results: Iterable[dict[str, Any]]) -> str:
    """What the approver reads: the version, what it replaces, the release notes, the UAT results."""
    checks = "\n".join(
        f"- {r['host']}: serves {r['version']}, health, version and smoke tests passed; {r['requests']} probe "
        f"requests, {r['error_rate_percent']:g}% errors, p95 {r['p95_seconds'] * 1000:.0f} ms"
        for r in uat_results
    )
    return (
        f"Version **{plan['version']}** is live on UAT and passed its checks. Production runs "
        f"**{plan['since'] or 'nothing yet'}**.\n\n"
        "Approve to release it to production; Reject (say why in the comment) stops the release and "
        "production is not touched.\n\n"
        f"{notes}\n**UAT results**\n\n{checks}\n"
    )


def signoff_verdict(event: dict[str, Any], timeout_hours: float) -> tuple[bool, str]:
    """(approved, what happened) from a Required Action's answer."""
    if "error" in event or event.get("timedout"):
        return False, f"no answer within {timeout_hours:g} h: the sign-off request expired and counts as rejected"
    who = (event.get("responded_by_user") or {}).get("name") or "unknown"
    comment = ((event.get("params_input") or {}).get("comment") or "").strip()
    if event.get("chosen_options") == [ApprovalOperator.APPROVE]:
        return True, f"approved by {who}" + (f": {comment}" if comment else "")
    return False, f"rejected by {who}: {comment or 'no reason given'}"


class SignoffGate(ApprovalOperator):
    """The UAT sign-off in Required Actions, answered only by the environment's approvers.

    The approvers and the timeout come from the environment file when the task
    runs. Reject, or no answer before the timeout, fails the task with who and
    why: a stopped release is a failed run, and production is not touched.
    """

    def __init__(self, *, rtype: ReleaseType, environment: str = "uat", params: Any = None, **kwargs: Any) -> None:
        del params  # the DAG's params (passed in by default): not part of the sign-off form
        comment = Param(
            None,
            type=["null", "string"],
            title="Comment",
            description="What you checked, or why you reject (shown in the run's log).",
        )
        super().__init__(
            defaults=self.REJECT,
            response_timeout=timedelta(hours=rtype.signoff_timeout_hours),
            params={"comment": comment},  # the form; the DAG's params are not asked again
            **kwargs,
        )
        self.environment = environment

    def _timeout(self, env: config.Environment) -> timedelta | None:
        return timedelta(hours=env.signoff_timeout_hours) if env.signoff_timeout_hours else self.response_timeout

    def execute(self, context: Any) -> Any:
        env = config.load().environment(self.environment)
        self.response_timeout = self._timeout(env)
        who = triggering_user(context)
        approvers = may_approve(env, who)
        if env.approvers and not approvers:
            raise GateClosed(
                f"UAT sign-off: {who} triggered this release and is its only approver; a release needs someone "
                "else's approval. Name a second approver in signoff.approvers (or set signoff.allow_self_approval). "
                "The release stops here; production was not touched."
            )
        if who and who in env.approvers and who not in approvers:
            self.log.info("%s triggered this release: not asked to approve it (signoff.allow_self_approval)", who)
        self.assigned_users = [{"id": name, "name": name} for name in approvers] or None
        self.log.info(
            "sign-off requested from %s; expires in %s (then counts as rejected)",
            ", ".join(approvers) or "any user allowed to answer" + (f" but {who}" if who else ""),
            self.response_timeout,
        )
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        # resumed in a new process: the timeout in force was the environment file's
        env = config.load().environment(self.environment)
        timeout = self._timeout(env)
        hours = (timeout or timedelta(0)).total_seconds() / 3600
        approved, said = signoff_verdict(event, hours)
        responder = (event.get("responded_by_user") or {}).get("name") or ""
        if approved and not may_answer(env, triggering_user(context), responder):
            approved, said = False, f"{said}; but {responder} may not approve it (not an approver, or triggered it)"
        if not approved:
            raise GateClosed(f"UAT sign-off: {said}. The release stops here; production was not touched.")
        self.log.info("UAT sign-off: %s", said)
        return super().execute_complete(context, event)


def triggering_user(context: Any) -> str:
    """Who triggered the run ('' for a scheduled run, or under dag.test)."""
    return getattr(context["dag_run"], "triggering_user_name", None) or ""


def may_approve(env: config.Environment, triggered_by: str) -> list[str]:
    """The environment's approvers who may answer this run: without whoever triggered it, unless allowed."""
    if env.allow_self_approval or not triggered_by:
        return list(env.approvers)
    return [name for name in env.approvers if name != triggered_by]


def may_answer(env: config.Environment, triggered_by: str, responder: str) -> bool:
    """Whether this responder's approval counts: a named approver who may approve this run, or, with no
    approvers named, anyone but whoever triggered it (unless allowed)."""
    if env.approvers:
        return responder in may_approve(env, triggered_by)
    return env.allow_self_approval or responder != triggered_by


def external_verdict(answer: Any, version: str = "", run_id: str = "") -> tuple[str, str]:
    """("approved" | "rejected" | "pending", who/why) from the approval service's JSON answer. A decision
    counts only when it echoes the version and the run it decides; anything else is still pending."""
    if not isinstance(answer, dict) or answer.get("status") not in ("approved", "rejected", "pending"):
        return "pending", f"unexpected answer {str(answer)[:200]!r}"
    if answer["status"] != "pending" and (answer.get("version"), answer.get("run_id")) != (version, run_id):
        return "pending", (
            f"a decision for version {answer.get('version')!r}, run {answer.get('run_id')!r}, not for {version}, "
            f"run {run_id}: it counts only when it names both"
        )
    who = answer.get("by") or "the approval service"
    comment = answer.get("comment") or ""
    return answer["status"], f"{answer['status']} by {who}" + (f": {comment}" if comment else "")


def withdraw_request(task_id: str) -> None:
    """Skip the Required Action of this run: the approval service decided. (SkipMixin.skip would
    end this task as a success on the spot, before a rejection can fail it; this sends the same
    request to Airflow and carries on.)"""
    from airflow.sdk.execution_time.comms import SkipDownstreamTasks
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    SUPERVISOR_COMMS.send(msg=SkipDownstreamTasks(tasks=[task_id]))


def external_signoff(plan: Any, rtype: ReleaseType, environment: str = "uat") -> Any:
    """Wait for the approval service (reschedule mode: no worker slot between polls).

    GET <connection><endpoint>?release_type=..&version=..&run_id=.. (the HTTP
    connection ``signoff.service.conn_id`` holds the URL and credentials; https
    unless it says otherwise) answers {"status": "approved"|"rejected"|"pending",
    "version": "...", "run_id": "...", "by": "...", "comment": "..."}: a decision
    that does not echo this version and run id counts as pending.
    An approval there withdraws the request in Airflow (the Required Action is
    skipped); a rejection there stops the release. When someone answers in Airflow
    first, this task ends. Without a configured service it skips at once.
    """
    gate_id = "approve_production"

    @task.sensor(
        task_id="external_signoff",
        poke_interval=30,
        mode="reschedule",
        timeout=timedelta(hours=rtype.signoff_timeout_hours).total_seconds(),
    )
    def wait(plan: dict[str, Any], **context: Any) -> PokeReturnValue:
        env = config.load().environment(environment)
        if not env.signoff_conn_id:
            raise AirflowSkipException("no approval service configured (signoff.service): Required Actions only")
        # how often to ask, from the environment file
        context["task"].poke_interval = max(env.signoff_poll_seconds, MIN_POKE_SECONDS)
        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=[gate_id])
        request = _name(states.get(ti.run_id, {}).get(gate_id))
        if request in ("success", "failed", "upstream_failed", "skipped", "removed"):
            raise AirflowSkipException(f"answered in Airflow ({gate_id} is {request})")
        import requests

        from laravel_release.hooks import ApprovalServiceHook

        hook = ApprovalServiceHook(method="GET", http_conn_id=env.signoff_conn_id)
        try:
            response = hook.run(
                env.signoff_endpoint,
                data={"release_type": rtype.name, "version": plan["version"], "run_id": ti.run_id},
                extra_options={"timeout": 10},
            )
            answer = response.json()
            status, said = external_verdict(answer, plan["version"], ti.run_id)
        except (requests.RequestException, AirflowException, ValueError) as err:
            log.warning(
                "approval service %s did not answer (%s): asking again later",
                hook.url_from_endpoint(env.signoff_endpoint),
                str(err)[:300],
            )
            return PokeReturnValue(is_done=False)
        if status == "pending":
            log.info("approval service: no decision yet on %s (%s)", plan["version"], said)
            return PokeReturnValue(is_done=False)
        if request not in ("awaiting_input", "deferred"):
            # Airflow skips only a request that is open (a task still writing it would ignore the skip)
            log.info("approval service: %s; withdrawing the Required Action once it is open (%s)", said, request)
            return PokeReturnValue(is_done=False)
        withdraw_request(gate_id)
        if status == "rejected":
            raise GateClosed(f"UAT sign-off: {said} (approval service). The release stops; production untouched.")
        log.info("UAT sign-off: %s (approval service)", said)
        return PokeReturnValue(
            is_done=True,
            xcom_value={
                "source": hook.url_from_endpoint(env.signoff_endpoint),
                "status": status,
                "version": answer["version"],
                "run_id": answer["run_id"],
                "decision": said,
                "by": answer.get("by") or "the approval service",
                "at": datetime.now(UTC).isoformat(),
            },
        )

    return wait(plan)


def signed_off(
    answer: Any, service: Any, env: config.Environment, triggered_by: str, version: str, run_id: str
) -> tuple[bool, str]:
    """(signed off, by whom or why not) from what the two sign-off tasks recorded."""
    if isinstance(answer, dict) and answer.get("chosen_options") == [ApprovalOperator.APPROVE]:
        who = (answer.get("responded_by_user") or {}).get("name") or ""
        if not may_answer(env, triggered_by, who):
            return False, f"approve_production was answered by {who or 'nobody known'}, who may not approve it"
        return True, f"approved by {who} in Airflow"
    if isinstance(service, dict) and service.get("status") == "approved":
        if (service.get("version"), service.get("run_id")) == (version, run_id):
            return True, f"{service.get('decision')} (approval service)"
        return False, f"the approval service's answer is for {service.get('version')}, run {service.get('run_id')}"
    return False, (
        f"no approval of {version} is recorded for this run: neither approve_production nor external_signoff holds "
        "an approver's answer. A sign-off task marked success by hand does not sign off a release"
    )


@task(task_id="uat_signed_off", trigger_rule="none_failed_min_one_success")
def uat_signed_off(environment: str = "uat", **context: Any) -> dict[str, Any]:
    """The gate production waits for: one recorded approval (an approver's answer, or the approval service's
    for this version and run), and no rejection (a rejection fails its task, and this one never runs).
    Its only upstreams are the two sign-off tasks: a UAT that rolled back skips them, and this one."""
    ti = context["ti"]
    plan = ti.xcom_pull(task_ids="plan_release")
    env = config.load().environment(environment)
    answer = ti.xcom_pull(task_ids="approve_production")
    service = ti.xcom_pull(task_ids="external_signoff")
    ok, said = signed_off(answer, service, env, triggering_user(context), plan["version"], ti.run_id)
    if not ok:
        raise GateClosed(f"UAT sign-off: {said}. The release stops here; production was not touched.")
    log.info("UAT sign-off recorded: %s", said)
    return {"version": plan["version"], "signed_off": said}


def uat_signoff(rtype: ReleaseType, plan: Any, notes: Any, uat_verified: Any) -> list[Any]:
    """The two sign-off sources side by side; the next task needs one approval and no rejection."""
    request = write_signoff_request(plan, notes, uat_verified)
    gate = SignoffGate(
        task_id="approve_production",
        rtype=rtype,
        subject="Release {{ params.version }} to production?",
        body=request,
        fail_on_reject=True,
    )
    external = external_signoff(plan, rtype)
    request >> external  # both sources are asked once UAT is verified
    return [gate, external]


# ── the freeze, set and cleared by an operator ──────────────────────────────


@task
def set_freeze(**context: Any) -> dict[str, Any]:
    """Freeze an environment (stop new deployments) or clear its freeze; says who and why."""
    params = context["params"]
    env = config.load().environment(params["environment"])
    host = env.primary
    who = _triggered_by(context)
    if params["action"] == "freeze" and not (params.get("reason") or "").strip():
        raise GateClosed("a freeze needs a reason (the incident): set 'reason'. Nothing was changed.")
    remote.install_tools(host.ssh_conn_id, host.name, host.tools)
    target = {
        "host": host.name,
        "ssh_conn_id": host.ssh_conn_id,
        "tools_dir": host.tools,
        "deploy_path": host.deploy_path,
    }
    if params["action"] == "freeze":
        _, result, _ = run_verb(target, "freeze", set=True, reason=params["reason"], by=who)
        log.warning(
            "%s FROZEN by %s: %s. Releases wait until it is cleared; a hotfix passes with its reason.",
            env.name,
            who,
            params["reason"],
        )
    else:
        _, result, _ = run_verb(target, "freeze", clear=True, by=who)
        log.info("%s: freeze cleared by %s; waiting releases go on", env.name, who)
    return result
