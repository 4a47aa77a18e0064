"""What runs where: a pure function of the config, the policy row and the trigger.

``release_plan`` returns one "target" per host: its connection and the exact
(quoted) command of every step. The tasks only pick their step from it.
Nothing here talks to a host or to Airflow, so the inputs of the whole run can
be unit-tested and read in one place.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

from laravel_release import remote
from laravel_release.config import Config, Environment, Host
from laravel_release.policy import ReleaseType

# Seconds of silence a step may take on a host before it is stopped.
STEP_TIMEOUTS = {
    "check": 60,
    "unpack": 300,
    "prepare": 300,
    "backup": 1800,
    "migrate": 1800,
    "switch": 120,
    "cleanup": 300,
    "measure": 120,
    "rollback": 120,
    "database": 1800,
}


def release_id(version: str, run_after: Any, run_id: str = "") -> str:
    """The folder a release gets on every host: ``<version>-<UTC time of the run>-<4 hex of the run id>``.

    The run's own part keeps two runs triggered in the same second apart.
    """
    suffix = hashlib.sha1(run_id.encode(), usedforsecurity=False).hexdigest()[:4]
    return f"{version}-{run_after:%Y%m%d%H%M%S}-{suffix}"


def upload_path(host: Host, release: str) -> str:
    return f"{host.deploy_path}/.deploy/uploads/{release}.tar.gz"


def artifact_path(cfg: Config, release: str) -> str:
    return f"{cfg.build.path}/artifacts/{release}.tar.gz"


def build_target(
    cfg: Config, rtype: ReleaseType, version: str, release: str, since: str, waived: tuple[str, ...] = ()
) -> dict[str, Any]:
    b = cfg.build
    max_critical = cfg.quality.thresholds(rtype)["max_critical_findings"]
    cmd = remote.command(
        b.tools,
        "build",
        extra=remote.options(
            repo=cfg.repository,
            tag=version,
            release=release,
            workdir=b.path,
            since=since,
            run=list(b.commands),
            test=list(b.test_commands),
            report=b.coverage_report,
        ),
    )
    scan = remote.command(
        b.tools,
        "scan",
        extra=remote.options(
            artifact=artifact_path(cfg, release),
            run=b.scan_command,
            max_critical=WAIVED_CRITICAL if "scan" in waived else max_critical,
            advisories="warn" if "scan" in waived and b.advisories == "block" else b.advisories,
        ),
    )
    return {
        "host": "build",
        "ssh_conn_id": b.ssh_conn_id,
        "tools_dir": b.tools,
        "commands": {"build": cmd, "scan": scan},
        "timeouts": {"build": b.timeout_seconds, "scan": 300},
        "coverage_report": b.coverage_report,
    }


def after_switch_command(env: Environment, host: Host, release: str) -> str:
    """The artisan commands run in ``release`` once it is live ('' when none are configured)."""
    if not env.after_switch_commands:
        return ""
    return remote.command(
        host.tools,
        "artisan",
        *env.after_switch_commands,
        extra=remote.options(deploy_path=host.deploy_path, release=release),
    )


def switch_command(env: Environment, host: Host, release: str, run_id: str, event: str = "switch") -> str:
    """Make ``release`` live on one host (a rollback switches back with rollback.sh, see ``rollback_target``)."""
    return remote.chain(
        remote.command(
            host.tools,
            "switch",
            extra=remote.options(
                deploy_path=host.deploy_path, release=release, reload=host.reload_command, run_id=run_id, event=event
            ),
        ),
        after_switch_command(env, host, release),
    )


def rehearsal_commands(
    env: Environment, host: Host, release: str, previous: str, run_id: str, undo_migrations: bool
) -> dict[str, str]:
    """The rollback rehearsal on one host: back from ``release`` to ``previous`` (the release is not marked
    bad; its migrations undone on the primary when ``undo_migrations``), then forward to it again."""
    primary = host == env.primary
    back = remote.command(
        host.tools,
        "rollback",
        extra=remote.options(
            deploy_path=host.deploy_path,
            **{"from": release},
            to=previous,
            reload=host.reload_command,
            run_id=run_id,
            rehearsal=True,
            migrations=undo_migrations and primary,
        ),
    )
    migrate = remote.command(host.tools, "migrate", extra=remote.options(deploy_path=host.deploy_path, release=release))
    return {
        "back": remote.chain(back, after_switch_command(env, host, previous)),
        "forward": remote.chain(
            migrate if undo_migrations and primary else "", switch_command(env, host, release, run_id, "rehearsal")
        ),
    }


def host_target(cfg: Config, env: Environment, host: Host, version: str, release: str, run_id: str) -> dict[str, Any]:
    """Everything one host does to deploy ``release``: a remote command per step, the upload and the checks.

    The first host of an environment is its primary: the environment's hosts share one
    database, so the backup and the migrations run there, once.
    """
    h = host
    commands = {
        "check": remote.command(
            h.tools,
            "check",
            extra=remote.options(deploy_path=h.deploy_path, min_free_mb=env.min_free_mb, database=True),
        ),
        "unpack": remote.chain(
            remote.command(
                h.tools,
                "release",
                extra=remote.options(deploy_path=h.deploy_path, release=release, artifact=upload_path(h, release)),
            ),
            remote.command(
                h.tools,
                "shared",
                extra=remote.options(
                    deploy_path=h.deploy_path, release=release, dir=list(env.shared_dirs), file=list(env.shared_files)
                ),
            ),
        ),
        "prepare": remote.command(
            h.tools, "artisan", *env.release_commands, extra=remote.options(deploy_path=h.deploy_path, release=release)
        )
        if env.release_commands
        else "true",
        "backup": remote.command(
            h.tools,
            "backup",
            extra=remote.options(
                deploy_path=h.deploy_path, name=release, keep=env.backup_keep, copy=env.backup_copy_command
            ),
        ),
        "migrate": remote.command(h.tools, "migrate", extra=remote.options(deploy_path=h.deploy_path, release=release)),
        "switch": switch_command(env, h, release, run_id),
        "cleanup": remote.command(
            h.tools, "cleanup", extra=remote.options(deploy_path=h.deploy_path, keep=env.keep_releases)
        ),
        "measure": measure_command(env, h),
    }
    return {
        "host": h.name,
        "environment": env.name,
        "deploy_path": h.deploy_path,
        "primary": h == env.primary,
        "ssh_conn_id": h.ssh_conn_id,
        "tools_dir": h.tools,
        "commands": commands,
        "timeouts": STEP_TIMEOUTS,
        "upload": {
            "build_conn_id": cfg.build.ssh_conn_id,
            "source": artifact_path(cfg, release),
            "target": upload_path(h, release),
        },
        "verify": verify_settings(env, h, version),
    }


def verify_settings(env: Environment, host: Host, version: str) -> dict[str, Any]:
    """What ``verify_release`` checks on a host serving ``version``."""
    return {
        "base_url": host.base_url,
        "version": version,
        "health_path": env.health_path,
        "version_path": env.version_path,
        "version_field": env.version_field,
        "version_pattern": env.version_pattern,
        "smoke_tests": [asdict(t) for t in env.smoke_tests],
        "probe_paths": list(env.probe_paths),
        "probe_seconds": env.probe_seconds,
        "probe_concurrency": env.probe_concurrency,
        "auth_path": env.auth_path,
        "auth_conn_id": env.auth_conn_id,
    }


def measure_command(env: Environment, host: Host, since: str = "") -> str:
    """measure.sh on a host: database connectivity, the critical tables' rows, the security alarm."""
    return remote.command(
        host.tools,
        "measure",
        extra=remote.options(deploy_path=host.deploy_path, table=list(env.integrity_tables), since=since),
    )


def rollback_target(
    env: Environment,
    host: Host,
    to: str,
    version: str,
    run_id: str,
    reason: str,
    database: str = "",
    from_release: str = "",
) -> dict[str, Any]:
    """Everything one host does to roll back from ``from_release`` to release ``to`` (serving ``version``).

    ``database`` is the primary host's database step: "" (code only), a
    ``migrate.sh --rollback`` or a ``restore.sh`` command. A host that serves
    neither ``from_release`` nor ``to`` refuses and changes nothing.
    """
    switch = remote.command(
        host.tools,
        "rollback",
        extra=remote.options(
            deploy_path=host.deploy_path,
            **{"from": from_release},
            to=to,
            reload=host.reload_command,
            run_id=run_id,
            reason=reason,
        ),
    )
    return {
        "host": host.name,
        "environment": env.name,
        "deploy_path": host.deploy_path,
        "primary": host == env.primary,
        "ssh_conn_id": host.ssh_conn_id,
        "tools_dir": host.tools,
        "release": to,
        "commands": {
            "rollback": remote.chain(switch, after_switch_command(env, host, to)),
            "database": database or "true",
        },
        "timeouts": STEP_TIMEOUTS,
        "verify": verify_settings(env, host, version),
    }


def database_rollback_command(env: Environment, mode: str, bad_release: str, backup: str = "") -> str:
    """The primary host's database step of a rollback: nothing, undo the migrations, or restore."""
    h = env.primary
    if mode == "migrations":
        return remote.command(
            h.tools, "migrate", extra=remote.options(deploy_path=h.deploy_path, release=bad_release, rollback=True)
        )
    if mode == "restore":
        return remote.command(h.tools, "restore", extra=remote.options(deploy_path=h.deploy_path, name=backup))
    return ""


WAIVED_CRITICAL = 1_000_000  # a waived scan still runs and reports its findings; it stops nothing
GATES = ("tests", "coverage", "scan")


def quality_plan(
    cfg: Config, rtype: ReleaseType, waive: list[str] | None, reason: str | None, by: str
) -> dict[str, Any]:
    """The thresholds this release is held to, and the gates waived for it (who, why): both go to the audit trail."""
    quality = cfg.quality.thresholds(rtype)
    waived = [g for g in GATES if g in (waive or [])]
    if waived and not (reason or "").strip():
        raise ValueError("a waiver needs its reason: say in 'waiver_reason' why the gates may be skipped")
    quality["waiver"] = {"gates": waived, "reason": (reason or "").strip(), "by": by} if waived else None
    return quality


def release_plan(
    cfg: Config,
    rtype: ReleaseType,
    version: str,
    release: str,
    run_id: str,
    since: str,
    quality: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole run: the build, and for each environment of the release type, its hosts' targets."""
    quality = quality or quality_plan(cfg, rtype, None, None, "")
    waived = tuple((quality.get("waiver") or {}).get("gates", ()))
    return {
        "release_type": rtype.name,
        "owner": f"{rtype.dag_id}/{run_id}",  # who holds an environment's lock while deploying it
        "release": release,
        "version": version,
        "since": since,
        "build": build_target(cfg, rtype, version, release, since, waived),
        "min_coverage_percent": quality["min_coverage_percent"],
        "quality": quality,
        "environments": {
            stage: [
                host_target(cfg, cfg.environment(stage), h, version, release, run_id)
                for h in cfg.environment(stage).hosts
            ]
            for stage in rtype.stages
        },
    }
