"""Prepare: check the request and the environment file, resolve the version, plan the run."""

from __future__ import annotations

import io
import logging
import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow.sdk import BaseHook, task
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException, AirflowSkipException

from laravel_release import config, gates, plan, policy, preflight, remote

log = logging.getLogger(__name__)


class RequestError(ValueError):
    """The trigger asked for something that cannot be released; nothing was changed."""


def missing_connections(conn_ids: list[str]) -> list[str]:
    missing = []
    for conn_id in conn_ids:
        try:
            BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            missing.append(conn_id)
    return missing


def check_notifications(cfg: config.Config) -> list[str]:
    """The notification connections the file names and Airflow does not have (an incident needs them)."""
    missing = missing_connections(cfg.notifications.connection_ids())
    if missing:
        log.error(
            "notification connection(s) %s named in %s (notifications) do not exist: incidents and announcements "
            "would not reach anyone. Create them (airflow connections add, or AIRFLOW_CONN_%s) or remove the "
            "channel from the file.",
            ", ".join(missing),
            cfg.source,
            missing[0].upper(),
        )
    return missing


def check_connections(cfg: config.Config, environments: tuple[str, ...], notifications: bool = True) -> None:
    """Every connection the run needs exists; a release also needs its notification channels' (a rollback
    only warns: it must never wait for Slack)."""
    missing = missing_connections(cfg.connection_ids(environments))
    unreachable = check_notifications(cfg)  # logged either way
    if notifications:  # a release: its announcements, and where its notes are published
        missing += unreachable + missing_connections([cfg.publish_conn_id] if cfg.publish_conn_id else [])
    if missing:
        raise RequestError(
            f"Airflow connection(s) {', '.join(missing)} named in {cfg.source} do not exist: create them "
            f"(airflow connections add, or AIRFLOW_CONN_{missing[0].upper()}) or fix the file. Nothing was changed."
        )


def remote_tags(cfg: config.Config) -> list[str]:
    """The tags of the app's repository, as the build host sees it."""
    out, _ = remote.run(
        cfg.build.ssh_conn_id, "build host", shlex.join(["git", "ls-remote", "--tags", "--", cfg.repository])
    )
    tags = {line.split("refs/tags/", 1)[1].removesuffix("^{}") for line in out.splitlines() if "refs/tags/" in line}
    return sorted(tags)


def live_version(env: config.Environment) -> str:
    """The version live on the environment's first host ('' before the first release)."""
    host = env.primary
    return remote.live_version(host.ssh_conn_id, host.name, host.deploy_path)


def check_version(version: Any, tags: list[str], repository: str) -> str:
    if not isinstance(version, str) or not re.match(policy.VERSION_PATTERN, version):
        raise RequestError(f"version {version!r} is not a version tag like v1.4.0: fix the trigger's 'version'")
    if len(version) > policy.VERSION_MAX_LENGTH:
        raise RequestError(
            f"version {version[:20]}... is {len(version)} characters long, more than {policy.VERSION_MAX_LENGTH}: "
            "fix the trigger's 'version'. Nothing was changed."
        )
    if version not in tags:
        newest = ", ".join(sorted(tags, key=policy.version_key, reverse=True)[:5]) or "none"
        raise RequestError(
            f"version {version} is not a tag of {repository} (newest tags: {newest}): push the tag first. "
            "Nothing was changed."
        )
    return version


def scheduled_run(rtype: policy.ReleaseType, context: Any) -> None:
    """A run without a version: at a window's opening, say what goes live in it, then end (skipped)."""
    run_type = context["dag_run"].run_type
    if getattr(run_type, "value", run_type) != "scheduled":
        raise RequestError(
            'version is required: trigger with the tag to release, e.g. {"version": "v1.4.0"}. Nothing was changed.'
        )
    waiting = [r for r in gates.releases_at_the_window(context["ti"], rtype.dag_id) if r["state"] == "deferred"]
    if not waiting:
        raise AirflowSkipException(
            f"the {rtype.name} release window opens: no {rtype.name} release passed UAT and waits for production. "
            "Nothing to deploy."
        )
    newest, *older = waiting
    raise AirflowSkipException(
        f"the {rtype.name} release window opens: {newest['version']} (run {newest['run_id']}) passed UAT and goes "
        "live now in its own run" + (f"; superseded: {', '.join(r['version'] for r in older)}" if older else "")
    )


@task(retries=0)
def plan_release(release_type: str, **context: Any) -> dict[str, Any]:
    """Validate everything the run needs and decide what runs where. Touches no host but to read."""
    rtype = policy.release_type(release_type)
    params = context["params"]
    if params.get("version") is None:
        scheduled_run(rtype, context)
    if rtype.requires_reason and not (params.get("reason") or "").strip():
        raise RequestError(f"a {rtype.name} needs its reason: say in 'reason' why it cannot wait. Nothing was changed.")
    cfg = config.load()
    for stage in rtype.stages:
        cfg.environment(stage)
    check_connections(cfg, rtype.stages)
    version = check_version(params.get("version"), remote_tags(cfg), cfg.repository)
    since = live_version(cfg.environment("production"))
    release = plan.release_id(version, context["dag_run"].run_after, context["run_id"])
    log.info(
        "%s release %s: %s -> %s as %s, through %s",
        rtype.name,
        cfg.app_name,
        since or "(nothing live)",
        version,
        release,
        " -> ".join(rtype.stages),
    )
    if params.get("reason"):
        log.info("reason given: %s", params["reason"])
    try:
        by = context["dag_run"].triggering_user_name or "schedule"
    except AttributeError:  # dag.test() runs have no triggering user
        by = ""
    try:
        quality = plan.quality_plan(cfg, rtype, params.get("waive"), params.get("waiver_reason"), by)
    except ValueError as err:
        raise RequestError(str(err)) from None
    for change in quality["changed"]:
        log.warning("quality threshold from %s: %s", cfg.source, change)
    if quality["waiver"]:
        log.warning(
            "QUALITY GATES WAIVED for this run: %s, by %s, because: %s",
            ", ".join(quality["waiver"]["gates"]),
            quality["waiver"]["by"] or "the trigger",
            quality["waiver"]["reason"],
        )
    return plan.release_plan(cfg, rtype, version, release, context["run_id"], since, quality)


@task(retries=2)
def install_tools(plan: dict[str, Any]) -> dict[str, int]:
    """Put the verb scripts (include/scripts) on every host of the run, side by side."""
    targets = [plan["build"]] + [h for hosts in plan["environments"].values() for h in hosts]
    installed: dict[str, int] = {}
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = {pool.submit(remote.install_tools, t["ssh_conn_id"], t["host"], t["tools_dir"]): t for t in targets}
        for job, t in jobs.items():
            try:
                installed[t["host"]] = len(job.result())
                log.info("%s: scripts installed in %s", t["host"], t["tools_dir"])
            except remote.RemoteError as err:
                failures.append(str(err))
    if failures:
        raise remote.RemoteError("cannot reach every host of the run:\n- " + "\n- ".join(failures))
    return installed


@task(retries=0)
def preflight_checks(**context: Any) -> str:
    """The preflight table, in the task's log; the task fails when a check does."""
    out = io.StringIO()
    code = preflight.run(context["params"]["environment"], out)
    table = out.getvalue()
    if code != preflight.OK:
        raise AirflowFailException(table)
    log.info("%s", table)
    return table
