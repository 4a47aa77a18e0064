"""Run the verb scripts on the sandbox's hosts over real SSH, in a scratch deploy path per test."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "include" / "scripts"
USER = "deploy@127.0.0.1"
OPTIONS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
# One SSH connection per host and test process, its sessions multiplexed: a test makes a dozen calls, and
# each new connection's handshake costs more than most of the scripts it runs.
SHARED = [
    *("-o", "ControlMaster=auto", "-o", "ControlPersist=60"),
    *("-o", f"ControlPath={tempfile.gettempdir()}/zena-ssh-{os.getpid()}-%C"),
]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout.strip().splitlines()[-1])


@dataclass
class Host:
    name: str
    port: int
    key: Path
    base: str  # a scratch folder on the host, removed after the test

    def ssh_command(self, command: str, shared: bool = False) -> list[str]:
        """The ssh command line; ``shared``: a session on the test process's connection to the host, else a
        connection of its own (one a test may cut)."""
        options = [*OPTIONS, *SHARED] if shared else OPTIONS
        return ["ssh", "-i", str(self.key), "-p", str(self.port), "-o", "BatchMode=yes", *options, USER, command]

    def ssh(self, command: str, timeout: float = 120) -> Result:
        proc = subprocess.run(self.ssh_command(command, shared=True), capture_output=True, text=True, timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def run(self, verb: str, *args: str) -> Result:
        return self.ssh(shlex.join([f"{self.base}/bin/{verb}.sh", *args]))

    def exists(self, path: str) -> bool:
        return self.ssh(shlex.join(["test", "-e", path])).code == 0


def _host(sandbox: Path, name: str, port: int, env_from: str | None):
    key = sandbox / "keys" / "deploy_ed25519"
    base = f"/tmp/zena-scratch-{name}-{uuid.uuid4().hex[:8]}"
    host = Host(name, port, key, base)
    setup = [f"mkdir -p {base}/bin {base}/app/shared"]
    if env_from:
        setup.append(f"cp {sandbox}/hosts/{env_from}/app/shared/.env {base}/app/shared/.env")
    assert host.ssh(" && ".join(setup)).code == 0
    scripts = map(str, sorted(SCRIPTS.glob("*.sh")))
    subprocess.run(
        ["scp", "-q", "-i", str(key), "-P", str(port), *OPTIONS, *SHARED, *scripts, f"{USER}:{base}/bin/"], check=True
    )
    return host


@pytest.fixture
def staging_host(sandbox):
    host = _host(sandbox, "staging-1", 2222, env_from="staging-1")
    yield host
    host.ssh(f"rm -rf {shlex.quote(host.base)}")


@pytest.fixture
def build_host(sandbox):
    host = _host(sandbox, "build-1", 2221, env_from=None)
    yield host
    host.ssh(f"rm -rf {shlex.quote(host.base)}")


@pytest.fixture(scope="session")
def repository(sandbox) -> str:
    return f"{sandbox}/repo/zenamanage.git"


@pytest.fixture
def private_db(staging_host, sandbox):
    """A database of its own for the test, named in the scratch host's .env; returns a root SQL runner."""
    db = f"scratch_{staging_host.base[-8:]}"
    root = f"mariadb --no-defaults --socket={sandbox}/mariadb/run/mariadb.sock -uroot"

    def sql(query: str) -> str:
        command = [*root.split(), "-N", "-B", db, "-e", query]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()

    subprocess.run(
        f"{root} -e 'CREATE DATABASE {db}; GRANT ALL ON {db}.* TO zena_staging@127.0.0.1'", shell=True, check=True
    )
    staging_host.ssh(f"sed -i 's/^DB_DATABASE=.*/DB_DATABASE={db}/' {staging_host.base}/app/shared/.env")
    yield sql
    subprocess.run(f"{root} -e 'DROP DATABASE {db}'", shell=True, check=True)
