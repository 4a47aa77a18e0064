"""A real Airflow (standalone: api-server, scheduler, dag-processor, triggerer) on a private home and port.

It reads its own copy of the sandbox's environment file, which a test may change
while runs are in flight (the file is read when a task runs): sign-off approvers
are admin and alice (mallory may log in but is no approver), maintenance and
major releases have a window that is always open, and the feature window is the
policy's unless a test moves it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from laravel_release import config
from laravel_release.client import Airflow

ROOT = Path(__file__).resolve().parents[2]
PORT = 18080
APPROVALS_PORT = 18095
APPROVALS_LOGIN, APPROVALS_PASSWORD = "release", "approvals-e2e"
# the approval service's connection: its URL and credentials (http: it is local; a real one is https)
APPROVALS_CONN = json.dumps(
    {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": APPROVALS_PORT,
        "schema": "http",
        "login": APPROVALS_LOGIN,
        "password": APPROVALS_PASSWORD,
    }
)
USERS = {"admin": "admin", "alice": "alice-e2e", "mallory": "mallory-e2e", "vera": "vera-e2e"}
ROLES = {"vera": "viewer"}  # the others are admins
ALWAYS_OPEN = {"weekdays": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "hours": 24}


def base_config() -> dict[str, Any]:
    data = yaml.safe_load(config.DEFAULT_CONFIG.read_text())
    data["environments"]["uat"]["signoff"] = {"approvers": ["admin", "alice"], "poll_seconds": 15}
    data["environments"]["production"]["claim_timeout_minutes"] = 30
    data["environments"]["production"]["watch_minutes"] = 0  # a test that watches sets its own
    data["defaults"]["probe"]["seconds"] = 1  # the load a verification sends: no test judges its length
    data["windows"] = {"maintenance": ALWAYS_OPEN, "major": ALWAYS_OPEN}
    return data


@pytest.fixture(scope="session")
def e2e_sandbox(sandbox):
    """Nothing deployed, empty databases: the e2e runs start from a known state."""
    subprocess.run([str(ROOT / "include" / "sandbox" / "target.sh"), "reset"], check=True, capture_output=True)
    return sandbox


@pytest.fixture(scope="session")
def airflow_server(e2e_sandbox):
    home = Path(tempfile.mkdtemp(prefix="airflow-e2e-"))
    (home / "passwords.json").write_text(json.dumps(USERS))
    (home / "environments.yaml").write_text(yaml.safe_dump(base_config()))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_CONN_AIRFLOW_API"},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__API__PORT": str(PORT),
        "AIRFLOW_URL": f"http://127.0.0.1:{PORT}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{ROLES.get(u, 'admin')}" for u in USERS),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "18793",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "18794",
        "LARAVEL_RELEASE_CONFIG": str(home / "environments.yaml"),
        "AIRFLOW_CONN_ZENA_APPROVALS": APPROVALS_CONN,
    }
    script = str(ROOT / "dev" / "airflow.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stdout + started.stderr
    api = Airflow.login(f"http://127.0.0.1:{PORT}", "admin", "admin")
    for dag_file in sorted((ROOT / "dags").glob("*.py")):  # ready: every DAG parsed (each file's DAG is its name)
        api.wait_for_dag(dag_file.stem)
    yield api, home
    subprocess.run([script, "stop"], env=env, capture_output=True)


@pytest.fixture
def api(airflow_server) -> Airflow:
    return airflow_server[0]


@pytest.fixture
def login(airflow_server) -> Callable[[str], Airflow]:
    return lambda user: Airflow.login(f"http://127.0.0.1:{PORT}", user, USERS[user])


@pytest.fixture
def configure(airflow_server) -> Callable[[Callable[[dict], None]], None]:
    """Change the environment file Airflow's tasks read; put it back after the test."""
    path = airflow_server[1] / "environments.yaml"

    def change(edit: Callable[[dict], None]) -> None:
        data = base_config()
        edit(data)
        path.write_text(yaml.safe_dump(data))

    yield change
    path.write_text(yaml.safe_dump(base_config()))


class ApprovalService:
    """A stand-in for a ticket or approval service: answers GET /approvals?version=..&run_id=.. with a
    decision that echoes the version and run it decides, to the credentials of its Airflow connection."""

    def __init__(self) -> None:
        self.decisions: dict[str, dict[str, str]] = {}
        self.asked: list[dict[str, str]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                expected = "Basic " + base64.b64encode(f"{APPROVALS_LOGIN}:{APPROVALS_PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                service.asked.append(query)
                decision = service.decisions.get(query.get("version", ""), {"status": "pending"})
                if decision["status"] != "pending":
                    decision = {"version": query.get("version"), "run_id": query.get("run_id"), **decision}
                body = json.dumps(decision).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", APPROVALS_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def approval_service(configure):
    service = ApprovalService()
    service_conf = {"conn_id": "zena_approvals", "endpoint": "/approvals"}
    configure(lambda data: data["environments"]["uat"]["signoff"].update(service=service_conf))
    yield service
    service.server.shutdown()
    service.server.server_close()


SCREENSHOTS = ROOT / "docs" / "screenshots"


class Cockpit:
    """The Releases cockpit of the e2e Airflow, as a browser and as CI see it."""

    def __init__(self, api: Airflow) -> None:
        self.api = api

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        """(status, JSON answer) of ``/releases<path>``, as the admin unless another token is given."""
        import requests

        headers = {"Authorization": f"Bearer {token if token is not None else self.api.token}"} if token != "" else {}
        answer = requests.request(
            method, f"{self.api.base_url}/releases{path}", json=body, headers=headers, timeout=30, allow_redirects=False
        )
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.headers.get("location", answer.text)

    def refresh(self) -> dict[str, Any]:
        """A snapshot taken now (the page's Refresh, then the run it started), and the cockpit's data."""
        status, started = self.call("POST", "/api/actions/snapshot", {})
        assert status == 202, started
        assert self.api.wait(started["dag_id"], started["run_id"], timeout=300) == "success"
        status, data = self.call("GET", "/api/cockpit")
        assert status == 200 and data["snapshot"]["run_id"] == started["run_id"], data
        return data

    def screenshot(self, name: str, in_airflow: bool = False) -> str:
        """A fresh snapshot, then the page in headless Chromium, signed in as the admin: saved as
        docs/screenshots/<name>.png; returns the page's text. ``in_airflow``: as the UI's navigation
        shows it (Airflow's page, the cockpit in its frame)."""
        from playwright.sync_api import sync_playwright

        self.refresh()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_cookies([{"name": "_token", "value": self.api.token, "url": self.api.base_url}])
                page = context.new_page()
                if in_airflow:
                    page.goto(f"{self.api.base_url}/plugin/releases")
                    frame = page.frame_locator("iframe")
                    frame.get_by_text("Environments").wait_for(timeout=60_000)
                    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
                    return str(frame.locator("body").inner_text())
                page.goto(f"{self.api.base_url}/releases/")
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
                return page.inner_text("body")
            finally:
                browser.close()


CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by dev/setup.sh


@pytest.fixture(scope="session")
def cockpit(airflow_server) -> Cockpit:
    api = airflow_server[0]
    api.unpause("release_cockpit")
    api.unpause("deployment_freeze")
    return Cockpit(api)
