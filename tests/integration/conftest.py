"""Run whole release DAGs in this process (``dag.test()``) against the sandbox target."""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    run_id: str = ""

    def failed_tasks(self) -> list[str]:
        return sorted(t for t, s in self.tasks.items() if s == "failed")


@pytest.fixture(scope="session", autouse=True)
def no_watch(tmp_path_factory, inbox):
    """The sandbox's environment file without the post-release watch: ``dag.test()`` runs a
    reschedule sensor once only (the watch is tested against a real scheduler, in tests/e2e).
    A verification's load lasts 1 s, not the policy's 3. Its messages go to the inbox: production is
    announced on every channel, to its stakeholders."""
    data = yaml.safe_load((ROOT / "include" / "config" / "environments.yaml").read_text())
    data["environments"]["production"]["watch_minutes"] = 0
    data["defaults"]["probe"]["seconds"] = 1  # the load a verification sends: no test judges its length
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
    """The DAGs, by id. ``dag.test()`` parses the DAG folder and writes every DAG of it to the metadata
    database at each call (1.5 s for fifteen DAGs); the files do not change during a session, so they are
    written at the first call only."""
    from airflow.dag_processing import dagbag as dagbag_module

    bag = dagbag_module.DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors
    sync_bag_to_db = dagbag_module.sync_bag_to_db
    written: set[str] = set()

    def write_once(dagbag, bundle_name, bundle_version, **kwargs):
        if bundle_name not in written:
            sync_bag_to_db(dagbag, bundle_name, bundle_version, **kwargs)
            written.add(bundle_name)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dagbag_module, "sync_bag_to_db", write_once)
        yield bag.dags


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
        return Run(state, tasks, out + err, dagrun.run_id)

    return run


class Answer(threading.Thread):
    """Answers a Required Action of the run ``dag.test()`` is running, as the REST API's PATCH does (the
    same rows, the same resume): ``dag.test()`` waits for an answer recorded from outside. Start it
    before the run; ``asked`` is the request as it was shown (subject, body, assigned users). Should
    answering fail, the task is failed instead, so that the run ends and the test says why."""

    def __init__(
        self, task_id: str, option: str, by: str = "admin", look: Callable[[], Any] | None = None, **inputs: str
    ) -> None:
        super().__init__(daemon=True)
        self.task_id, self.option, self.by, self.inputs = task_id, option, by, inputs
        self.look = look  # called once the question is asked, before answering: what was true meanwhile
        self.asked: dict = {}
        self.seen: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import TriggerEvent
        from airflow.utils import timezone
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import select

        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            with create_session() as session:
                waiting = select(TaskInstance).where(
                    TaskInstance.task_id == self.task_id, TaskInstance.state == TaskInstanceState.AWAITING_INPUT
                )
                ti = session.scalars(waiting).first()
                detail = session.get(HITLDetail, ti.id) if ti is not None else None
                if ti is not None and detail is not None:
                    try:
                        self.asked = {"subject": detail.subject, "body": detail.body, "assigned": detail.assignees}
                        self.seen = self.look() if self.look else None
                        detail.responded_by = {"id": self.by, "name": self.by}
                        detail.responded_at = timezone.utcnow()
                        detail.chosen_options = [self.option]
                        detail.params_input = self.inputs
                        event = TriggerEvent(detail.as_resume_event_payload())
                        handle_event_submit(event, task_instance=ti, session=session)
                    except Exception as err:
                        self.error = err
                        session.rollback()
                        ti.state = TaskInstanceState.FAILED
                        session.merge(ti)
                    return
            time.sleep(0.5)  # polls the run's state, as the UI would
        self.error = TimeoutError(f"{self.task_id} never asked for an answer")

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error:
            raise AssertionError(f"answering {self.task_id} failed: {self.error!r}") from self.error


def app_dir(sandbox: Path, host: str = "production-1") -> Path:
    return sandbox / "hosts" / host / "app"


def live_on(sandbox: Path, host: str = "production-1") -> str:
    """The release a host serves (its ``current`` link)."""
    return (app_dir(sandbox, host) / "current").readlink().name


def releases_live(run_dag: Callable[[str, dict], Run], versions: tuple[str, ...], reason: str) -> None:
    """The sandbox reset, then each version released as a hotfix in turn (the last one live)."""
    subprocess.run([str(ROOT / "include/sandbox/target.sh"), "reset"], check=True, capture_output=True)
    assert subprocess.run([str(ROOT / "include/sandbox/target.sh"), "start"], capture_output=True).returncode == 0
    for version in versions:
        run = run_dag("release_hotfix", {"version": version, "reason": reason})
        assert run.state == "success", (version, run.failed_tasks())


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
