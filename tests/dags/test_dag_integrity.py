"""Every DAG imports cleanly, follows house policy, and touches nothing at parse time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

ROOT = Path(__file__).resolve().parents[2]
RELEASE_DAGS = ["release_hotfix", "release_feature", "release_maintenance", "release_major"]


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(RELEASE_DAGS) <= set(dagbag.dag_ids)


def test_parsing_uses_no_network_no_database_and_no_config_file():
    """Parse in a fresh interpreter where sockets refuse, the DB does not exist and the config is missing."""
    code = textwrap.dedent(
        f"""
        import socket
        def refuse(*a, **k):
            raise AssertionError("network used at parse time")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(ROOT / "dags")!r})
        assert not bag.import_errors, bag.import_errors
        print(len(bag.dags))
        """
    )
    env = {
        **os.environ,
        "LARAVEL_RELEASE_CONFIG": "/nonexistent/environments.yaml",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////nonexistent/dir/airflow.db",
    }
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW_CONN_")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip().splitlines()[-1]) >= 4


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_house_policy(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and dag.description
    assert "release" in dag.tags
    assert dag.catchup is False and dag.max_active_runs == 1
    assert {t.owner for t in dag.tasks} == {"release-engineering"}
    assert "version" in dag.params


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_no_retries_where_a_retry_would_hide_a_fault(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for task in dag.tasks:
        if task.task_id.endswith(("switch_release", "migrate_database", "backup_database")):
            assert task.retries == 0, task.task_id


def test_hotfix_skips_uat_but_verifies_staging(dagbag):
    dag = dagbag.dags["release_hotfix"]
    ids = set(dag.task_ids)
    assert not any(i.startswith("uat.") for i in ids) and "approve_production" not in ids
    assert "staging.verify_release" in dag.get_task("production.check_hosts").upstream_task_ids
    for task_id in ("production.backup_database", "production.migrate_database", "production.switch_release"):
        assert "staging.verify_release" in dag.get_task(task_id).get_flat_relative_ids(upstream=True)


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_the_build_is_distributed_to_every_stage_at_once(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for stage in ("staging", "production"):
        assert dag.get_task(f"{stage}.upload_release").upstream_task_ids == {"build_release", f"{stage}.plan_hosts"}
        assert f"{stage}.upload_release" in dag.get_task(f"{stage}.prepare_release").upstream_task_ids


@pytest.mark.parametrize("dag_id", ["release_feature", "release_maintenance", "release_major"])
def test_production_waits_for_uat_signoff(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    signoff = dag.get_task("approve_production")
    assert signoff.upstream_task_ids == {"write_signoff_request"}
    assert {"uat.verify_release", "write_release_notes", "plan_release"} <= dag.task_dict[
        "write_signoff_request"
    ].upstream_task_ids
    assert dag.get_task("production.check_hosts").upstream_task_ids == {"approve_production", "production.plan_hosts"}
    assert signoff.response_timeout.total_seconds() == 72 * 3600


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_migrations_wait_for_the_backup_and_the_switch_for_migrations(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for env in ("staging", "production"):
        assert f"{env}.backup_database" in dag.get_task(f"{env}.migrate_database").upstream_task_ids
        assert f"{env}.migrate_database" in dag.get_task(f"{env}.switch_release").upstream_task_ids
    assert "production.verify_release" in dag.get_task("finish_release").upstream_task_ids
