"""The code passes its linters: ruff and mypy on the Python, shellcheck on every shell script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHELL = sorted(
    [*ROOT.glob("include/scripts/*.sh"), *ROOT.glob("include/sandbox/*.sh"), *ROOT.glob("dev/*.sh"), ROOT / ".ci/run"]
)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True)


def test_ruff():
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout
    result = run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout


def test_mypy():
    result = run(sys.executable, "-m", "mypy", "plugins/laravel_release")
    assert result.returncode == 0, result.stdout


def test_shellcheck():
    result = run("shellcheck", "-x", "-S", "warning", *map(str, SHELL))
    assert result.returncode == 0, result.stdout


def test_secrets_logs_and_airflow_homes_are_never_committed():
    for path in (
        ".env",
        ".env.production",
        "logs/dag_id=release_hotfix/attempt=1.log",
        "airflow-home/airflow.cfg",
        "airflow-home-distributed/jwt-secret",
        "airflow-home/passwords.json",
        "airflow-home/airflow.db",
        "config/airflow_local_settings.py",
    ):
        assert run("git", "check-ignore", "-q", path).returncode == 0, f"{path} is not ignored"
    assert run("git", "check-ignore", "-q", "include/sandbox/app/.env.example").returncode == 1  # a template
