"""Benchmarks: ``make bench`` (``python -m bench``) writes bench/results.json, a flat object of figures.

deploy_*   continuous load (ab, 8 clients, /api/projects through the production load
           balancer; ab and the site's web servers at nice 10, so Airflow and the release's
           remote work come first) during two hotfix releases in a row (v1.1.0 migrates the database,
           v1.2.0 changes only code), each switching both production hosts: requests
           served, requests failed (errors and non-2xx), p95 before and during.
hotfix_*   trigger to production verified, in a real Airflow (standalone, LocalExecutor):
           wall seconds, and the seconds spent in remote commands along the run (for each
           step the slowest host), so Airflow's own share shows; the tasks the run waited on
           one after the other (hotfix_tasks_on_critical_path), and all its tasks; along that
           path, the seconds between one task's end and the next one's start (scheduling and
           starting a task's process: hotfix_path_waiting_seconds) and the seconds its tasks
           ran (hotfix_path_running_seconds); the probes' configured seconds along that path (each
           environment's baseline and verification: hotfix_probe_seconds), and hotfix_wall_ratio,
           the wall seconds over the remote and the probes' seconds (the target: 2 at most).
rehearsal_seconds  that release's rollback rehearsal on staging: back to the previous release
           (its migration undone) and forward again, each verified.
rollback_* the rollback DAG (mode code) under the same continuous load: requests served and
           failed; rollback_seconds, the rollback's own work (switch_back: the first host's
           switch to every host verified on the previous version, the seconds in which users may
           see either release); rollback_task_seconds, the seconds its tasks ran (the slowest
           host's, the decision and the escalation included, the record not); wall seconds
           (trigger to the previous version verified on every host), and how they split along
           the tasks it waited on (as for the hotfix).
seed_style_* the seed's procedure on the same hosts under the same load: stop nginx and
           php-fpm, check out and rebuild the previous tag, restore the dump, start again.
detect_to_rollback_seconds  a release that trips a trigger in production (the security
           alarm raised): its switch to the previous release verified, automatically.
backup_seconds, restore_seconds  backup.sh and restore.sh on a database of 1,000,000 rows.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from airflow_client import client as af

from laravel_release import config
from laravel_release.client import Airflow

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
PORT = 18180
SANDBOX = Path(os.environ.get("SANDBOX_ROOT", "/var/tmp/zena-sandbox"))
LOAD_URL = "http://127.0.0.1:8088/api/projects"


def sh(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def start_airflow() -> tuple[Airflow, dict]:
    home = Path(tempfile.mkdtemp(prefix="airflow-bench-"))
    # the sandbox's environment file without the post-release watch: the figures are the release path's
    data = yaml.safe_load(config.DEFAULT_CONFIG.read_text())
    data["environments"]["production"]["watch_minutes"] = 0
    (home / "environments.yaml").write_text(yaml.safe_dump(data))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_CONN_AIRFLOW_API"},
        "AIRFLOW_HOME": str(home),
        "LARAVEL_RELEASE_CONFIG": str(home / "environments.yaml"),
        "AIRFLOW__API__PORT": str(PORT),
        "AIRFLOW_URL": f"http://127.0.0.1:{PORT}",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "18893",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "18894",
        # the load generator and the sandbox's web hosts share this machine's cores with Airflow: under that
        # load a task's parse of its DAG file can pass the 30 s default, and the run fails before it begins
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        # only the DAGs measured run (each is unpaused before its run): no snapshot or scheduled run between
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    }
    sh(str(ROOT / "dev" / "airflow.sh"), "start", env=env)
    api = Airflow.login(f"http://127.0.0.1:{PORT}", "admin", "admin")
    for dag_id in ("release_hotfix", "rollback"):  # the API answers before the dag-processor has parsed them
        api.wait_for_dag(dag_id, timeout=300)
    return api, env


def site_priority(nice: int) -> None:
    """The sandbox's web servers (nginx, php-fpm: their masters pass it on to new workers) at this nice."""
    site = sh("pgrep", "-u", "deploy", "-d", " ", "^(nginx|php-fpm)", check=False).stdout.split()
    if site:
        sh("renice", "-n", str(nice), "-p", *site)


class Load:
    """ab in the background until stopped (SIGINT makes it print what it measured).

    The site's traffic and the web servers that answer it run at a lower priority (nice 10) than Airflow
    and the release's remote work: on real hosts they have cores of their own, here they share two with
    Airflow, and at equal priority they starved the release of most of its CPU (a release then measured
    the machine's contention, not its own path). They still take every core that nothing else wants."""

    def __init__(self, url: str, clients: int = 8, seconds: int = 600):
        site_priority(10)
        self.proc = subprocess.Popen(
            ["nice", "-n", "10", "ab", "-q", "-l", "-r", "-t", str(seconds), "-n", "10000000", "-c", str(clients), url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self) -> dict[str, float]:
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        site_priority(0)
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
        verified = max(ti.end_date for ti in tis if ti.task_id == "production.release_verified")
        remote: dict[str, float] = {}
        for ti in tis:
            if ti.operator != "RemoteScript" or getattr(ti.state, "value", ti.state) != "success":
                continue  # the rollback group's steps are skipped in a healthy release
            entry = (
                af.XComApi(c)
                .get_xcom_entry("release_hotfix", ti.task_id, run_id, "return_value", map_index=ti.map_index)
                .actual_instance
            )
            value = entry.value if isinstance(entry.value, list) else json.loads(entry.value)
            seconds = sum(float(r.get("seconds", 0)) for r in value)
            remote[ti.task_id] = max(remote.get(ti.task_id, 0.0), seconds)
        rehearsal = (
            af.XComApi(c).get_xcom_entry("release_hotfix", "staging.rehearse_rollback", run_id, "return_value")
        ).actual_instance
        rehearsed = rehearsal.value if isinstance(rehearsal.value, dict) else json.loads(rehearsal.value)
        tasks = af.TaskApi(c).get_tasks("release_hotfix").tasks
    on_path = {k: v for k, v in remote.items() if "cleanup" not in k and "check_hosts" not in k}
    path = critical_path(tis, tasks, "production.release_verified")
    print(f"bench: the hotfix's critical path ({len(path)} tasks): {' > '.join(path)}", file=sys.stderr)
    waited, ran = path_split(tis, path, started)
    probes = probe_seconds(path)
    wall = round(verified.timestamp() - started, 2)
    remote_seconds = round(sum(on_path.values()), 2)
    return {
        "hotfix_tasks_on_critical_path": len(path),
        "hotfix_probe_seconds": probes,
        "hotfix_wall_ratio": round(wall / (remote_seconds + probes), 2),
        "hotfix_path_waiting_seconds": waited,
        "hotfix_path_running_seconds": ran,
        "rehearsal_seconds": float(rehearsed.get("seconds", 0.0)),
        "rehearsal_migrations_undone": float(len(rehearsed.get("migrations_undone") or [])),
        "hotfix_wall_seconds": wall,
        "hotfix_remote_seconds": remote_seconds,
        "hotfix_tasks": len({ti.task_id for ti in tis}),
    }


def critical_path(tis: list, tasks: list, last: str) -> list[str]:
    """The tasks the run waited on up to ``last``: from it, back through the upstream task that ended last."""
    upstream: dict[str, set[str]] = {}
    for t in tasks:
        for down in t.downstream_task_ids or []:
            upstream.setdefault(down, set()).add(t.task_id)
    ended: dict[str, float] = {}
    for ti in tis:
        if ti.end_date is not None:
            ended[ti.task_id] = max(ended.get(ti.task_id, 0.0), ti.end_date.timestamp())
    path = [last]
    while ran := [u for u in upstream.get(path[-1], ()) if u in ended]:
        path.append(max(ran, key=ended.__getitem__))
    return path[::-1]


def probe_seconds(path: list[str]) -> float:
    """The probes' configured seconds along ``path``: each environment's baseline and verification
    send their load for its ``probe.seconds``."""
    cfg = config.load(config.DEFAULT_CONFIG)
    probing = [t.split(".")[0] for t in path if t.endswith((".measure_baseline", ".verify_release"))]
    return float(sum(cfg.environment(env).probe_seconds for env in probing))


def path_split(tis: list, path: list[str], started: float) -> tuple[float, float]:
    """Along ``path``: the seconds between one task's end and the next one's start (scheduling, queueing,
    starting its process), and the seconds the tasks ran (their DAG's parse included)."""
    first: dict[str, Any] = {}
    last: dict[str, Any] = {}
    for ti in tis:
        if ti.start_date is not None and ti.end_date is not None:
            first[ti.task_id] = min(first.get(ti.task_id, ti.start_date), ti.start_date)
            last[ti.task_id] = max(last.get(ti.task_id, ti.end_date), ti.end_date)
    waited = ran = 0.0
    previous = started
    for task_id in path:
        if task_id in first:
            waited += max(first[task_id].timestamp() - previous, 0.0)
            ran += (last[task_id] - first[task_id]).total_seconds()
            previous = last[task_id].timestamp()
    return round(waited, 2), round(ran, 2)


def durations(api: Airflow, dag_id: str, run_id: str, prefix: str) -> dict[str, float]:
    """Seconds each task under ``prefix`` ran (the slowest map index), and when the last one ended."""
    with api._api() as c:
        tis = af.TaskInstanceApi(c).get_task_instances(dag_id, run_id, limit=1000).task_instances
    ran: dict[str, float] = {}
    for ti in tis:
        if ti.task_id.startswith(prefix) and ti.start_date and ti.end_date:
            ran[ti.task_id] = max(ran.get(ti.task_id, 0.0), (ti.end_date - ti.start_date).total_seconds())
    return ran


def task_end(api: Airflow, dag_id: str, run_id: str, task_id: str) -> float:
    with api._api() as c:
        tis = af.TaskInstanceApi(c).get_task_instances(dag_id, run_id, limit=1000).task_instances
    return max(ti.end_date.timestamp() for ti in tis if ti.task_id == task_id)


def rollback_figures(api: Airflow) -> dict[str, float]:
    """The rollback DAG under load, then the seed's procedure under the same load."""
    api.unpause("rollback")
    load = Load(LOAD_URL)
    started = time.time()
    run_id = api.trigger("rollback", {"environment": "production", "reason": "benchmark of the rollback path"})
    state = api.wait("rollback", run_id, timeout=600, poll=0.5)
    served = load.stop()
    if state != "success":
        sys.exit(f"bench: rollback ended {state}: {api.task_states('rollback', run_id)}")
    work = durations(api, "rollback", run_id, "rollback.")
    print("bench: the rollback's tasks (s): " + ", ".join(f"{k} {v:.2f}" for k, v in work.items()), file=sys.stderr)
    rolled = api.xcom("rollback", run_id, "rollback.switch_back")
    print(
        f"bench: switch_back: every host switched in {rolled['switch_seconds']} s, the database step "
        f"{rolled['database_seconds']} s, every host verified in {rolled['verify_seconds']} s",
        file=sys.stderr,
    )
    with api._api() as c:
        tis = af.TaskInstanceApi(c).get_task_instances("rollback", run_id, limit=1000).task_instances
        tasks = af.TaskApi(c).get_tasks("rollback").tasks
    path = critical_path(tis, tasks, "rollback.switch_back")
    waited, ran = path_split(tis, path, started)
    print(f"bench: the rollback's critical path ({len(path)} tasks): {' > '.join(path)}", file=sys.stderr)
    figures = {
        "rollback_tasks_on_critical_path": len(path),
        "rollback_path_waiting_seconds": waited,
        "rollback_path_running_seconds": ran,
        "rollback_requests": served["requests"],
        "rollback_failed_requests": served["failed"],
        "rollback_seconds": float(rolled["seconds"]),
        "rollback_task_seconds": round(sum(v for k, v in work.items() if k != "rollback.record_rollback"), 2),
        "rollback_wall_seconds": round(task_end(api, "rollback", run_id, "rollback.switch_back") - started, 2),
    }
    backup = sorted((SANDBOX / "hosts/production-1/app/.deploy/backups").glob("*.sql.gz"))[-1].name
    load = Load(LOAD_URL)
    seconds = sh(str(ROOT / "bench" / "seed_rollback.sh"), str(SANDBOX), "v1.0.0", backup.removesuffix(".sql.gz"))
    served = load.stop()
    figures.update(
        seed_style_rollback_seconds=float(seconds.stdout.strip().splitlines()[-1]),
        seed_style_requests=served["requests"],
        seed_style_failed_requests=served["failed"],
    )
    return figures


def detect_figures(api: Airflow) -> dict[str, float]:
    """A release that trips a trigger in production: bad release live to previous release verified."""
    app = SANDBOX / "hosts/production-1/app"
    alarm = ["runuser", "-u", "deploy", "--", str(app / ".deploy/bin/alarm.sh"), "--deploy-path", str(app)]
    sh(*alarm, "--raise", "--reason", "benchmark: a critical vulnerability", "--by", "bench")
    try:
        run_id = api.trigger("release_hotfix", {"version": "v1.2.0", "reason": "benchmark of the detection path"})
        api.wait("release_hotfix", run_id, timeout=900, poll=0.5)
    finally:
        sh(*alarm, "--clear", "--by", "bench")
    live = task_end(api, "release_hotfix", run_id, "production.switch_release")
    back = task_end(api, "release_hotfix", run_id, "production.rollback.switch_back")  # and verified
    return {"detect_to_rollback_seconds": round(back - live, 2)}


def backup_figures() -> dict[str, float]:
    """backup.sh and restore.sh on a database of 1,000,000 rows (a scratch deploy path on production-1)."""
    db, app = "zena_bench", SANDBOX / "hosts/production-1/bench"
    root = ["mariadb", "--no-defaults", f"--socket={SANDBOX}/mariadb/run/mariadb.sock", "-uroot"]
    sh(
        *root,
        "-e",
        f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; GRANT ALL ON {db}.* TO zena_production@127.0.0.1",
    )
    sh(
        *root,
        db,
        "-e",
        "CREATE TABLE events (id BIGINT PRIMARY KEY, name VARCHAR(64), payload VARCHAR(255), created_at DATETIME);"
        "INSERT INTO events SELECT seq, CONCAT('event ', seq), REPEAT('x', 120), NOW() FROM seq_1_to_1000000;",
    )
    sh("mkdir", "-p", str(app / "shared"))
    env = (SANDBOX / "hosts/production-1/app/shared/.env").read_text()
    (app / "shared/.env").write_text(re.sub(r"(?m)^DB_DATABASE=.*$", f"DB_DATABASE={db}", env))
    sh("chown", "-R", "deploy:", str(app))
    tools = SANDBOX / "hosts/production-1/app/.deploy/bin"
    figures = {}
    for verb, key in (("backup", "backup_seconds"), ("restore", "restore_seconds")):
        begun = time.time()
        sh("runuser", "-u", "deploy", "--", str(tools / f"{verb}.sh"), "--deploy-path", str(app), "--name", "million")
        figures[key] = round(time.time() - begun, 2)
    rows = sh(*root, "-N", "-B", db, "-e", "SELECT COUNT(*) FROM events").stdout.strip()
    if rows != "1000000":
        sys.exit(f"bench: the restore left {rows} rows, not 1000000")
    sh(*root, "-e", f"DROP DATABASE {db}")
    sh("rm", "-rf", str(app))
    return figures


def report_figures(api: Airflow) -> dict[str, float]:
    """The weekly report: from this benchmark's runs through the REST API, and from a year of constructed
    history (520 releases, a tenth rolled back) through the pure computation and rendering."""
    from laravel_release import report
    from tests.unit.test_evidence import release as constructed

    api.unpause("release_metrics")
    run_id = api.trigger("release_metrics", {"weeks": 1})
    if api.wait("release_metrics", run_id, timeout=600, poll=0.5) != "success":
        sys.exit(f"bench: release_metrics ended badly: {api.task_states('release_metrics', run_id)}")
    written = api.xcom("release_metrics", run_id, "write_report")
    ti = api.task_instances("release_metrics", run_id)["write_report"]
    now = datetime.now(UTC)
    runs = [
        constructed(
            "release_feature",
            f"v1.{i}.0",
            f"v1.{i - 1}.0",
            now - timedelta(hours=16 * i + 1),
            "rolled_back" if i % 10 == 0 else "success",
            commits=[now - timedelta(hours=16 * i + 30)],
        )
        for i in range(1, 521)
    ]
    started = time.perf_counter()
    page, _ = report.render(runs, now, 52)
    return {
        "report_runs_read": float(written["runs"]),
        "report_write_seconds": round((ti.end_date - ti.start_date).total_seconds(), 2),
        "report_year_render_seconds": round(time.perf_counter() - started, 2),
        "report_year_html_bytes": float(len(page)),
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
        figures.update(rollback_figures(api))  # v1.2.0 -> v1.1.0, then the seed's way to v1.0.0
        release(api, "v1.1.0")
        figures.update(detect_figures(api))
        figures.update(backup_figures())
        figures.update(report_figures(api))
    finally:
        sh(str(ROOT / "dev" / "airflow.sh"), "stop", env=env)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(figures)
    results["measured_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
