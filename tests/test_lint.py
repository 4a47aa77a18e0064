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
