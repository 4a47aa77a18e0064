"""Deploy one environment: the same task group for staging, UAT and production.

    plan_hosts ─> check_hosts ──> backup_database ─┐
              └─> upload_release ─> prepare_release ┴─> migrate_database ─> switch_release ─> verify_release ─> cleanup_releases

Per-host steps are mapped task instances (one per host, labelled with its name),
so the hosts of an environment work side by side; the backup and the migrations
run once, on the environment's first host. Nothing before ``switch_release``
changes what users are served.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import TaskGroup, XComArg, get_current_context, task

from laravel_release import remote
from laravel_release.remote import RemoteScript
from laravel_release.steps.switch import go_live

log = logging.getLogger(__name__)


@task
def plan_hosts(plan: dict[str, Any], environment: str) -> list[dict[str, Any]]:
    """The hosts of one environment, primary first: what the per-host steps expand over."""
    hosts = plan["environments"][environment]
    log.info("%s: %s", environment, ", ".join(h["host"] + (" (primary)" if h["primary"] else "") for h in hosts))
    return hosts


@task(map_index_template="{{ host }}", retries=2)
def upload_release(target: dict[str, Any]) -> int:
    """Copy the build (and its checksum) from the build host to a host. Safe to retry."""
    host, up = target["host"], target["upload"]
    get_current_context()["host"] = host  # type: ignore[typeddict-unknown-key]
    size = remote.transfer(
        up["build_conn_id"], target["ssh_conn_id"], host,
        [(up["source"], up["target"]), (up["source"] + ".sha256", up["target"] + ".sha256")],
    )
    log.info("%s: uploaded %s (%d bytes)", host, up["target"], size)
    return size


def on_each_host(task_id: str, step: str, hosts: XComArg, retries: int = 0) -> Any:
    return RemoteScript.partial(
        task_id=task_id, step=step, retries=retries, map_index_template="{{ task.host }}"
    ).expand(target=hosts)


def on_primary_host(task_id: str, step: str, hosts: XComArg) -> RemoteScript:
    return RemoteScript(task_id=task_id, step=step, target=hosts, retries=0)


def deploy_environment(plan: XComArg, env: str) -> tuple[list[Any], Any]:
    """The task group that deploys the planned release to ``env``.

    Returns the tasks that must wait for the previous stage (``check_hosts``,
    ``upload_release``; ``plan_hosts`` starts as soon as the plan exists) and
    the group's last gate, ``verify_release``.
    """
    with TaskGroup(env, tooltip=f"deploy to {env}"):
        hosts = plan_hosts(plan, env)
        checks = on_each_host("check_hosts", "check", hosts, retries=1)
        upload = upload_release.expand(target=hosts)
        prepare = on_each_host("prepare_release", "prepare", hosts, retries=1)
        backup = on_primary_host("backup_database", "backup", hosts)
        migrate = on_primary_host("migrate_database", "migrate", hosts)
        switch, verify = go_live(hosts)
        cleanup = on_each_host("cleanup_releases", "cleanup", hosts, retries=1)
        checks >> backup
        upload >> prepare
        [checks, prepare, backup] >> migrate >> switch
        verify >> cleanup
    return [checks, upload], verify
