"""Fixtures shared by the whole suite.

Airflow reads its settings when first imported, so this module points it at a
private AIRFLOW_HOME before anything imports Airflow. The sandbox target is
started (or found running) by the ``sandbox`` fixture: nothing is mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.envfile import load_env_file
from tests.inbox import Inbox

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_ROOT = Path(os.environ.get("SANDBOX_ROOT", "/var/tmp/zena-sandbox"))
TARGET = ROOT / "include" / "sandbox" / "target.sh"

_home = tempfile.mkdtemp(prefix="airflow-test-home-")
os.environ.update(
    AIRFLOW_HOME=_home,
    AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
    LARAVEL_RELEASE_CONFIG=str(ROOT / "include" / "config" / "environments.yaml"),
)
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The e2e tests run last. pytest collects tests/e2e before tests/integration, and the e2e Airflow (a
    session fixture) would otherwise keep its scheduler, parsing and scheduled runs busy beside every
    integration test. Otherwise the order stays as collected."""
    e2e = ROOT / "tests" / "e2e"
    items.sort(key=lambda item: item.path.is_relative_to(e2e))


@pytest.fixture(scope="session")
def sandbox() -> Path:
    """The sandbox target, running, with its connections in this process's environment."""
    subprocess.run([str(TARGET), "start"], check=True, capture_output=True)
    os.environ.update(load_env_file(SANDBOX_ROOT / "airflow.env"))
    return SANDBOX_ROOT


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """An initialised metadata database (SQLite) for tests that run DAGs in-process."""
    result = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(scope="session")
def inbox():
    """Local stand-ins for Slack, Statuspage and a mail server (tests/inbox.py), their connections set."""
    box = Inbox()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in box.connections().items():
            mp.setenv(name, value)
        yield box
    box.close()
