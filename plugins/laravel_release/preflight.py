"""Preflight: can an environment take its first release? One table of what holds and what to fix.

    python -m laravel_release preflight --environment production

Per host: SSH login with a pinned host key, then ``preflight.sh`` sent over the
same session (nothing is installed or written on the host): the deploy path,
``shared/.env`` and its database settings, the database as the app's user,
``mariadb-dump``, free disk, the reload command without a password prompt, and
the releases another tool left (adopted at the first release). From here, over
HTTP: the health and version endpoints as the environment file configures them,
and that the version endpoint follows ``current`` (nginx serves
``current/public`` through ``$realpath_root``). The ``preflight`` DAG runs the
same checks in Airflow.

Exit codes, like ``trigger``'s: 0 every check holds; 1 a check failed; 2 the
request is invalid (an unknown environment, the environment file, a missing
connection); 4 a host cannot be reached over SSH.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
from dataclasses import dataclass
from typing import Any, TextIO

from laravel_release import config, remote, verify
from laravel_release.remote import SCRIPTS_DIR

OK, FAILED, INVALID, UNREACHABLE = 0, 1, 2, 4


@dataclass(frozen=True)
class Check:
    host: str
    check: str
    ok: bool
    detail: str
    fix: str = ""


def connections_from_airflow(conn_ids: list[str]) -> list[str]:
    """Make the named connections readable here, from Airflow's own secrets backends (environment
    variables, the metadata database, a configured backend); returns those that exist nowhere.

    Outside a task, the task SDK may look only at environment variables; reading the backends
    directly and handing the connection over as ``AIRFLOW_CONN_*`` works in every case.
    """
    from airflow.configuration import ensure_secrets_loaded
    from airflow.sdk import BaseHook

    missing = []
    for conn_id in conn_ids:
        var = f"AIRFLOW_CONN_{conn_id.upper()}"
        if os.environ.get(var):
            continue
        with contextlib.suppress(Exception):  # in a task: through its supervisor, whatever the backend
            BaseHook.get_connection(conn_id)
            continue
        found = None  # not found that way (outside a task): ask the backends themselves
        for backend in ensure_secrets_loaded():
            try:
                found = backend.get_connection(conn_id=conn_id)
            except Exception:  # noqa: BLE001  a backend that cannot answer (no database here) is skipped
                found = None
            if found:
                break
        if found:
            os.environ[var] = found.as_json()
        else:
            missing.append(conn_id)
    return missing


def remote_script(verb: str) -> str:
    """A verb script with lib.sh inlined, to run from stdin (``bash -s``): nothing is copied to the host."""
    lib = (SCRIPTS_DIR / "lib.sh").read_text()
    body = (SCRIPTS_DIR / f"{verb}.sh").read_text().replace('. "$(dirname "$0")/lib.sh"', "")
    return f"{lib}\nVERB={verb}\n{body}"


def run_over_ssh(h: config.Host, verb: str, args: list[str]) -> dict[str, Any]:
    """Run a verb script on ``h`` from stdin; its closing JSON line."""
    hook, client = remote.connect(h.ssh_conn_id, h.name)
    with client:
        cmd = remote.as_host(h.name, shlex.join(["bash", "-s", "--", *args]))
        stdin, stdout, stderr = client.exec_command(cmd, timeout=60)
        stdin.write(remote_script(verb))
        stdin.channel.shutdown_write()
        out = stdout.read().decode("utf-8", "replace")
        err = stderr.read().decode("utf-8", "replace")
    results = remote.parse_results(out)
    if not results or not results[-1].get("ok"):
        raise remote.RemoteError(f"{h.name}: {verb} failed: {remote.error_reason(err)}")
    return results[-1]


def ssh_check(h: config.Host) -> Check:
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(h.ssh_conn_id)
    extra = conn.extra_dejson
    pinned = bool(extra.get("host_key")) and str(extra.get("no_host_key_check", "false")).lower() != "true"
    remote.connect(h.ssh_conn_id, h.name)[1].close()  # raises RemoteError (unreachable) with the reason
    where = f"{conn.login}@{conn.host}:{conn.port or 22} ({h.ssh_conn_id})"
    if not pinned:
        return Check(
            h.name,
            "ssh login",
            False,
            f"{where}: logged in, but the host key is not pinned",
            f"put the host's key in the connection's extra 'host_key' (ssh-keyscan -p {conn.port or 22} {conn.host})",
        )
    return Check(h.name, "ssh login", True, f"{where}, host key pinned")


def http_checks(env: config.Environment, h: config.Host, current: str, current_version: str) -> list[Check]:
    from laravel_release.steps.verify import probe, probe_hook

    if not current:
        return [Check(h.name, "endpoints", True, "nothing is live yet: the first release's verification checks them")]
    hook = probe_hook(h.base_url)
    health = probe(hook, "health", env.health_path)
    problems = verify.check_health(health)
    checks = [
        Check(
            h.name,
            f"health {env.health_path}",
            not problems,
            problems[0] if problems else f"{health.url} answers {health.status}",
            "" if not problems else "set endpoints.health to the path where the app says it is healthy",
        )
    ]
    if not env.version_path:
        checks.append(
            Check(h.name, "version", True, "off (endpoints.version: false): nothing will prove what a host serves")
        )
        return checks
    answer = probe(hook, "version", env.version_path)
    reported = verify.reported_version(answer, env.version_field, env.version_pattern)
    if answer.status != 200 or not isinstance(reported, str) or not reported:
        where = f"pattern {env.version_pattern!r}" if env.version_pattern else f"field {env.version_field!r}"
        checks.append(
            Check(
                h.name,
                f"version {env.version_path}",
                False,
                f"{answer.url} answered {answer.status} without a version ({where})",
                "set endpoints.version (path, and field or pattern) to where the app reports its release, "
                "or false to turn the check off",
            )
        )
        return checks
    checks.append(Check(h.name, f"version {env.version_path}", True, f"reports {reported}"))
    if current_version in ("", "unknown"):
        checks.append(
            Check(
                h.name,
                "serves current",
                True,
                f"{current} has no VERSION file: cannot compare it with {reported} (the first release will)",
            )
        )
    elif verify.same_version(reported, current_version):
        checks.append(Check(h.name, "serves current", True, f"the version endpoint follows current ({current})"))
    else:
        checks.append(
            Check(
                h.name,
                "serves current",
                False,
                f"current is {current} ({current_version}), the app reports {reported}",
                "serve current/public with the resolved path: root .../current/public; fastcgi_param "
                "SCRIPT_FILENAME $realpath_root$fastcgi_script_name; and DOCUMENT_ROOT $realpath_root",
            )
        )
    return checks


def host_checks(env: config.Environment, h: config.Host) -> list[Check]:
    """Everything preflight checks on one host (raises RemoteError when the host cannot be reached)."""
    checks = [ssh_check(h)]
    args = remote.options(
        deploy_path=h.deploy_path,
        min_free_mb=env.min_free_mb,
        reload=h.reload_command,
        shared_file=list(env.shared_files),
        database=h == env.primary,
    )
    found = run_over_ssh(h, "preflight", args)
    checks += [Check(h.name, c["check"], c["ok"], c["detail"], c["fix"]) for c in found["checks"]]
    foreign = found.get("foreign_releases") or []
    checks.append(
        Check(
            h.name,
            "releases to adopt",
            True,
            (
                f"{len(foreign)} left by another tool ({', '.join(foreign)}); live: {found['current'] or 'none'}"
                + (" (the first release's rollback target)" if found["current"] in foreign else "")
            )
            if foreign
            else f"none; live: {found['current'] or 'none'}",
        )
    )
    checks += http_checks(env, h, found["current"], found.get("current_version", ""))
    return checks


def run(environment: str, out: TextIO) -> int:
    """Preflight of every host of ``environment``: the table on ``out``, and the exit code."""
    logging.getLogger("paramiko").setLevel(logging.WARNING)  # the table says what the connections did
    try:
        cfg = config.load()
        env = cfg.environment(environment)
    except (config.ConfigError, KeyError) as err:
        print(f"error: {err}", file=out)
        return INVALID
    missing = connections_from_airflow(sorted({h.ssh_conn_id for h in env.hosts}))
    if missing:
        print(
            f"error: Airflow connection(s) {', '.join(missing)} named in {cfg.source} do not exist: create them "
            f"(airflow connections add, or AIRFLOW_CONN_{missing[0].upper()}) or fix the file",
            file=out,
        )
        return INVALID
    checks: list[Check] = []
    unreachable = False
    for h in env.hosts:
        try:
            checks += host_checks(env, h)
        except remote.RemoteError as err:
            unreachable = True
            checks.append(Check(h.name, "ssh login", False, str(err), "bring the host up, or fix its connection"))
    print(table(environment, checks), file=out)
    if unreachable:
        return UNREACHABLE
    return OK if all(c.ok for c in checks) else FAILED


def table(environment: str, checks: list[Check]) -> str:
    """The checks as one table: host, check, ok or FAIL, what was found, and for a failure what to do."""
    width = max((len(c.check) for c in checks), default=5)
    hosts = max((len(c.host) for c in checks), default=4)
    failed = sum(not c.ok for c in checks)
    lines = [f"preflight of {environment}: " + (f"{failed} to fix" if failed else "all green")]
    for c in checks:
        lines.append(f"{c.host:<{hosts}}  {c.check:<{width}}  {'ok  ' if c.ok else 'FAIL'}  {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"{'':<{hosts}}  {'':<{width}}        fix: {c.fix}")
    return "\n".join(lines)
