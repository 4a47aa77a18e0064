"""The sandbox's connections file, read as the shell reads it. A module of its own: importing
tests/conftest.py again would run its setup again (a second AIRFLOW_HOME)."""

from __future__ import annotations

import shlex
from pathlib import Path


def load_env_file(path: Path) -> dict[str, str]:
    """The ``export KEY='value'`` lines of a shell file."""
    values = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            values[key] = shlex.split(value)[0]
    return values
