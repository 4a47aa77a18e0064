"""Deploy one environment: the same task group for staging, UAT and production.

    (after the build)  upload_release (and unpack) ─────────────────┐
    (after the gate)   claim_environment ─> check_hosts ─┬─> prepare_release ─┼─> migrate_database
                                                     ├─> backup_database ─┤
                                                     └─> measure_before ──┘
      ─> measure_baseline ─> switch_release ─> switched ─> verify_release ─> watch_release
           ─┬─> release_verified ─> cleanup_releases ─┬─> release_environment
            └─> rollback.* (steps.rollback) ──────────┴─> announce_finished
    claim_environment ─> announce_started

``claim_environment`` (setup) waits while the environment is frozen or locked
by another run, then takes its lock; ``release_environment`` (teardown) gives
it back whatever happened in between (see gates.py).

The build is distributed to every environment as soon as it exists: uploading
and unpacking only add a folder under releases/, so later stages are ready when
their turn comes. What depends on the environment's state (checks, caches built
from its .env, backup, migrations) waits for the previous stage to be verified.
Nothing before ``switch_release`` changes what users are served.

After the switch the rollback triggers judge the environment (steps.judge):
a healthy release goes on to the next stage, a tripped one is rolled back by
the same task group as the rollback DAG, and the run fails saying why.

Per-host steps are mapped task instances (one per host, labelled with its name),
so the hosts of an environment work side by side; the backup and the migrations
run once, on the environment's first host.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import TaskGroup, get_current_context, task

from laravel_release import gates, remote
from laravel_release.policy import ReleaseType
from laravel_release.remote import RemoteScript
from laravel_release.steps import announce, judge
from laravel_release.steps.postmortem import RequestPostMortem
from laravel_release.steps.rollback import rehearse_rollback, rollback_environment
from laravel_release.steps.switch import go_live

log = logging.getLogger(__name__)


@task
def plan_hosts(plan: dict[str, Any], environment: str) -> list[dict[str, Any]]:
    """The hosts of one environment, primary first: what the per-host steps expand over."""
    hosts = plan["environments"][environment]
    log.info("%s: %s", environment, ", ".join(h["host"] + (" (primary)" if h["primary"] else "") for h in hosts))
    return hosts


@task(map_index_template="{{ host }}", retries=2)
def upload_release(target: dict[str, Any]) -> list[dict[str, Any]]:
    """Copy the build (and its checksum) from the build host to a host and unpack it there
    (release.sh, shared.sh): a new folder under releases/, never live. Safe to retry."""
    host, up = target["host"], target["upload"]
    get_current_context()["host"] = host  # type: ignore[typeddict-unknown-key]
    size, results = remote.transfer(
        up["build_conn_id"],
        target["ssh_conn_id"],
        host,
        [(up["source"], up["target"]), (up["source"] + ".sha256", up["target"] + ".sha256")],
        then=target["commands"]["unpack"],
        timeout=target["timeouts"]["unpack"],
    )
    log.info("%s: uploaded %s (%d bytes) and unpacked it", host, up["target"], size)
    return results


def on_each_host(task_id: str, step: str, hosts: Any, retries: int = 0) -> Any:
    return RemoteScript.partial(
        task_id=task_id, step=step, retries=retries, map_index_template="{{ task.host }}"
    ).expand(target=hosts)


def on_primary_host(task_id: str, step: str, hosts: Any) -> RemoteScript:
    return RemoteScript(task_id=task_id, step=step, target=hosts, retries=0)


def deploy_environment(plan: Any, env: str, built: Any, previous: Any, rtype: ReleaseType) -> Any:
    """The task group that deploys the planned release to ``env``; returns its ``release_verified``.

    ``built`` is the build task (the distribution starts after it), ``previous``
    the gates the environment waits for (the tests and the scan, the previous stage's verification, or a
    sign-off and the window).
    """
    with TaskGroup(env, tooltip=f"deploy to {env}"):
        claim = gates.claim_environment(plan, env, rtype)
        hosts = plan_hosts(plan, env)
        upload = upload_release.expand(target=hosts)
        checks = on_each_host("check_hosts", "check", hosts, retries=1)
        prepare = on_each_host("prepare_release", "prepare", hosts, retries=1)
        backup = on_primary_host("backup_database", "backup", hosts)
        migrate = on_primary_host("migrate_database", "migrate", hosts)
        before = judge.before_switch(plan, env)
        baseline, _, verify = go_live(hosts)
        watch = judge.watch_release(plan, env, verify, before, rtype)
        verified = judge.release_verified(verify, watch)  # type: ignore[arg-type]
        # the watch sends the environment on (release_verified) or to its rollback (judge.take_one_way)
        rollback, rolled_back = rollback_environment(release_plan=plan, verdict=watch, fail_run=True)
        cleanup = on_each_host("cleanup_releases", "cleanup", hosts, retries=1)
        if env == "staging":  # the rollback plan, rehearsed before the release goes any further
            rehearsed = rehearse_rollback(plan, verified)  # type: ignore[arg-type]
            rehearsed >> cleanup
        built >> upload >> prepare
        claim >> announce.announce_started(plan, env)
        [cleanup, rolled_back] >> announce.announce_finished(plan, env, claim)
        # nothing changes before the migrations: the integrity baseline is measured beside the backup
        previous >> claim >> checks >> [before, backup, prepare]
        [prepare, backup, before] >> migrate >> baseline
        verified >> cleanup
        [cleanup, rolled_back] >> gates.release_environment(plan, env).as_teardown(setups=claim)
        if env == "production":  # the emergency procedure ends with a post-mortem
            post_mortem = RequestPostMortem(task_id="request_post_mortem", environment=env, retries=0)
            [cleanup, rolled_back] >> post_mortem.as_teardown(setups=claim)
    return rehearsed if env == "staging" else verified
