"""Talk to Airflow's REST API v2 with the official client: trigger, follow, answer sign-offs.

Used by ``make demo``, the end-to-end tests and CI pipelines. A token comes
from ``POST /auth/token`` with a user and password (or is given directly).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import urllib3

if TYPE_CHECKING:
    from airflow_client import client as af
else:

    class _OnFirstUse:
        """``airflow_client.client``, imported when first used: its import takes about a second, and every DAG
        parse and task start imports this module (through the steps that read the runs' history)."""

        def __getattr__(self, name: str) -> Any:
            from airflow_client import client

            return getattr(client, name)

    af = _OnFirstUse()

FINISHED = {"success", "failed"}
# Airflow 3.3 with the LocalExecutor marks a sign-off task FAILED when the answer arrives before
# the scheduler has processed the executor's event for the paused attempt (seen at 0.2 s after
# the request appeared). A person never answers that fast; a program waits this long first.
SIGNOFF_SETTLE_SECONDS = 3.0
DB_BUSY_ATTEMPTS = 3


class ApiError(RuntimeError):
    """The API refused a request or cannot be reached; the message says which and why.

    ``status`` is the HTTP status of a refusal, None when Airflow could not be reached.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def fetch_token(base_url: str, username: str, password: str, timeout: float = 10) -> str:
    import requests  # here, not at a DAG's parse (see hooks.py)

    try:
        response = requests.post(
            f"{base_url.rstrip('/')}/auth/token", json={"username": username, "password": password}, timeout=timeout
        )
    except requests.RequestException as err:
        raise ApiError(f"cannot reach Airflow at {base_url}: {err}") from None
    if response.status_code >= 400:
        raise ApiError(
            f"Airflow at {base_url} refused the login of {username!r}: HTTP {response.status_code}",
            response.status_code,
        )
    return str(response.json()["access_token"])


def state_name(state: Any) -> str:
    """A state or run type as Airflow spells it ("success"), whether the API's model gave an enum or a string."""
    return str(getattr(state, "value", state))


def log_lines(content: list[Any]) -> list[str]:
    """A task log's events as lines; a failure as its exception's type and message (not its frames)."""
    lines = []
    for item in content:
        if not isinstance(item, dict):
            lines.append(str(item))
            continue
        event = str(item.get("event", ""))
        if item.get("error_detail"):
            first = item["error_detail"][0] if isinstance(item["error_detail"], list) else {}
            lines.append(f"{event}: {first.get('exc_type', '')}: {first.get('exc_value', '')}")
            continue
        rest = {k: v for k, v in item.items() if k not in ("event", "timestamp", "level", "logger")}
        lines.append(event + (f" {json.dumps(rest, default=str)}" if rest else ""))
    return lines


@dataclass
class Airflow:
    base_url: str
    token: str

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> Airflow:
        return cls(base_url, fetch_token(base_url, username, password))

    def _api(self) -> af.ApiClient:
        # one retry at most: an unreachable API is reported, not retried for ever
        configuration = af.Configuration(host=self.base_url.rstrip("/"), access_token=self.token, retries=1)
        return af.ApiClient(configuration)

    def _call(self, what: str, fn: Callable[[af.ApiClient], Any]) -> Any:
        for attempt in range(DB_BUSY_ATTEMPTS):
            try:
                with self._api() as api:
                    return fn(api)
            except af.ApiException as err:
                # a busy embedded database fails the whole request (nothing was written): ask again, twice
                if err.status == 500 and "Database error" in str(err.body) and attempt < DB_BUSY_ATTEMPTS - 1:
                    time.sleep(1 + attempt)
                    continue
                raise ApiError(f"{what}: HTTP {err.status}: {err.body or err.reason}", err.status) from None
            except (OSError, urllib3.exceptions.HTTPError, af.exceptions.OpenApiException) as err:
                raise ApiError(f"{what}: cannot reach Airflow at {self.base_url}: {err}") from None
        raise AssertionError("unreachable")

    def wait_for_dag(self, dag_id: str, timeout: float = 120, poll: float = 1) -> None:
        """Wait until the DAG has been parsed (the API answers 404 until then)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._call(f"read {dag_id}", lambda api: af.DAGApi(api).get_dag(dag_id))
                return
            except ApiError as err:
                if err.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(poll)

    def unpause(self, dag_id: str) -> None:
        self._call(f"unpause {dag_id}", lambda api: af.DAGApi(api).patch_dag(dag_id, af.DAGPatchBody(is_paused=False)))

    def trigger(self, dag_id: str, conf: dict[str, Any], note: str | None = None) -> str:
        body = af.TriggerDAGRunPostBody(conf=conf, logical_date=None, note=note)
        run = self._call(f"trigger {dag_id}", lambda api: af.DagRunApi(api).trigger_dag_run(dag_id, body))
        return str(run.dag_run_id)

    def dag_run(self, dag_id: str, run_id: str) -> Any:
        return self._call(f"read {dag_id} {run_id}", lambda api: af.DagRunApi(api).get_dag_run(dag_id, run_id))

    def run_state(self, dag_id: str, run_id: str) -> str:
        return state_name(self.dag_run(dag_id, run_id).state)

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """{task id, with [host] for a mapped one: the task instance}"""
        tis = self._call(
            f"read tasks of {dag_id} {run_id}",
            lambda api: af.TaskInstanceApi(api).get_task_instances(dag_id, run_id, limit=1000),
        )
        out = {}
        for ti in tis.task_instances:
            key = ti.task_id if ti.map_index in (-1, None) else f"{ti.task_id}[{ti.rendered_map_index or ti.map_index}]"
            out[key] = ti
        return out

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """{task id, with [host] for a mapped one: state}"""
        return {key: state_name(ti.state) for key, ti in self.task_instances(dag_id, run_id).items()}

    def map_indexes(self, dag_id: str, run_id: str) -> dict[str, int]:
        """{task id with [host]: its map index}"""
        return {key: int(ti.map_index) for key, ti in self.task_instances(dag_id, run_id).items()}

    def dag_runs(self, dag_id: str, since: datetime | None = None) -> list[Any]:
        """The DAG's runs that started at or after ``since``, oldest first ([] for a DAG that does not exist)."""
        try:
            runs = self._call(
                f"list the runs of {dag_id}",
                lambda api: af.DagRunApi(api).get_dag_runs(
                    dag_id, run_after_gte=since, limit=1000, order_by=["run_after"]
                ),
            )
        except ApiError as err:
            if err.status == 404:
                return []
            raise
        return list(runs.dag_runs)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom (its return value by default), None when it has none."""
        try:
            entry = self._call(
                f"read {task_id}'s {key} in {dag_id} {run_id}",
                lambda api: af.XComApi(api).get_xcom_entry(dag_id, task_id, run_id, key, map_index=-1),
            )
        except ApiError as err:
            if err.status == 404:
                return None
            raise
        value = getattr(entry, "actual_instance", entry).value  # the response is one of two models
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def answers(self, dag_id: str, run_id: str) -> list[Any]:
        """Every human-in-the-loop request of a run, answered or not."""
        details = self._call(
            f"read the answers in {dag_id} {run_id}",
            lambda api: af.TaskInstanceApi(api).get_hitl_details(dag_id, run_id),
        )
        return list(details.hitl_details)

    def pending_signoffs(self, dag_id: str, run_id: str) -> list[Any]:
        details = self._call(
            f"read sign-offs of {dag_id} {run_id}",
            # a live request: its task waits for the answer (a withdrawn one's task was skipped)
            lambda api: af.TaskInstanceApi(api).get_hitl_details(
                dag_id, run_id, response_received=False, state=["awaiting_input", "deferred"]
            ),
        )
        return list(details.hitl_details)

    def answer(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        option: str,
        comment: str = "",
        map_index: int = -1,
        inputs: dict[str, Any] | None = None,
    ) -> Any:
        """Answer a sign-off request (with a comment: why), once it has been pending ``SIGNOFF_SETTLE_SECONDS``."""
        for detail in self.pending_signoffs(dag_id, run_id):
            if detail.task_instance.task_id == task_id:
                pending = time.time() - detail.created_at.timestamp()
                time.sleep(max(0.0, SIGNOFF_SETTLE_SECONDS - pending))
        payload = af.UpdateHITLDetailPayload(
            chosen_options=[option], params_input=inputs if inputs is not None else {"comment": comment}
        )
        return self._call(
            f"answer {task_id} of {dag_id} {run_id}",
            lambda api: af.TaskInstanceApi(api).update_hitl_detail(dag_id, run_id, task_id, map_index, payload),
        )

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
        """The log of a task's latest try, one line per event."""
        ti = self._call(
            f"read {task_id} of {dag_id} {run_id}",
            lambda api: (
                af.TaskInstanceApi(api).get_mapped_task_instance(dag_id, run_id, task_id, map_index)
                if map_index >= 0
                else af.TaskInstanceApi(api).get_task_instance(dag_id, run_id, task_id)
            ),
        )
        # the raw JSON: the generated model drops the fields that carry an error's details
        raw = self._call(
            f"read the log of {task_id} of {dag_id} {run_id}",
            lambda api: (
                af.TaskInstanceApi(api)
                .get_log_without_preload_content(
                    dag_id, run_id, task_id, max(ti.try_number, 1), full_content=True, map_index=map_index
                )
                .data
            ),
        )
        return "\n".join(log_lines(json.loads(raw).get("content") or []))

    def wait(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 900,
        poll: float = 2,
        on_progress: Callable[[dict[str, str]], None] | None = None,
        until: Callable[[], bool] | None = None,
    ) -> str:
        """Poll until the run finishes (or ``until()`` holds); returns the run's state."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if on_progress:
                states = self.task_states(dag_id, run_id)
                changed = {k: v for k, v in states.items() if seen.get(k) != v}
                if changed:
                    on_progress(changed)
                seen = states
            if state in FINISHED or (until and until()):
                return state
            time.sleep(poll)
        raise ApiError(f"{dag_id} {run_id} did not finish within {timeout:.0f} s (last state: {state})")
