"""The distributed engine, natively: docker-compose.yaml's configuration (CeleryExecutor, PostgreSQL as the
metadata database and result backend, Redis as the broker; api-server, scheduler, dag-processor, triggerer and
a Celery worker as separate processes), started by ``dev/airflow.sh start --distributed``. A release is
triggered through the command line client, as a CI pipeline would, and runs to success on the sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import yaml

from tests.e2e.conftest import ROOT, base_config
from tests.integration.conftest import served_version

pytestmark = pytest.mark.e2e

PORT = 18081
DATABASE = "airflow_e2e_celery"


def drop_database() -> None:
    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    conn.close()


@pytest.fixture(scope="module")
def celery_airflow(e2e_sandbox, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-celery")
    (home / "passwords.json").write_text(json.dumps({"admin": "admin"}))
    (home / "environments.yaml").write_text(yaml.safe_dump(base_config()))
    drop_database()  # a clean metadata database: what a first `docker compose up` gets
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_CONN_AIRFLOW_API"},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__API__PORT": str(PORT),
        "AIRFLOW_URL": f"http://127.0.0.1:{PORT}",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "18893",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "18894",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "DISTRIBUTED_DB": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{DATABASE}",
        "DISTRIBUTED_BROKER": "redis://127.0.0.1:6379/11",
        "LARAVEL_RELEASE_CONFIG": str(home / "environments.yaml"),
    }
    script = str(ROOT / "dev" / "airflow.sh")
    started = subprocess.run([script, "start", "--distributed"], env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stdout + started.stderr
    yield env, home
    subprocess.run([script, "stop", "--distributed"], env=env, capture_output=True)
    drop_database()


def cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "laravel_release", "trigger", *args],
        env={**env, "AIRFLOW_USERNAME": "admin", "AIRFLOW_PASSWORD": "admin"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_component_runs_as_its_own_process_on_postgres_and_redis(celery_airflow):
    env, home = celery_airflow
    pids = (home / "standalone.pid").read_text().split()
    assert len(pids) == 5  # api-server, scheduler, dag-processor, triggerer, celery worker
    commands = [open(f"/proc/{pid}/cmdline").read().replace("\0", " ") for pid in pids]  # noqa: PTH123, SIM115
    assert any("celery worker" in c for c in commands), commands
    for pid in pids:  # every component runs with compose's settings
        text = Path(f"/proc/{pid}/environ").read_text(errors="replace")
        environ = dict(line.split("=", 1) for line in text.split("\0") if "=" in line)
        assert environ["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == env["DISTRIBUTED_DB"]
        assert environ["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/11"


def test_a_release_triggered_from_ci_runs_to_success_on_celery_workers(celery_airflow, e2e_sandbox):
    env, home = celery_airflow
    # the dag-processor has to parse the DAGs first: until then the API answers 404 (exit 2)
    from laravel_release.client import Airflow

    api = Airflow.login(env["AIRFLOW_URL"], "admin", "admin")
    api.wait_for_dag("release_hotfix", timeout=180)
    result = cli(
        env, "release_hotfix", "--version", "v1.2.0", "--reason", "rebuild on the distributed engine", "--wait"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "triggered release_hotfix run " in out
    assert "production.switch_release[production-1]" in out and "success" in out  # progress, task by task
    assert out.rstrip().endswith(": success")
    assert {h: served_version(h) for h in ("production-1", "production-2")} == dict.fromkeys(
        ("production-1", "production-2"), "v1.2.0"
    )
    # the tasks ran in the Celery worker, not in the scheduler
    worker_log = (home / "celery-worker.log").read_text()
    assert "Task execute_workload" in worker_log or "execute_workload" in worker_log, worker_log[-2000:]
