"""Benchmarks: ``make bench`` (``python -m bench``) writes bench/results.json, a flat object of figures.

deploy_*   continuous load (ab, 8 clients, /api/projects through the production load
           balancer) during two hotfix releases in a row (v1.1.0 migrates the database,
           v1.2.0 changes only code), each switching both production hosts: requests
           served, requests failed (errors and non-2xx), p95 before and during.
hotfix_*   trigger to production verified, in a real Airflow (standalone, LocalExecutor):
           wall seconds, and the seconds spent in remote commands along the run (for each
           step the slowest host), so Airflow's own share shows.

Figures, not verdicts: nothing here passes or fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from airflow_client import client as af

from laravel_release.client import Airflow

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
PORT = 18180
LOAD_URL = "http://127.0.0.1:8088/api/projects"


def sh(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def start_airflow() -> tuple[Airflow, dict]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")},
        "AIRFLOW_HOME": tempfile.mkdtemp(prefix="airflow-bench-"),
        "AIRFLOW__API__PORT": str(PORT),
        "AIRFLOW_URL": f"http://127.0.0.1:{PORT}",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "18893",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "18894",
    }
    sh(str(ROOT / "dev" / "airflow.sh"), "start", env=env)
    return Airflow.login(f"http://127.0.0.1:{PORT}", "admin", "admin"), env


class Load:
    """ab in the background until stopped (SIGINT makes it print what it measured)."""

    def __init__(self, url: str, clients: int = 8, seconds: int = 600):
        self.proc = subprocess.Popen(
            ["ab", "-q", "-l", "-r", "-t", str(seconds), "-n", "10000000", "-c", str(clients), url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self) -> dict[str, float]:
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        return parse_ab(out)


def parse_ab(out: str) -> dict[str, float]:
    def num(pattern: str, default: float = 0.0) -> float:
        m = re.search(pattern, out, re.M)
        return float(m.group(1)) if m else default

    return {
        "requests": num(r"^Complete requests:\s+(\d+)"),
        "failed": num(r"^Failed requests:\s+(\d+)") + num(r"^Non-2xx responses:\s+(\d+)"),
        "p95_ms": num(r"^\s+95%\s+(\d+)"),
    }


def release(api: Airflow, version: str) -> tuple[str, float]:
    api.unpause("release_hotfix")
    started = time.time()
    run_id = api.trigger("release_hotfix", {"version": version, "reason": "benchmark of the release path"})
    state = api.wait("release_hotfix", run_id, timeout=900, poll=0.5)
    if state != "success":
        sys.exit(f"bench: release_hotfix {version} ended {state}: {api.task_states('release_hotfix', run_id)}")
    return run_id, started


def timings(api: Airflow, run_id: str, started: float) -> dict[str, float]:
    """Wall time to production verified, and remote time along the run (slowest host of each step)."""
    with api._api() as c:
        tis = af.TaskInstanceApi(c).get_task_instances("release_hotfix", run_id, limit=1000).task_instances
        verified = max(ti.end_date for ti in tis if ti.task_id == "production.verify_release")
        remote: dict[str, float] = {}
        for ti in tis:
            if ti.operator != "RemoteScript":
                continue
            entry = (
                af.XComApi(c)
                .get_xcom_entry("release_hotfix", ti.task_id, run_id, "return_value", map_index=ti.map_index)
                .actual_instance
            )
            value = entry.value if isinstance(entry.value, list) else json.loads(entry.value)
            seconds = sum(float(r.get("seconds", 0)) for r in value)
            remote[ti.task_id] = max(remote.get(ti.task_id, 0.0), seconds)
    on_path = {k: v for k, v in remote.items() if "cleanup" not in k and "check_hosts" not in k}
    return {
        "hotfix_wall_seconds": round(verified.timestamp() - started, 2),
        "hotfix_remote_seconds": round(sum(on_path.values()), 2),
        "hotfix_tasks": len({ti.task_id for ti in tis}),
    }


def main() -> None:
    sh(str(ROOT / "include" / "sandbox" / "target.sh"), "reset")  # keeps keys: the connections stay valid
    api, env = start_airflow()
    try:
        release(api, "v1.0.0")  # production serves something before the measured release
        base = Load(LOAD_URL, seconds=10)
        base.proc.wait(timeout=60)
        before = parse_ab(base.proc.stdout.read() if base.proc.stdout else "")
        load = Load(LOAD_URL)
        run_id, started = release(api, "v1.1.0")  # migrates the database, switches both hosts
        release(api, "v1.2.0")  # code only
        during = load.stop()
        figures = {
            "deploy_requests": during["requests"],
            "deploy_failed_requests": during["failed"],
            "deploy_p95_ms_before": before["p95_ms"],
            "deploy_p95_ms_during": during["p95_ms"],
            **timings(api, run_id, started),
        }
    finally:
        sh(str(ROOT / "dev" / "airflow.sh"), "stop", env=env)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(figures)
    results["measured_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
