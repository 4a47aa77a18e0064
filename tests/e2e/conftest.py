"""A real Airflow (standalone: api-server, scheduler, dag-processor, triggerer) on a private home and port."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from laravel_release.client import Airflow

ROOT = Path(__file__).resolve().parents[2]
PORT = 18080


@pytest.fixture(scope="session")
def airflow_server(sandbox):
    home = tempfile.mkdtemp(prefix="airflow-e2e-")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")},
        "AIRFLOW_HOME": home,
        "AIRFLOW__API__PORT": str(PORT),
        "AIRFLOW_URL": f"http://127.0.0.1:{PORT}",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "18793",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "18794",
    }
    script = str(ROOT / "dev" / "airflow.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stdout + started.stderr
    yield Airflow.login(f"http://127.0.0.1:{PORT}", "admin", "admin"), home
    subprocess.run([script, "stop"], env=env, capture_output=True)


@pytest.fixture
def api(airflow_server) -> Airflow:
    return airflow_server[0]
