"""The distributed engine, natively: docker-compose.yaml's configuration (CeleryExecutor, PostgreSQL as the
metadata database and result backend, Redis as the broker; api-server, scheduler, dag-processor, triggerer and
a Celery worker as separate processes) and FAB's users, started by ``dev/airflow.sh start --distributed``.
A release is triggered through the command line client, as a CI pipeline would, and runs to success on the
sandbox; another is signed off by a FAB user named in the environment file, after a non-approver and the
user who triggered it were refused, and a third, whose sign-off is marked success by hand, stops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
import redis
import requests
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


def query(sql: str) -> list[tuple]:
    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=DATABASE)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def test_every_component_runs_as_its_own_process_on_postgres_and_redis(celery_airflow):
    env, home = celery_airflow
    pids = (home / "standalone.pid").read_text().split()
    assert len(pids) == 5
    # (the components retitle themselves, e.g. "airflow api_server -- host:...", "[celeryd: ...] (celery worker)")
    commands = " | ".join(Path(f"/proc/{pid}/cmdline").read_text(errors="replace").replace("\0", " ") for pid in pids)
    for component in ("api_server", "scheduler", "dag-processor", "triggerer", "celery worker"):
        assert component in commands, commands
    # the scheduler, triggerer and dag-processor report to the PostgreSQL metadata database
    deadline = time.monotonic() + 120
    jobs: set[str] = set()
    while time.monotonic() < deadline and len(jobs) < 3:
        jobs = {row[0] for row in query("SELECT DISTINCT job_type FROM job WHERE state = 'running'")}
        time.sleep(1)
    assert {"SchedulerJob", "TriggererJob", "DagProcessorJob"} <= jobs


def test_the_files_that_hold_secrets_are_the_owner_s_alone(celery_airflow):
    _, home = celery_airflow
    secrets = [home / "jwt-secret", home / "passwords.json", *home.glob("airflow.cfg")]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in secrets} == {p.name: "0o600" for p in secrets}


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
    # the tasks went through Redis to the Celery worker, which kept their results in PostgreSQL
    assert query("SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS'")[0][0] > 20
    assert redis.Redis(host="127.0.0.1", port=6379, db=11).keys("_kombu.binding.*")


FAB_USERS = {"alice": "alice-fab", "mallory": "mallory-fab"}


@pytest.fixture(scope="module")
def fab_users(celery_airflow):
    """FAB users made as an administrator would (their ids are numbers; the environment file names them)."""
    env, _ = celery_airflow
    from laravel_release.client import fetch_token

    url = env["AIRFLOW_URL"]
    token = fetch_token(url, "admin", "admin")
    for name, password in FAB_USERS.items():  # FAB's users API, as an administrator would
        user = {"username": name, "password": password, "email": f"{name}@zm.test", "first_name": name}
        made = requests.post(
            f"{url}/auth/fab/v1/users",
            json={**user, "last_name": "E2E", "roles": [{"name": "User"}]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert made.status_code in (200, 201), made.text
    ids = dict(query("SELECT username, id FROM ab_user"))
    assert all(str(ids[name]).isdigit() for name in ("admin", *FAB_USERS))
    from laravel_release.client import Airflow

    return {"admin": Airflow.login(url, "admin", "admin")} | {
        name: Airflow.login(url, name, password) for name, password in FAB_USERS.items()
    }


def test_fab_users_named_as_approvers_sign_off_and_nobody_else_does(fab_users, e2e_sandbox):
    from laravel_release.client import ApiError
    from tests.e2e.test_release_in_airflow import wait_for_signoff

    admin = fab_users["admin"]
    admin.wait_for_dag("release_maintenance", timeout=180)
    admin.unpause("release_maintenance")
    run_id = admin.trigger("release_maintenance", {"version": "v1.2.0"})  # the approvers: admin, alice
    signoff = wait_for_signoff(admin, "release_maintenance", run_id)
    assert [u.name for u in signoff.assigned_users] == ["alice"]  # admin triggered it
    with pytest.raises(ApiError, match=r"HTTP 403.*mallory.*not a respondent"):
        fab_users["mallory"].answer("release_maintenance", run_id, "approve_production", "Approve")
    with pytest.raises(ApiError, match=r"HTTP 403.*admin.*not a respondent"):
        admin.answer("release_maintenance", run_id, "approve_production", "Approve")
    fab_users["alice"].answer("release_maintenance", run_id, "approve_production", "Approve", comment="UAT ok")
    assert admin.wait("release_maintenance", run_id, timeout=900) == "success"
    assert "UAT sign-off: approved by alice: UAT ok" in admin.task_log(
        "release_maintenance", run_id, "approve_production"
    )
    assert "approved by alice in Airflow" in admin.task_log("release_maintenance", run_id, "uat_signed_off")


def test_a_fab_signoff_marked_success_by_hand_stops_the_release(fab_users, e2e_sandbox):
    from tests.e2e.test_release_in_airflow import signoff_marked_success_by_hand

    signoff_marked_success_by_hand(fab_users["admin"])
