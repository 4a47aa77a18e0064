"""Run the verb scripts on the sandbox's hosts over real SSH, in a scratch deploy path per test."""

from __future__ import annotations

import json
import shlex
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "include" / "scripts"


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

    def ssh_command(self, command: str) -> list[str]:
        return [
            "ssh",
            "-i",
            str(self.key),
            "-p",
            str(self.port),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "deploy@127.0.0.1",
            command,
        ]

    def ssh(self, command: str, timeout: float = 120) -> Result:
        proc = subprocess.run(self.ssh_command(command), capture_output=True, text=True, timeout=timeout)
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
    subprocess.run(
        [
            "scp",
            "-q",
            "-i",
            str(key),
            "-P",
            str(port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            *map(str, sorted(SCRIPTS.glob("*.sh"))),
            f"deploy@127.0.0.1:{base}/bin/",
        ],
        check=True,
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
