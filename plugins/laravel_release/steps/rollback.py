"""Roll an environment back: the task group of the release DAGs (automatic) and of the rollback DAG.

    decide_rollback ─> switch_back ─> record_rollback ─> escalate (steps.announce: the escalation
                    │                                  matrix, while unresolved)
                    └─> [approve_restore ─>] choose_rollback ─> switch_back       (when a person decides)
    decide_rollback, choose_rollback ─> offer_restore

The seed's process: ``decide_rollback`` freezes the environment, shows the
decision inputs (the target, whether a code-only rollback is safe for the
release being left, how many rows were written since its backup) and refuses
what would be wrong (a target that is not kept, a second restore of
a backup restored already). When no person's decision is needed it skips the two
gates, saying why, and the switch follows at once; otherwise they wait:
``approve_restore`` (the rollback DAG) is the Required Action a restore waits on:
the environment's approvers see the rows it would lose and type its confirmation.
``choose_rollback`` is for a rollback nobody chose (a release's own, or a rollback
run an alert started: a trigger is named) when the release's migrations drop,
rename or rewrite: nothing is switched until an approver chooses: undo the
migrations, restore the backup (typed confirmation), or fix forward (the
environment stays frozen on the release).
``switch_back`` runs rollback.sh on every host at once (the atomic switch of
``current`` backwards, the release left marked bad), then the database step on
the first host (the bad release's migrations undone, or its pre-release backup
restored, if asked), then verifies health, version and smoke tests on every host:
one task, so that the hosts change within the same second and the rollback does
not wait for a task to start between its steps. ``record_rollback`` lifts the freeze and
records the rollback. A rollback that fails keeps the environment frozen. The
incident is announced when it is decided and its resolution when it is recorded
(notify.py). A trigger's rollback is code only; when a data or database trigger
caused it, ``offer_restore`` starts a rollback DAG run that restores the backup
only if an approver says so.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, NoReturn

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, TaskGroup, get_current_context, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from laravel_release import config, gates, migrations, notify, plan, policy, remote, verify
from laravel_release.steps import announce
from laravel_release.steps.judge import measure_database, take_one_way
from laravel_release.steps.prepare import check_connections
from laravel_release.steps.verify import check_host, probe, probe_hook

log = logging.getLogger(__name__)

MODES = policy.ROLLBACK_MODES
BOOKKEEPING_TABLES = ("migrations",)


class RollbackRefused(AirflowFailException):
    """The rollback cannot be done as asked; nothing was changed. The message says why and what to do."""


class RollbackFailed(AirflowException):
    """The rollback ran but the environment is not verified on the target; it stays frozen."""


class RehearsalFailed(AirflowException):
    """The rollback rehearsal on staging failed: the release goes no further than staging."""


def confirmation(environment: str, release: str) -> str:
    """What an operator types to confirm a restore of the backup taken before ``release``
    (rows written since are lost): it names the release, so a confirmation never restores another."""
    return f"restore {environment} {release}"


def _host(h: config.Host) -> dict[str, Any]:
    return {"host": h.name, "ssh_conn_id": h.ssh_conn_id, "tools_dir": h.tools, "deploy_path": h.deploy_path}


def host_status(h: config.Host) -> dict[str, Any]:
    code, results, err = remote.call(
        h.ssh_conn_id, h.name, remote.command(h.tools, "status", extra=remote.options(deploy_path=h.deploy_path))
    )
    if code != 0 or not results:
        raise remote.RemoteError(f"{h.name}: status failed with exit {code}: {remote.error_reason(err)}")
    return results[-1]


def with_reported_version(env: config.Environment, h: config.Host, status: dict[str, Any]) -> dict[str, Any]:
    """A live release another tool deployed, whose version no file tells: the version its endpoint reports."""
    if status.get("version") not in ("", "unknown") or not status.get("current") or not env.version_path:
        return status
    answer = probe(probe_hook(h.base_url), "version", env.version_path)
    reported = verify.reported_version(answer, env.version_field, env.version_pattern)
    if answer.status != 200 or not isinstance(reported, str) or not reported:
        return status
    log.info("%s: %s reports version %s (from %s)", h.name, status["current"], reported, answer.url)
    releases = [{**r, "version": reported} if r["live"] else r for r in status["releases"]]
    return {**status, "version": reported, "releases": releases}


def resolve_target(wanted: str | None, status: dict[str, Any]) -> dict[str, Any]:
    """The kept release to go back to: ``wanted`` (a release id or a version), or the previous good one."""
    kept = [r for r in status["releases"] if not r["live"]]
    names = ", ".join(f"{r['release']} ({r['version']}{', bad' if r['bad'] else ''})" for r in kept) or "none"
    if not wanted:
        found = [r for r in kept if r["release"] == status.get("previous_good")]
        if not found:
            raise RollbackRefused(
                f"there is no previous good release to go back to (live: {status['current']}; kept: {names}). "
                "Name a kept release as 'target'. Nothing was changed."
            )
        return found[0]
    found = [r for r in kept if wanted in (r["release"], r["version"]) and not r["bad"]]
    if not found:
        bad = [r for r in kept if wanted in (r["release"], r["version"]) and r["bad"]]
        why = "was rolled back from before (marked bad)" if bad else "is not a kept release"
        if status["current"] and wanted in (status["current"], status["version"]):
            why = "is the release live now"
        raise RollbackRefused(f"target {wanted!r} {why}; kept releases: {names}. Nothing was changed.")
    return found[0]  # releases are listed newest first


def migrations_of(h: config.Host, release: str) -> list[migrations.Migration]:
    """The migrations ``release`` ran here (migrations.log), classified from its own files."""
    log_text = remote.read_file(h.ssh_conn_id, h.name, f"{h.deploy_path}/.deploy/migrations.log") or ""
    ran: list[str] = []
    for line in log_text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut short (a full disk, a killed session) says nothing about the others
            log.warning("%s: skipped a line of migrations.log that is not JSON: %.120s", h.name, line)
            continue
        if entry.get("release") == release and "migrated" in entry:
            ran = entry["migrated"]
    found = []
    for name in ran:
        source = remote.read_file(
            h.ssh_conn_id, h.name, f"{h.deploy_path}/releases/{release}/database/migrations/{name}.php"
        )
        found.append(
            migrations.classify(name, source or "") if source is not None else migrations.Migration(name, "unknown")
        )
    return found


def rows_since_backup(h: config.Host, backup: dict[str, Any]) -> tuple[int | None, dict[str, int]]:
    """Rows a restore of ``backup`` would lose, per table: rows added since (counts then and now) or,
    where the table has ``updated_at``, rows written since (added or changed), whichever is more.
    ``None`` when the database does not answer the counts (a restore then waits; a code rollback does not)."""
    # Laravel's own bookkeeping (the migrations table) is what a restore is meant to put back
    counted = {t: n for t, n in backup.get("tables", {}).items() if t not in BOOKKEEPING_TABLES}
    tables = list(counted)
    cmd = remote.command(
        h.tools, "measure", extra=remote.options(deploy_path=h.deploy_path, table=tables, since=backup["taken"])
    )
    now = measure_database({**_host(h), "commands": {"measure": cmd}})
    if now.get("database") != "ok" or any(now["tables"].get(t) is None for t in counted):
        log.warning("%s: the database did not answer the row counts (%s)", h.name, now.get("database"))
        return None, {}
    per_table = {
        t: max(now["tables"][t] - then, (now.get("written_since") or {}).get(t) or 0, 0) for t, then in counted.items()
    }
    return sum(per_table.values()), per_table


def rollback_request(params: dict[str, Any]) -> dict[str, Any]:
    """The rollback DAG's request, from its trigger form."""
    if not str(params.get("reason") or "").strip():
        raise RollbackRefused("a rollback needs its reason (the incident) in 'reason'. Nothing was changed.")
    return {
        "environment": params["environment"],
        "bad_release": params.get("from") or None,
        "target": params.get("target") or None,
        "mode": params.get("mode") or "code",
        "reason": params["reason"],
        "trigger": params.get("trigger") or "",  # set by rollback_on_alert: the rollback trigger that tripped
    }


@task
@remote.shared_connections()
def plan_rollback(**context: Any) -> dict[str, Any]:
    """The rollback DAG's request, checked: the environment's connections, the scripts on its hosts,
    and who holds its lock while the rollback runs (``owner``)."""
    params = context["params"]
    request = rollback_request(params)
    cfg = config.load()
    env = cfg.environment(request["environment"])
    check_connections(cfg, (env.name,), notifications=False)
    request["unreachable"] = reachable_or_skipped(env, bool(params.get("skip_unreachable")))
    if not request["bad_release"]:  # what is live now is what this run rolls back from, and nothing else
        request["bad_release"] = host_status(env.primary)["current"] or None
        log.info("rolling back from %s (live on %s when triggered)", request["bad_release"], env.primary.name)
    return {
        **request,
        "release_type": "rollback",
        "version": f"to {request['target'] or 'the previous good release'}",
        "owner": f"{context['dag'].dag_id}/{context['run_id']}",
        "environments": {env.name: [_host(h) for h in env.hosts if h.name not in request["unreachable"]]},
    }


def reachable_or_skipped(env: config.Environment, skip_unreachable: bool) -> list[str]:
    """Put the scripts on every host; the hosts that cannot be reached, when the rollback may go on without
    them (never the first: it keeps the lock, the freeze and the database steps)."""
    skipped = []
    for h in env.hosts:
        try:
            remote.install_tools(h.ssh_conn_id, h.name, h.tools)
        except remote.RemoteError as err:
            if h == env.primary:
                raise remote.RemoteError(
                    f"{err} The first host keeps the environment's lock, freeze and database steps: the rollback "
                    "cannot go on without it."
                ) from err
            if not skip_unreachable:
                raise remote.RemoteError(
                    f"{err} To roll back the hosts that answer now, trigger again with skip_unreachable: this one "
                    "is then reported as NOT rolled back."
                ) from err
            log.warning("%s is unreachable: skipped (skip_unreachable); it is NOT rolled back. %s", h.name, err)
            skipped.append(h.name)
    return skipped


def automatic_request(release_plan: dict[str, Any], verdict: dict[str, Any]) -> dict[str, Any]:
    """A release's own rollback when a trigger tripped: always by code only (and the freeze). Restoring the
    backup loses every row written since, so it is always a person's decision (the rollback DAG)."""
    return {
        "environment": verdict["environment"],
        "target": None,
        "bad_release": release_plan["release"],
        "mode": "code",
        "reason": verdict["text"].splitlines()[0],
        "trigger_text": verdict["text"],
        "trigger": verdict["trigger"],
    }


def decision_inputs(
    primary: config.Host, bad: str
) -> tuple[list[migrations.Migration], dict[str, Any] | None, int | None, dict[str, int]]:
    """What the bad release changed in the database, and what a restore of its backup would cost:
    its migrations (classified), its pre-release backup, the rows written since (total, per table)."""
    ran = migrations_of(primary, bad)
    text = remote.read_file(primary.ssh_conn_id, primary.name, f"{primary.deploy_path}/.deploy/backups/{bad}.json")
    backup = json.loads(text) if text else None
    lost, per_table = rows_since_backup(primary, backup) if backup else (0, {})
    return ran, backup, lost, per_table


@task
@remote.shared_connections()  # one SSH connection per host for all its questions
def decide_rollback(
    request: dict[str, Any] | None = None,
    release_plan: dict[str, Any] | None = None,
    verdict: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Freeze the environment, show the decision inputs, refuse what would be wrong; plan each host's steps
    (a list of rollback targets, primary first, each carrying the decision)."""
    started = time.time()
    ctx = get_current_context()
    if request is None:
        assert release_plan is not None and verdict is not None
        request = automatic_request(release_plan, verdict)
    cfg = config.load()
    env = cfg.environment(request["environment"])
    mode = request["mode"]
    if mode not in MODES:
        raise RollbackRefused(f"mode {mode!r} is not one of {', '.join(MODES)}. Nothing was changed.")
    primary = env.primary
    skipped = list(request.get("unreachable") or ())
    reachable = [h for h in env.hosts if h.name not in skipped]
    statuses = {h.name: with_reported_version(env, h, host_status(h)) for h in reachable}
    status = statuses[primary.name]
    if not status["current"]:
        raise RollbackRefused(f"nothing is live on {primary.name}: there is nothing to roll back. Nothing was changed.")
    code_done = mode == "restore" and code_rolled_back(request, status)
    bad = request["bad_release"] if code_done else status["current"]
    if request.get("bad_release") and request["bad_release"] != bad:
        serving = ", ".join(f"{n} serves {st['current']}" for n, st in statuses.items())
        raise RollbackRefused(
            f"{primary.name} does not serve {request['bad_release']}, the release this rollback is from "
            f"({serving}): it was rolled back already, the switch did not happen there, or someone changed it "
            "since. Nothing was changed. Check the hosts, and trigger a new rollback from what is live if needed."
        )
    target = (
        next(r for r in status["releases"] if r["live"]) if code_done else resolve_target(request.get("target"), status)
    )
    for name, st in statuses.items():  # every host must keep the target
        if not any(r["release"] == target["release"] for r in st["releases"]):
            raise RollbackRefused(
                f"{name} does not keep {target['release']}: choose a release every host keeps. Nothing was changed."
            )

    ran, backup, lost, per_table = decision_inputs(primary, bad)
    automatic = bool(request["trigger"])  # a trigger tripped (a release's verification, or an alert): nobody chose
    destructive = [m for m in ran if m.kind != "additive"]
    if mode == "restore":
        if not backup:
            raise RollbackRefused(
                f"there is no backup taken before {bad} on {primary.name}: use mode code or migrations. "
                "Nothing was changed."
            )
        restored = restored_before(primary, bad)
        if restored:
            raise RollbackRefused(
                f"the backup taken before {bad} was restored already ({restored}): restoring it again would lose "
                "every row written since. Nothing was changed. If that is what you want, restore.sh does it by "
                "hand (see README.md, Break-glass)."
            )
    owner = f"{ctx['dag'].dag_id}/{ctx['run_id']}"
    earlier_freeze = freeze_for_rollback(primary, bad, request["reason"], owner)

    lines = [
        f"ROLLBACK of {env.name}: {bad} -> {target['release']} ({target['version']}), mode {mode}",
        f"why: {request['reason']}",
        "hosts: " + ", ".join(f"{n} serves {st['current']}" for n, st in statuses.items()),
        f"migrations {bad} ran: {migrations.describe(ran)}",
        "a code-only rollback is "
        + (
            "SAFE (its migrations only add)"
            if not destructive
            else f"NOT SAFE ({len(destructive)} destructive migration(s))"
        ),
        f"backup before {bad}: "
        + (
            f"taken {backup['taken']} UTC, sha256 {backup['sha256'][:12]}; "
            + (f"{lost} rows written since {per_table}" if lost is not None else "rows since: not known (database)")
            if backup
            else "none"
        ),
    ]
    if code_done:
        lines.append(f"the code is back on {target['release']} already: this run restores the database only")
    if mode == "restore":
        lines.append(
            f"RESTORE: the {lost} rows written since the backup are lost"
            if lost is not None
            else "RESTORE: the rows written since the backup are lost (how many is not known: the database did "
            "not answer the counts; restore.sh changes nothing while it does not answer)"
        )
        lines.append(f"waiting for an approver in Required Actions ('{confirmation(env.name, bad)}')")
    elif automatic and mode == "code" and destructive:
        lines.append(
            "nothing is switched until one of the approvers chooses in Required Actions (choose_rollback): "
            "undo the migrations, restore the backup, or fix forward"
        )
    elif request["trigger"] in ("data", "database") and backup:
        lines.append(
            f"a restore of the backup before {bad} is a person's decision, never automatic (it loses every row "
            "written since): a rollback run offers it in Required Actions (offer_restore)"
        )
    if earlier_freeze:
        lines.append(f"the freeze set by {earlier_freeze.get('by')} stays: {earlier_freeze.get('reason')}")
    if skipped:
        lines.append(f"NOT ROLLED BACK (unreachable, skip_unreachable): {', '.join(skipped)}")
    log.warning("\n".join(lines))

    db_cmd = plan.database_rollback_command(env, mode, bad, backup=bad)
    hosts = [
        plan.rollback_target(
            env,
            h,
            target["release"],
            target["version"],
            ctx["run_id"],
            request["reason"],
            db_cmd if h == primary else "",
            from_release=bad,
        )
        for h in reachable
    ]
    decision = {
        "environment": env.name,
        "from": bad,
        "to": target["release"],
        "version": target["version"],
        "mode": mode,
        "reason": request["reason"],
        "trigger": request["trigger"],
        "code_only_safe": not destructive,
        "automatic": automatic,
        "rows_since_backup": lost,
        "rows_per_table": per_table,
        "backup_taken": backup["taken"] if backup else None,
        "code_rolled_back": code_done,
        "summary": lines,
        "owner": owner,
        "started": started,
        "earlier_freeze": earlier_freeze,
        "not_rolled_back": skipped,
    }
    if request.get("trigger_text"):
        decision["trigger_text"] = request["trigger_text"]
    person = waits_for(decision)
    decision["summary"].append(person or "no person's decision is needed: the switch follows at once")
    decision["statuspage_incident"] = announce_incident(cfg, decision, ctx)
    targets = [{**h, "decision": decision} for h in hosts]
    if person:
        log.warning("WAITING FOR A PERSON: %s", person)
        return targets
    pass_the_gates(ctx, targets)


GATES = ("approve_restore", "choose_rollback")


def waits_for(decision: dict[str, Any]) -> str:
    """Why the rollback waits for a person before anything is switched ("" when it does not): a restore
    loses rows (approve_restore), and a code rollback nobody chose is not safe when the release's migrations
    drop, rename or rewrite (choose_rollback). The gates ask exactly then (RestoreGate, UnsafeRollbackGate)."""
    if decision["mode"] == "restore":
        return "a restore loses the rows written since its backup: an approver decides (approve_restore)"
    if decision["automatic"] and decision["mode"] == "code" and not decision["code_only_safe"]:
        return "nobody chose this rollback, and going back by code is not safe: an approver chooses (choose_rollback)"
    return ""


def pass_the_gates(context: Any, targets: list[dict[str, Any]]) -> NoReturn:
    """No person's decision is needed: the gates of this group are skipped (the run shows them skipped, the
    decision says why), so switch_back starts at once rather than after a task per gate. Ends the task."""
    group = context["ti"].task_id.rpartition(".")[0]
    log.info("no person's decision is needed: the gates are skipped")
    take_one_way(context, targets, skip=[gate for gate in GATES if f"{group}.{gate}" in context["dag"].task_dict])


def code_rolled_back(request: dict[str, Any], status: dict[str, Any]) -> bool:
    """A restore asked for after the code went back already (as ``offer_restore`` asks after a release's
    own rollback): the release it is from is kept and marked bad, and the target named is the live one."""
    wanted = request.get("bad_release")
    return (
        bool(wanted)
        and wanted != status["current"]
        and request.get("target") in (status["current"], status["version"])
        and any(r["release"] == wanted and r["bad"] for r in status["releases"])
    )


def restored_before(primary: config.Host, backup: str) -> str:
    """When and by whom the backup named ``backup`` was restored on this environment already ("" if never)."""
    text = remote.read_file(primary.ssh_conn_id, primary.name, f"{primary.deploy_path}/.deploy/restores.log") or ""
    for line in reversed(text.splitlines()):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("restored") == backup:
            return f"at {entry.get('time')} by {entry.get('user')}, safety dump {entry.get('safety_dump')}"
    return ""


def freeze_for_rollback(primary: config.Host, bad: str, reason: str, owner: str) -> dict[str, Any] | None:
    """Freeze the environment for the rollback, unless someone froze it already: that freeze is kept as it
    is (its reason, its owner) and stays after the rollback. Returns the earlier freeze, if any."""
    _, state, _ = gates.run_verb(_host(primary), "freeze")
    if state.get("frozen"):
        earlier: dict[str, Any] = state.get("freeze") or {}
        log.warning(
            "%s is frozen already by %s (%s): that freeze is kept",
            primary.name,
            earlier.get("by"),
            earlier.get("reason"),
        )
        return earlier
    gates.run_verb(_host(primary), "freeze", set=True, reason=f"rollback of {bad}: {reason}", by=owner)
    return None


def announce_incident(cfg: config.Config, decision: dict[str, Any], context: Any) -> str:
    """The incident message, to the environment's channels and the escalation matrix's first level;
    returns the status page incident's id ("" without one)."""
    message = notify.incident(cfg.app_name, decision, announce.link(context))
    return str(announce.send_incident(cfg, message, context, decision).get("statuspage_incident", ""))


def restore_form(decision: dict[str, Any]) -> str:
    """The Required Action's text: what the restore puts back and what it loses, in rows per table."""
    env, bad = decision["environment"], decision["from"]
    rows = decision["rows_per_table"]
    lost = (
        "\n".join(f"- `{t}`: {n}" for t, n in sorted(rows.items()) if n) or "- none counted"
        if decision["rows_since_backup"] is not None
        else "- **not known**: the database did not answer the counts (a restore changes nothing while it does not)"
    )
    return (
        f"**Restore {env}'s database** to the backup taken **{decision['backup_taken']} UTC**, before {bad}. "
        f"{env} serves {decision['version']} after this run.\n\n"
        f"Why: {decision['reason']}\n\n"
        f"**Rows written since the backup, lost by the restore** ({decision['rows_since_backup']} in all):\n{lost}\n\n"
        "restore.sh takes a safety dump of the database as it is now first (the way back), and the app answers "
        "503 (maintenance) while the backup loads.\n\n"
        f"To restore, type `{confirmation(env, bad)}` in Confirmation and Approve. Reject keeps the data "
        "as it is; nothing is changed.\n\n**Decision inputs**\n\n"
        + "\n".join(f"- {line}" for line in decision["summary"])
    )


def decided_by(gate: Any, context: Any) -> list[dict[str, Any]]:
    """The rollback targets ``decide_rollback`` planned (each host's, the primary first, with the decision)."""
    return list(context["ti"].xcom_pull(task_ids=f"{gate.task_group.group_id}.decide_rollback"))


def confirmed(decision: dict[str, Any], event: dict[str, Any], said: str) -> tuple[bool, str]:
    """A restore's answer carries its typed confirmation, naming the environment and the release."""
    wanted = confirmation(decision["environment"], decision["from"])
    typed = ((event.get("params_input") or {}).get("confirm") or "").strip()
    if typed != wanted:
        return False, f"{said}, but the confirmation typed was {typed!r}, not {wanted!r}"
    return True, said


def confirm_param() -> Param:
    return Param(
        None,
        type=["null", "string"],
        title="Confirmation",
        description="restore <environment> <release rolled back from>, as the text above says.",
    )


def comment_param() -> Param:
    return Param(None, type=["null", "string"], title="Comment", description="Why (kept in the log).")


class RestoreGate(ApprovalOperator):
    """A restore waits here for one of the environment's approvers (Required Actions), who sees the rows
    it loses and types its confirmation, naming the release. Any other mode passes at once. Reject, a
    wrong confirmation or no answer within ``policy.RESTORE_DECISION_HOURS`` change nothing: the run
    fails and lifts the freeze it set."""

    def __init__(self, *, params: Any = None, **kwargs: Any) -> None:
        del params  # the DAG's params: not part of this form
        form = {"confirm": confirm_param(), "comment": comment_param()}
        super().__init__(
            subject="Restore a database backup?",
            defaults=self.REJECT,
            response_timeout=timedelta(hours=policy.RESTORE_DECISION_HOURS),
            params=form,
            **kwargs,
        )

    def execute(self, context: Any) -> Any:
        decided = decided_by(self, context)
        decision = decided[0]["decision"]
        if decision["mode"] != "restore":
            self.log.info("mode %s: no restore, nothing to approve", decision["mode"])
            return decided
        env = config.load().environment(decision["environment"])
        self.assigned_users = [{"id": name, "name": name} for name in env.approvers] or None
        self.subject = f"Restore {env.name}'s database to the backup taken before {decision['from']}?"
        self.body = restore_form(decision)
        self.log.info(
            "restore of %s waits for %s (Required Actions); unanswered for %s h, nothing is restored",
            env.name,
            ", ".join(env.approvers) or "any user allowed to answer",
            policy.RESTORE_DECISION_HOURS,
        )
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        decided = decided_by(self, context)
        decision = decided[0]["decision"]
        approved, said = gates.signoff_verdict(event, policy.RESTORE_DECISION_HOURS)
        if approved:
            approved, said = confirmed(decision, event, said)
        if not approved:
            env = config.load().environment(decision["environment"])
            owner = decision["owner"]
            gates.run_verb(_host(env.primary), "freeze", clear=True, by=owner, only_by=owner)
            raise RollbackRefused(
                f"restore of {env.name}: {said}. Nothing was restored and nothing was switched; the freeze this "
                "run set is lifted. Trigger the rollback again to decide anew."
            )
        self.log.warning("RESTORE of %s approved: %s", decision["environment"], said)
        super().execute_complete(context, event)
        return decided


def with_mode(env: config.Environment, decided: list[dict[str, Any]], mode: str, said: str) -> list[dict[str, Any]]:
    """The rollback targets with the database step of ``mode`` on the primary host, and the decision saying
    who chose it."""
    decision = decided[0]["decision"]
    bad = decision["from"]
    database = plan.database_rollback_command(env, mode, bad, backup=bad) or "true"
    decision = {**decision, "mode": mode, "chosen": said, "summary": [*decision["summary"], f"mode {mode}: {said}"]}
    return [
        {
            **t,
            "decision": decision,
            "commands": {**t["commands"], "database": database} if t["primary"] else t["commands"],
        }
        for t in decided
    ]


def unsafe_rollback_form(decision: dict[str, Any]) -> str:
    """The Required Action's text when going back by code alone is not safe: the facts, and what each choice does."""
    env, bad, to = decision["environment"], decision["from"], decision["version"]
    restore = (
        f"- **{RESTORE_BACKUP}**: the same switch, then the backup taken **{decision['backup_taken']} UTC** is "
        f"loaded; the rows written since are lost ({decision['rows_since_backup']} counted, "
        "or not known when the database does not answer). A safety dump of the database as it is now is taken "
        f"first, and the app answers 503 while the backup loads. Type `{confirmation(env, bad)}` in Confirmation."
        if decision["backup_taken"]
        else f"- **{RESTORE_BACKUP}**: not possible, no backup was taken before {bad}."
    )
    return (
        f"**{env}: {bad} failed and should be rolled back to {to}, but its migrations do not only add**, so "
        f"{to}'s code would run on a schema it does not know. Nothing has been switched; {env} is frozen "
        "(only a hotfix passes) and the incident is announced.\n\n"
        f"Why: {decision['reason']}\n\n**Choose one**\n\n"
        f"- **{UNDO_MIGRATIONS}**: every host switches back to {to}, then the down() of each migration {bad} "
        "ran is run, newest first. Rows are kept, but what a migration dropped or rewrote is not brought back.\n"
        f"{restore}\n"
        f"- **{FIX_FORWARD}**: nothing is switched; {env} stays on {bad}, frozen. Release the fix as a hotfix "
        "(it passes the freeze), then clear the freeze with the deployment_freeze DAG.\n\n"
        f"No answer within {policy.UNSAFE_ROLLBACK_DECISION_HOURS} h counts as {FIX_FORWARD}.\n\n"
        "**Decision inputs**\n\n" + "\n".join(f"- {line}" for line in decision["summary"])
    )


UNDO_MIGRATIONS, RESTORE_BACKUP, FIX_FORWARD = "Undo its migrations", "Restore the backup", "Fix forward"


class UnsafeRollbackGate(HITLOperator):
    """A release's own rollback when going back by code alone is not safe (a migration of the release
    drops, renames or rewrites): nothing is switched blindly. The environment is frozen and the incident
    announced already (``decide_rollback``); one of its approvers chooses here, with the facts shown:
    undo the migrations, restore the backup (with its typed confirmation), or fix forward (nothing
    switched, the freeze kept). A safe rollback passes at once. Returns the rollback targets to carry out."""

    def __init__(self, *, params: Any = None, **kwargs: Any) -> None:
        del params  # the DAG's params: not part of this form
        super().__init__(
            subject="Choose how to roll back",
            options=[UNDO_MIGRATIONS, RESTORE_BACKUP, FIX_FORWARD],
            defaults=FIX_FORWARD,
            response_timeout=timedelta(hours=policy.UNSAFE_ROLLBACK_DECISION_HOURS),
            params={"confirm": confirm_param(), "comment": comment_param()},
            **kwargs,
        )

    def execute(self, context: Any) -> Any:
        decided = decided_by(self, context)
        decision = decided[0]["decision"]
        if decision["code_only_safe"]:
            log.info("a code-only rollback is safe: it goes on at once")
            return decided
        if decision["mode"] != "code" or not decision["automatic"]:
            log.info("mode %s was asked for by a person: it goes on as asked", decision["mode"])
            return decided
        env = config.load().environment(decision["environment"])
        if not decision["backup_taken"]:
            self.options = [UNDO_MIGRATIONS, FIX_FORWARD]
        self.assigned_users = [{"id": name, "name": name} for name in env.approvers] or None
        self.subject = f"{env.name}: {decision['from']} cannot go back by code alone. How should it roll back?"
        self.body = unsafe_rollback_form(decision)
        log.warning(
            "a code-only rollback of %s is NOT SAFE: nothing is switched until %s chooses (Required Actions); "
            "unanswered for %s h, %s stays on %s, frozen",
            decision["from"],
            ", ".join(env.approvers) or "a user allowed to answer",
            policy.UNSAFE_ROLLBACK_DECISION_HOURS,
            env.name,
            decision["from"],
        )
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        decided = decided_by(self, context)
        decision = decided[0]["decision"]
        env = config.load().environment(decision["environment"])
        if "error" in event or event.get("timedout"):
            chosen, said = FIX_FORWARD, f"no answer within {policy.UNSAFE_ROLLBACK_DECISION_HOURS:g} h"
        else:
            chosen = (event.get("chosen_options") or [FIX_FORWARD])[0]
            who = (event.get("responded_by_user") or {}).get("name") or "unknown"
            comment = ((event.get("params_input") or {}).get("comment") or "").strip()
            said = f"chosen by {who}" + (f": {comment}" if comment else "")
        if chosen == RESTORE_BACKUP:
            approved, said = confirmed(decision, event, said)
            if not approved:
                chosen = FIX_FORWARD
        if chosen == FIX_FORWARD:
            raise AirflowFailException(
                f"{env.name}: {FIX_FORWARD} ({said}). Nothing was switched: {env.name} stays on {decision['from']}, "
                "frozen (only a hotfix passes). Release the fix as a hotfix, or roll back with the rollback DAG "
                "(mode migrations or restore); then clear the freeze with the deployment_freeze DAG."
            )
        super().execute_complete(context, event)
        mode = "migrations" if chosen == UNDO_MIGRATIONS else "restore"
        log.warning("ROLLBACK of %s by %s: %s", env.name, mode, said)
        return with_mode(env, decided, mode, said)


class OfferRestore(TriggerDagRunOperator):
    """After a release's own rollback for a data or database trigger: a rollback DAG run that restores the
    backup taken before the release only if an approver says so (its ``approve_restore``). Other triggers,
    or no backup, start nothing. It follows the decision, or the choice when a person was asked."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            trigger_dag_id="rollback",
            wait_for_completion=False,
            trigger_rule="none_failed_min_one_success",
            **kwargs,
        )

    def execute(self, context: Any) -> Any:
        decision = (chosen_targets(context) or [{}])[0].get("decision")
        if decision and decision["mode"] == "restore":
            said = decision.get("chosen") or "mode restore"
            raise AirflowSkipException(f"{said}: the backup is restored by this run")
        if not decision or decision["trigger"] not in ("data", "database"):
            raise AirflowSkipException("no data or database trigger: no restore to offer")
        if not decision["backup_taken"]:
            raise AirflowSkipException(f"no backup was taken before {decision['from']}: no restore to offer")
        self.conf = {
            "environment": decision["environment"],
            "from": decision["from"],
            "target": decision["to"],
            "mode": "restore",
            "reason": f"offered after the automatic rollback of {decision['from']} ({decision['trigger']}): "
            f"{decision['reason']}",
        }
        self.trigger_run_id = f"restore_offer__{context['run_id']}"[:250]
        self.log.warning(
            "a restore of the backup before %s is offered: rollback run %s waits for an approver",
            decision["from"],
            self.trigger_run_id,
        )
        return super().execute(context)


def chosen_targets(context: Any) -> list[dict[str, Any]]:
    """The rollback targets as a person chose them (``choose_rollback``), or as decided when nobody was asked
    (the gates skipped)."""
    ti = context["ti"]
    group = ti.task_id.rpartition(".")[0]
    chosen = ti.xcom_pull(task_ids=f"{group}.choose_rollback")
    return list(chosen or ti.xcom_pull(task_ids=f"{group}.decide_rollback") or [])


def on_every_host(targets: list[dict[str, Any]], work: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """``work`` for every target at once (one thread per host, over the task's shared connections); in order."""
    with ThreadPoolExecutor(max_workers=len(targets) or 1) as pool:
        return list(pool.map(work, targets))


def switch_host(target: dict[str, Any]) -> dict[str, Any]:
    """rollback.sh on one host: the switch of ``current`` back and the reload. Never raises: the outcome says."""
    host, started = target["host"], time.monotonic()
    try:
        code, results, err = remote.call(
            target["ssh_conn_id"], host, target["commands"]["rollback"], timeout=target["timeouts"]["rollback"]
        )
    except Exception as unreachable:  # noqa: BLE001  # a host not reached is that host's outcome
        code, results, err = -1, [], str(unreachable)
    seconds = round(time.monotonic() - started, 2)
    if code != 0:
        return {"host": host, "switched": False, "seconds": seconds, "error": remote.error_reason(err)}
    log.info("%s: switched back to %s in %.2f s", host, target["release"], seconds)
    return {"host": host, "switched": True, "seconds": seconds, "results": results}


@task(task_id="switch_back", retries=0, trigger_rule="none_failed_min_one_success")
@remote.shared_connections()
def switch_back(**context: Any) -> dict[str, Any]:
    """Every host switched back at once (rollback.sh: the atomic switch of ``current``, a graceful reload,
    the release left marked bad), then the database step on the first host, then every host verified on
    the target: health, version and smoke tests. Never retried (a retry would hide a fault); a failure keeps
    the environment frozen and says which hosts serve what."""
    targets = chosen_targets(context)
    decision = targets[0]["decision"]
    version = decision["version"]
    started = time.monotonic()
    switched = on_every_host(targets, switch_host)
    switch_seconds = round(time.monotonic() - started, 2)
    failed = [s for s in switched if not s["switched"]]
    if failed:
        done = [s["host"] for s in switched if s["switched"]]
        raise RollbackFailed(
            "the switch back failed on "
            + "; ".join(f"{s['host']}: {s['error']}" for s in failed)
            + f". Switched back to {version}: {', '.join(done) or 'none'}. The database step was not run and "
            f"{decision['environment']} stays frozen. Switch the hosts that failed back by hand once they answer: "
            f"rollback.sh --to {targets[0]['release']} (README.md, Break-glass); a new rollback run would start "
            "from what the first host serves now."
        )
    primary = targets[0]
    database: list[dict[str, Any]] = []
    db_started = time.monotonic()
    if primary["commands"]["database"] != "true":
        job = remote.job_id(context["run_id"], context["ti"].task_id, primary["host"])
        try:
            database = remote.run_detached(primary, "database", job, log)
        except remote.RemoteError as err:
            raise RollbackFailed(
                f"every host serves {version} again, but the database step ({decision['mode']}) failed: {err}\n"
                f"{decision['environment']} stays frozen. See the job's output on {primary['host']}, and "
                "README.md (Break-glass) before anything else touches the database."
            ) from err
    db_seconds = round(time.monotonic() - db_started, 2)
    verify_started = time.monotonic()
    checked = on_every_host(targets, lambda t: check_host(t["verify"], t["verify"]["version"]))
    problems = [f"{t['host']}: {p}" for t, (found, _) in zip(targets, checked, strict=True) for p in found]
    if problems:
        raise RollbackFailed(
            f"the rollback to {version} failed verification ({decision['environment']} stays frozen):\n- "
            + "\n- ".join(problems)
        )
    verify_seconds = round(time.monotonic() - verify_started, 2)
    log.warning(
        "SWITCHED BACK to %s on %s in %.2f s (database step %.2f s), every host verified in %.2f s",
        version,
        ", ".join(t["host"] for t in targets),
        switch_seconds,
        db_seconds,
        verify_seconds,
    )
    return {
        "decision": decision,
        "hosts": [{"host": s["host"], "version": version, "release": primary["release"], **s} for s in switched],
        "database": database,
        "switch_seconds": switch_seconds,
        "database_seconds": db_seconds,
        "verify_seconds": verify_seconds,
        "seconds": round(time.monotonic() - started, 2),
    }


@task
def record_rollback(rolled: dict[str, Any], fail_run: bool = False) -> dict[str, Any]:
    """Lift the freeze this rollback set (only that one: an earlier freeze stays), and say what happened
    (a release's own rollback fails its run)."""
    decision = rolled["decision"]
    cfg = config.load()
    env = cfg.environment(decision["environment"])
    gates.run_verb(_host(env.primary), "freeze", clear=True, by=decision["owner"], only_by=decision["owner"])
    seconds = round(time.time() - decision["started"], 1)
    record = {
        **decision,
        "hosts": sorted(h["host"] for h in rolled["hosts"]),
        "seconds": seconds,
        "switch_seconds": rolled["switch_seconds"],
    }
    ctx = get_current_context()
    ctx["ti"].xcom_push(key="rollback", value=record)  # kept when the run is failed below
    message = notify.resolved(cfg.app_name, decision, seconds, record["hosts"], announce.link(ctx))
    announce.send_incident(cfg, message, ctx, decision)  # to those who heard of the incident
    log.warning(
        "ROLLED BACK %s from %s to %s (%s) on %s in %.1f s; %s",
        env.name,
        decision["from"],
        decision["to"],
        decision["version"],
        ", ".join(record["hosts"]),
        seconds,
        "the earlier freeze stays" if decision.get("earlier_freeze") else "freeze lifted",
    )
    if decision.get("not_rolled_back"):
        log.warning(
            "%s NOT rolled back (unreachable when the rollback started): bring it back and roll it back too, "
            "or take it out of the load balancer",
            ", ".join(decision["not_rolled_back"]),
        )
    if fail_run:
        raise AirflowFailException(
            f"{env.name}: the release was rolled back to {decision['version']} in {seconds} s "
            f"because: {decision['reason']}"
        )
    return record


def _rehearsal_step(env: config.Environment, step: str, commands: dict[str, dict[str, str]], version: str) -> float:
    """One leg of the rehearsal on every host (the primary first), then each host verified on ``version``."""
    started = time.monotonic()
    for h in env.hosts:
        code, _, err = remote.call(h.ssh_conn_id, h.name, commands[h.name][step], timeout=900)
        if code != 0:
            raise RehearsalFailed(
                f"{h.name}: the rollback rehearsal failed going {step}: {remote.error_reason(err)}. Staging is left "
                "as it is; the release goes no further. Fix the rollback path (see the log) and release again."
            )
    for h in env.hosts:
        problems, _ = check_host(plan.verify_settings(env, h, version), version)
        if problems:
            raise RehearsalFailed(
                f"{h.name}: after the rehearsal's step {step}, {version} failed verification:\n- "
                + "\n- ".join(problems)
            )
    return round(time.monotonic() - started, 2)


@task(task_id="rehearse_rollback", retries=0)
@remote.shared_connections()
def rehearse_rollback(release_plan: dict[str, Any], verified: list[dict[str, Any]]) -> dict[str, Any]:
    """The seed's "rollback plan confirmed", proven on staging once the release is verified there: back to
    the previous release (code, and the release's migrations when they only add), verified, and forward
    again, verified; the timings are the checklist item's proof. A failure stops the release at staging."""
    cfg = config.load()
    env = cfg.environment("staging")
    release, version = release_plan["release"], release_plan["version"]
    status = host_status(env.primary)
    if status["current"] != release:
        raise RehearsalFailed(f"staging serves {status['current']}, not {release}: nothing was rehearsed")
    previous = status.get("previous_good")
    if not previous:
        log.info("nothing to rehearse: staging had no release before %s", release)
        return {"rehearsed": False, "why": f"no release before {version} on staging"}
    previous_version = next(r["version"] for r in status["releases"] if r["release"] == previous)
    ran = migrations_of(env.primary, release)
    undo = bool(ran) and all(m.kind == "additive" for m in ran)
    run_id = get_current_context()["run_id"]
    commands = {h.name: plan.rehearsal_commands(env, h, release, previous, run_id, undo) for h in env.hosts}
    log.info(
        "rehearsing the rollback on staging: %s -> %s (%s)%s, then forward again",
        release,
        previous,
        previous_version,
        f", undoing {len(ran)} migration(s)" if undo else (" (code only: " + migrations.describe(ran) + ")"),
    )
    back = _rehearsal_step(env, "back", commands, previous_version)
    forward = _rehearsal_step(env, "forward", commands, version)
    result = {
        "rehearsed": True,
        "to": previous,
        "to_version": previous_version,
        "migrations_undone": [m.name for m in ran] if undo else [],
        "back_seconds": back,
        "forward_seconds": forward,
        "seconds": round(back + forward, 2),
    }
    log.warning(
        "ROLLBACK REHEARSED on staging: back to %s in %.1f s and forward to %s in %.1f s, verified both ways",
        previous_version,
        back,
        version,
        forward,
    )
    return result


def rollback_environment(
    request: Any = None, release_plan: Any = None, verdict: Any = None, fail_run: bool = False
) -> tuple[Any, Any]:
    """The rollback task group's tasks: the rollback DAG's (``request``, with the restore's Required
    Action) or a release's own (``release_plan`` and ``verdict``). Both stop for a person when a
    trigger's rollback is not safe by code alone, and offer a restore after a data or database trigger.
    Returns (first, last)."""
    with TaskGroup("rollback", tooltip="roll the environment back"):
        decided = decide_rollback(request=request, release_plan=release_plan, verdict=verdict)
        # a person's say before the first change: a restore asked for (the rollback DAG), and a trigger's
        # code rollback that is not safe (a release's own, or the rollback DAG's when an alert started it).
        # When nobody needs asking, decide_rollback skips both and switch_back follows it at once.
        choose = UnsafeRollbackGate(task_id="choose_rollback", retries=0)
        if request is not None:
            decided >> RestoreGate(task_id="approve_restore", retries=0) >> choose
        else:
            decided >> choose
        rolled = switch_back()
        [decided, choose] >> rolled  # type: ignore[list-item]
        record = record_rollback(rolled, fail_run=fail_run)  # type: ignore[arg-type]
        record >> announce.escalate(decided)
        # beside the switch, not after it: a task downstream of record_rollback would make a rolled-back
        # run succeed. The run it starts waits for the environment's lock, held until this rollback ends.
        [decided, choose] >> OfferRestore(task_id="offer_restore", retries=0)  # type: ignore[list-item]
    return decided, record
