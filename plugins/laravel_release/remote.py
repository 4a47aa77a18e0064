"""The bridge to the hosts: quoted commands for the scripts in include/scripts,
an SSH operator that returns their results, and SFTP transfers.

Every value that reaches a remote shell passes through ``command()``, which
quotes each word with ``shlex.quote``. Commands written by the operator in the
environment file (build commands, the reload command) are passed to the
scripts as single quoted arguments; the scripts run them with ``bash -c``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from airflow.providers.ssh.hooks.ssh import SSHHook
from airflow.providers.ssh.operators.ssh import SSHOperator
from airflow.sdk.exceptions import AirflowException
from paramiko.ssh_exception import SSHException

from laravel_release.config import PROJECT_ROOT

SCRIPTS_DIR = PROJECT_ROOT / "include" / "scripts"


class RemoteError(AirflowException):
    """A host could not be reached, or a step on it failed; the message names the host."""


def command(script_dir: str, verb: str, *args: Any, extra: Iterable[str] = ()) -> str:
    """``<script_dir>/<verb>.sh`` with every argument quoted."""
    words = [f"{script_dir}/{verb}.sh", *[str(a) for a in args], *extra]
    return shlex.join(words)


def chain(*commands: str) -> str:
    return " && ".join(c for c in commands if c)


def options(**values: Any) -> list[str]:
    """``--key value`` words for the values that are set; lists repeat the option."""
    words: list[str] = []
    for key, value in values.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value == "" or value is False:
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                words += [flag, str(item)]
        else:
            words += [flag, str(value)]
    return words


def parse_results(stdout: bytes | str) -> list[dict[str, Any]]:
    """The closing JSON lines of the scripts that ran, in order."""
    text = stdout.decode("utf-8", "replace") if isinstance(stdout, bytes) else stdout
    results = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"verb"' in line:
            try:
                results.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return results


def error_reason(stderr: bytes | str) -> str:
    """The script's own ``error:`` line, or the last line it wrote."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if ": error: " in line:
            return line.split(": error: ", 1)[1]
    return lines[-1] if lines else "no output"


def _connect_error(host: str, conn_id: str, err: Exception) -> RemoteError:
    return RemoteError(
        f"{host}: cannot connect over SSH (connection {conn_id!r}): {type(err).__name__}: {err}. "
        "Check that the host is up, the connection's address, user, key and host_key are right, "
        "and sshd answers. Nothing was changed on this host."
    )


class _Kept:
    """A shared connection's client, which a caller's ``with`` block leaves open (``shared_connections``
    closes it)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __enter__(self) -> _Kept:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_shared: dict[tuple[str, str], tuple[SSHHook, Any]] | None = None


@contextlib.contextmanager
def shared_connections() -> Iterator[None]:
    """Within it (a block, or a task's function it decorates), the commands and file reads of this module
    share one SSH connection per host, opened on first use and closed at the end: a task that asks a host
    many questions pays one handshake, not one per question. A connection found closed is opened again."""
    global _shared
    if _shared is not None:  # inside another: that one keeps and closes them
        yield
        return
    _shared = {}
    try:
        yield
    finally:
        opened, _shared = _shared, None
        for _, client in opened.values():
            client.close()


def connect(ssh_conn_id: str, host: str, **hook_args: Any) -> tuple[SSHHook, Any]:
    """An SSH hook and an open client, or a RemoteError that names the host."""
    key = (ssh_conn_id, host)
    if _shared is not None and key in _shared:
        hook, client = _shared.pop(key)
        transport = client.get_transport()
        if transport is not None and transport.is_active():
            _shared[key] = hook, client
            return hook, _Kept(client)
        client.close()
    hook = SSHHook(ssh_conn_id=ssh_conn_id, **hook_args)
    try:
        client = hook.get_conn()
    except Exception as err:  # paramiko and socket errors differ by cause; all mean "not reached"
        raise _connect_error(host, ssh_conn_id, err) from err
    if _shared is None:
        return hook, client
    _shared[key] = hook, client
    return hook, _Kept(client)


class RemoteScript(SSHOperator):
    """Run one step's verb scripts on a host over SSH and return their closing JSON lines.

    ``target`` is a host's entry of the run's plan (see ``plan.host_target``), usually
    an XCom; ``step`` picks the command to run from it. A list of targets means
    "the first of them": the primary host of an environment, for the steps that
    run once per environment (backup, migrations).

    Unlike a plain SSHOperator, a failure names the host and quotes the script's
    own error line, the XCom is the parsed results (not base64 text), and the
    command is never rendered as a Jinja template: it is built from quoted values.
    """

    template_fields: Sequence[str] = ("target",)
    template_ext: Sequence[str] = ()
    ui_color = "#e8f4ea"

    def __init__(self, *, step: str, target: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step = step
        self.target = target
        self.host = ""

    def _aim(self) -> None:
        target = self.target[0] if isinstance(self.target, list) else self.target
        if not target or self.step not in target.get("commands", {}):
            raise AirflowException(f"no {self.step!r} command planned for this task (target: {target!r})")
        self.host = target["host"]
        self.ssh_conn_id = target["ssh_conn_id"]
        self.command = target["commands"][self.step]
        self.cmd_timeout = target["timeouts"][self.step]

    def raise_for_status(self, exit_status: int, stderr: bytes, context: Any = None) -> None:
        if exit_status != 0:
            raise step_failed(self.host, self.step, exit_status, stderr)

    def execute(self, context: Any = None) -> list[dict[str, Any]]:  # type: ignore[override]
        self._aim()
        started = time.monotonic()
        if self.step in DETACHED_STEPS and self.command != "true" and context:
            target = self.target[0] if isinstance(self.target, list) else self.target
            job = job_id(context["run_id"], context["ti"].task_id, self.host)
            results = run_detached(target, self.step, job, self.log)
            self.log.info("%s: %s done in %.2fs", self.host, self.step, time.monotonic() - started)
            return results
        try:
            client = self.get_ssh_client()
        except Exception as err:  # as in connect()
            raise _connect_error(self.host, str(self.ssh_conn_id), err) from err
        with client:
            stdout = self.run_ssh_client_command(client, as_host(self.host, str(self.command)), context=context)
        results = parse_results(stdout)
        self.log.info("%s: %s done in %.2fs", self.host, self.step, time.monotonic() - started)
        return results


def step_failed(host: str, step: str, exit_status: int, stderr: bytes | str) -> RemoteError:
    """A step's failure on a host: its exit status, the script's own error line and the last lines it wrote."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    tail = "\n".join(text.splitlines()[-15:])
    return RemoteError(
        f"{host}: {step} failed with exit {exit_status}: {error_reason(text)}\n"
        f"--- last lines of remote stderr ---\n{tail}"
    )


def run_detached(target: dict[str, Any], step: str, job: str, logger: Any) -> list[dict[str, Any]]:
    """``step`` of a host's planned ``target`` as job.sh's job ``job`` on the host: started once (a retry
    attaches to it), then polled over short sessions until it ends. A dropped session is asked again; the
    work goes on meanwhile, holding the database lock, and is never started twice."""
    conn, host, tools = str(target["ssh_conn_id"]), target["host"], target["tools_dir"]
    cmd_timeout = target["timeouts"][step]
    where = options(deploy_path=target["deploy_path"], id=job)
    start = command(tools, "job", extra=[*where, "--start", "--command", str(target["commands"][step])])
    for attempt in range(JOB_START_ATTEMPTS):  # asking again attaches to a job started already
        try:
            _, started, err = call(conn, host, start)
        except (AirflowException, OSError, EOFError, SSHException) as lost:
            started, err = [], str(lost)
        if started:
            break
        logger.warning("%s: no answer starting %s (%s): asking again", host, job, error_reason(err))
        time.sleep(JOB_RECONNECT_SECONDS * (attempt + 1))
    else:
        raise RemoteError(f"{host}: {step} could not be started as job {job}: {error_reason(err)}")
    if "error" in started[-1]:
        raise RemoteError(f"{host}: {step} could not be started as job {job}: {started[-1]['error']}")
    timeout = cmd_timeout if isinstance(cmd_timeout, (int, float)) else 1800
    deadline = time.monotonic() + timeout
    while True:
        try:
            code, out, err = _exec(
                conn,
                host,
                command(tools, "job", extra=[*where, "--wait", str(JOB_POLL_SECONDS)]),
                timeout=JOB_POLL_SECONDS + 60,
            )
            if code == SESSION_LOST:
                raise EOFError("the session closed without an exit status")
        except (AirflowException, OSError, EOFError, SSHException) as lost:  # the session, not the job
            if time.monotonic() > deadline:
                raise
            logger.warning("%s: lost the session while %s runs (%s): it goes on; asking again", host, job, lost)
            time.sleep(JOB_RECONNECT_SECONDS)
            continue
        if code != JOB_RUNNING:
            break
        if time.monotonic() > deadline:
            raise RemoteError(
                f"{host}: {step} is still running after {cmd_timeout} s (job {job}): it holds the "
                f"database lock until it ends; its output is in {target['deploy_path']}/.deploy/jobs/{job}. "
                "Wait for it before any other database step."
            )
    for line in err.splitlines():
        logger.info("%s: %s", host, line)
    if code != 0:
        raise step_failed(host, step, code, err)
    return parse_results(out)


# the steps that run as job.sh jobs: long database work that must outlive a dropped session
DETACHED_STEPS = ("backup", "migrate", "database")
JOB_POLL_SECONDS = 20
JOB_RUNNING = 75  # job.sh --wait: not ended yet
SESSION_LOST = -1  # paramiko's exit status of a channel closed before the command ended
JOB_RECONNECT_SECONDS = 2
JOB_START_ATTEMPTS = 3


def job_id(run_id: str, task_id: str, host: str) -> str:
    """A job's name on the host: the same for every try of one task of one run (a retry attaches)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{task_id}-{host}-{run_id}")[:200]


def as_host(host: str, cmd: str) -> str:
    """``cmd`` run so that the verb scripts name the host as the environment file does (not by its hostname)."""
    return f"export DEPLOY_HOST_NAME={shlex.quote(host)}; {cmd}" if host else cmd


def _exec(ssh_conn_id: str, host: str, cmd: str, timeout: float) -> tuple[int, str, str]:
    hook, client = connect(ssh_conn_id, host, cmd_timeout=timeout)
    with client:
        code, out, err = hook.exec_ssh_client_command(
            client, as_host(host, cmd), get_pty=False, environment=None, timeout=timeout
        )
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def run(ssh_conn_id: str, host: str, cmd: str, timeout: float = 60) -> tuple[str, str]:
    """Run one command from a Python task; returns (stdout, stderr) or raises RemoteError."""
    code, out, err = _exec(ssh_conn_id, host, cmd, timeout)
    if code != 0:
        raise RemoteError(f"{host}: {cmd.split()[0]} failed with exit {code}: {error_reason(err)}")
    return out, err


def call(ssh_conn_id: str, host: str, cmd: str, timeout: float = 60) -> tuple[int, list[dict[str, Any]], str]:
    """Run verb scripts whose exit code is an answer (lock.sh exits 6 when held): (exit, results, stderr)."""
    code, out, err = _exec(ssh_conn_id, host, cmd, timeout)
    return code, parse_results(out), err


def install_tools(ssh_conn_id: str, host: str, tools_dir: str) -> list[str]:
    """Copy include/scripts/*.sh to ``tools_dir`` on the host (where the verb scripts run from)."""
    scripts = sorted(SCRIPTS_DIR.glob("*.sh"))
    hook, client = connect(ssh_conn_id, host)
    with client:
        code, _, err = hook.exec_ssh_client_command(
            client, shlex.join(["mkdir", "-p", tools_dir]), get_pty=False, environment=None, timeout=30
        )
        if code != 0:
            raise RemoteError(f"{host}: cannot create {tools_dir}: {error_reason(err)}")
        with client.open_sftp() as sftp:
            for script in scripts:
                tmp = f"{tools_dir}/.{script.name}.tmp"
                sftp.put(str(script), tmp)
                sftp.chmod(tmp, 0o755)
                sftp.posix_rename(tmp, f"{tools_dir}/{script.name}")
    return [s.name for s in scripts]


def transfer(
    source_conn: str,
    target_conn: str,
    target_host: str,
    files: list[tuple[str, str]],
    then: str = "",
    timeout: float = 300,
) -> tuple[int, list[dict[str, Any]]]:
    """Copy files from one host to another through this worker (SFTP at both ends), then run ``then`` there.

    Each file is written to ``<target>.partial`` and renamed, so an interrupted
    transfer never leaves a file that looks complete. Returns the bytes copied
    and the results of ``then``.
    """
    buffers = []
    _, client = connect(source_conn, "build host")
    with client, client.open_sftp() as sftp:
        for source, target in files:
            buffer = io.BytesIO()
            sftp.getfo(source, buffer)
            buffers.append((buffer, target))
    total = 0
    hook, client = connect(target_conn, target_host)
    with client:
        with client.open_sftp() as sftp:
            for buffer, target in buffers:
                size = buffer.tell()
                buffer.seek(0)
                _sftp_makedirs(sftp, str(Path(target).parent))
                sftp.putfo(buffer, target + ".partial", file_size=size, confirm=True)
                sftp.posix_rename(target + ".partial", target)
                total += size
        if not then:
            return total, []
        code, out, err = hook.exec_ssh_client_command(
            client, as_host(target_host, then), get_pty=False, environment=None, timeout=timeout
        )
    if code != 0:
        raise RemoteError(
            f"{target_host}: {then.split()[0].rsplit('/', 1)[-1]} failed with exit {code}: {error_reason(err)}"
        )
    return total, parse_results(out)


def _sftp_makedirs(sftp: Any, path: str) -> None:
    parts = Path(path).parts
    for i in range(2, len(parts) + 1):
        d = str(Path(*parts[:i]))
        try:
            sftp.stat(d)
        except FileNotFoundError:
            sftp.mkdir(d)


def live_version(ssh_conn_id: str, host: str, deploy_path: str) -> str:
    """The version a host serves (``current/.release.json``; for a release another tool deployed, its
    adoption record or its VERSION file), or '' before its first release or when it is not known."""
    text = read_file(ssh_conn_id, host, f"{deploy_path}/current/.release.json")
    if text:
        return str(json.loads(text).get("version", ""))
    _, client = connect(ssh_conn_id, host)
    with client, client.open_sftp() as sftp:
        try:
            live = Path(sftp.readlink(f"{deploy_path}/current") or "").name
        except OSError:
            return ""  # nothing is live
    adopted = read_file(ssh_conn_id, host, f"{deploy_path}/.deploy/adopted/{live}.json")
    if adopted:
        version = str(json.loads(adopted).get("version", ""))
    else:
        version = (read_file(ssh_conn_id, host, f"{deploy_path}/current/VERSION") or "").strip()
    return "" if version in ("", "unknown") else version


def read_file(ssh_conn_id: str, host: str, path: str) -> str | None:
    """The text of a file on a host, or None when it does not exist."""
    _, client = connect(ssh_conn_id, host)
    with client, client.open_sftp() as sftp:
        try:
            with sftp.open(path) as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return None
