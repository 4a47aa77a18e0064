"""Run whole release DAGs in this process (``dag.test()``) against the sandbox target."""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.inbox import Inbox  # the inbox fixture: tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]
STAKEHOLDERS = ["product@zm.test", "support@zm.test"]
HOSTS = {"staging-1": 8081, "uat-1": 8082, "production-1": 8083, "production-2": 8084}


@dataclass
class Run:
    state: str
    tasks: dict[str, str]  # task id (with [map index]) -> state
    log: str

    def failed_tasks(self) -> list[str]:
        return sorted(t for t, s in self.tasks.items() if s == "failed")


@pytest.fixture(scope="session", autouse=True)
def no_watch(tmp_path_factory, inbox):
    """The sandbox's environment file without the post-release watch: ``dag.test()`` runs a
    reschedule sensor once only (the watch is tested against a real scheduler, in tests/e2e).
    Its messages go to the inbox: production is announced on every channel, to its stakeholders."""
    data = yaml.safe_load((ROOT / "include" / "config" / "environments.yaml").read_text())
    data["environments"]["production"]["watch_minutes"] = 0
    data["notifications"] = Inbox.notifications()
    data["environments"]["production"]["stakeholders"] = STAKEHOLDERS
    path = tmp_path_factory.mktemp("config") / "environments.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LARAVEL_RELEASE_CONFIG", str(path))
        yield path


@pytest.fixture(scope="session")
def fresh_sandbox(sandbox):
    """The sandbox with nothing deployed and empty databases."""
    subprocess.run([str(ROOT / "include" / "sandbox" / "target.sh"), "reset"], check=True, capture_output=True)
    return sandbox


@pytest.fixture(scope="session")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors
    return bag.dags


@pytest.fixture
def run_dag(dags, capfd, caplog):
    def run(dag_id: str, conf: dict) -> Run:
        capfd.readouterr()
        caplog.clear()
        dag = dags[dag_id]
        # dag.test() leaves a run's conf in the DAG's and its tasks' params: put them back after the run
        saved = copy.deepcopy(dag.params), {t.task_id: copy.deepcopy(t.params) for t in dag.tasks}
        try:
            with caplog.at_level(logging.INFO):
                dagrun = dag.test(run_conf=conf)
        finally:
            dag.params = saved[0]
            for task in dag.tasks:
                task.params = saved[1][task.task_id]
        out, err = capfd.readouterr()
        err += "\n" + caplog.text  # the tasks' log lines
        tasks = {}
        for ti in dagrun.get_task_instances():
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            tasks[key] = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
        state = str(dagrun.state.value if hasattr(dagrun.state, "value") else dagrun.state)
        return Run(state, tasks, out + err)

    return run


def served_version(host: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{HOSTS[host]}/api/version", timeout=5) as r:
            return json.load(r)["version"]
    except OSError:
        return None


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def sql(sandbox: Path, query: str) -> str:
    return subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={sandbox}/mariadb/run/mariadb.sock", "-uroot", "-N", "-B", "-e", query],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
