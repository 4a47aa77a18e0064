"""Verify a live release on each host over HTTP, and judge the environment by the rollback triggers.

Per host (``verify_release``): health, version, smoke tests, the authentication
check, and a synthetic load (the paths of the config, for a few seconds) whose
error rate and p95 are compared with the same load measured just before the
switch (``measure_baseline``). Per environment (``watch_release``): those
numbers and the database's (connectivity, critical tables' rows, the security
alarm) go through the policy's triggers; a healthy release goes on, a tripped
one goes to the rollback task group.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, get_current_context, task

from laravel_release import verify

if TYPE_CHECKING:
    from laravel_release.hooks import BaseUrlHttpHook

log = logging.getLogger(__name__)

HEALTH_ATTEMPTS = 3  # a host that just reloaded gets three chances, a second apart


def probe_hook(base_url: str) -> BaseUrlHttpHook:
    """The HTTP provider's hook aimed at ``base_url`` (imported now: see hooks.py)."""
    from laravel_release.hooks import BaseUrlHttpHook

    return BaseUrlHttpHook(base_url)


def probe(
    hook: BaseUrlHttpHook, name: str, path: str, timeout: float = 5.0, headers: dict | None = None
) -> verify.Probe:
    import requests

    url = hook.url_from_endpoint(path)
    started = time.monotonic()
    try:
        response = hook.run(path, headers=headers, extra_options={"check_response": False, "timeout": timeout})
    except requests.RequestException as err:
        return verify.Probe(name, url, None, seconds=time.monotonic() - started, error=str(err))
    return verify.Probe(name, url, response.status_code, response.text, time.monotonic() - started)


def check_host(checks: dict[str, Any], version: str) -> tuple[list[str], list[verify.Probe]]:
    """Health, version and smoke tests of one host, at the environment's endpoints (``plan.verify_settings``)."""
    hook = probe_hook(checks["base_url"])
    for attempt in range(HEALTH_ATTEMPTS):
        health = probe(hook, "health", checks.get("health_path", "/api/health"))
        problems = verify.check_health(health)
        if not problems:
            break
        if attempt < HEALTH_ATTEMPTS - 1:
            time.sleep(1)
    probes = [health]
    version_path = checks.get("version_path", "/api/version")
    if version_path and version == "unknown":
        log.warning(
            "%s: the release's version is not known (another tool deployed it, without a VERSION file): "
            "its version is not checked",
            checks["base_url"],
        )
    elif version_path:
        version_probe = probe(hook, "version", version_path)
        problems += verify.check_version(
            version_probe, version, checks.get("version_field", "version"), checks.get("version_pattern", "")
        )
        probes.append(version_probe)
    else:
        log.warning(
            "%s: the version check is off (endpoints.version: false): nothing proves that %s is what it serves",
            checks["base_url"],
            version,
        )
    for test in checks["smoke_tests"]:
        p = probe(hook, test["name"], test["path"])
        probes.append(p)
        problems += verify.check_smoke(p, test.get("status", 200), test.get("contains", ""))
    return problems, probes


def synthetic_load(base_url: str, paths: list[str], seconds: float, concurrency: int) -> list[verify.Probe]:
    """Requests to ``paths`` (round robin) from ``concurrency`` clients for ``seconds``: our own traffic."""
    import requests

    hook = probe_hook(base_url)
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    results: list[verify.Probe] = []

    def client(offset: int) -> None:
        session = hook.get_conn()
        i = offset
        while time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += 1
            url = hook.url_from_endpoint(path)
            started = time.monotonic()
            try:
                r = session.get(url, timeout=5)
                p = verify.Probe(path, url, r.status_code, "", time.monotonic() - started)
            except requests.RequestException as err:
                p = verify.Probe(path, url, None, seconds=time.monotonic() - started, error=str(err))
            with lock:
                results.append(p)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(client, range(concurrency)))
    return results


def check_auth(base_url: str, path: str, conn_id: str) -> tuple[int, list[str]]:
    """The probe user's token must get in (2xx) and a wrong token must not (401/403)."""
    token = BaseHook.get_connection(conn_id).password or ""
    hook = probe_hook(base_url)
    good = probe(hook, "sign-in", path, headers={"Authorization": f"Bearer {token}"})
    wrong = probe(hook, "wrong sign-in", path, headers={"Authorization": "Bearer not-the-probe-token"})
    problems = []
    if good.status is None or not 200 <= good.status < 300:
        problems.append(f"authentication: the probe user ({conn_id}) cannot sign in at {good.url}: HTTP {good.status}")
    if wrong.status not in (401, 403):
        problems.append(f"authentication: a wrong token got HTTP {wrong.status} at {wrong.url}, expected 401 or 403")
    return len(problems), problems


def _load(target: dict[str, Any]) -> dict[str, Any]:
    checks = target["verify"]
    probes = synthetic_load(
        checks["base_url"], checks["probe_paths"], checks["probe_seconds"], checks["probe_concurrency"]
    )
    return verify.load_summary(probes)


@task(map_index_template="{{ host }}", retries=0)
def measure_baseline(target: dict[str, Any]) -> dict[str, Any] | None:
    """The synthetic load on the release live now, just before the switch: what the new one is compared with."""
    host = target["host"]
    get_current_context()["host"] = host  # type: ignore[typeddict-unknown-key]
    checks = target["verify"]
    health = probe(probe_hook(checks["base_url"]), "health", checks.get("health_path", "/api/health"))
    if verify.check_health(health):
        log.info("%s: nothing healthy is live yet (%s): no baseline, degradation is not judged", host, health.status)
        return None
    summary = {"host": host, **_load(target)}
    log.info(
        "%s: baseline %d requests, error rate %.2f%%, p95 %.0f ms",
        host,
        summary["requests"],
        summary["error_rate_percent"],
        summary["p95_seconds"] * 1000,
    )
    return summary


def measure_host(target: dict[str, Any], baseline: dict[str, Any] | None, version: str | None = None) -> dict[str, Any]:
    """Everything the triggers read from one host: verification problems, auth, database, load."""
    host, checks = target["host"], target["verify"]
    version = version or checks["version"]
    problems, probes = check_host(checks, version)
    for p in probes:
        log.info("%s: %s %s -> %s in %.0f ms", host, p.name, p.url, p.status, p.seconds * 1000)
    auth_failures = 0
    if checks.get("auth_path"):
        auth_failures, auth_problems = check_auth(checks["base_url"], checks["auth_path"], checks["auth_conn_id"])
        problems = problems + auth_problems
    load = _load(target)
    result = {
        "host": host,
        "version": version,
        "problems": [p for p in problems if not p.startswith("authentication")],
        "auth_failures": auth_failures,
        # what the app says of its database connection ("unknown" when the host did not answer at all)
        "database": probes[0].json().get("database", "ok") if probes[0].status is not None else "unknown",
        "at": time.time(),
        "baseline_p95_seconds": baseline["p95_seconds"] if baseline else None,
        **load,
    }
    for line in problems:
        log.warning("%s: %s", host, line)
    log.info(
        "%s: %d requests, error rate %.2f%%, p95 %.0f ms (baseline %s)",
        host,
        load["requests"],
        load["error_rate_percent"],
        load["p95_seconds"] * 1000,
        f"{baseline['p95_seconds'] * 1000:.0f} ms" if baseline else "none",
    )
    return result


@task(map_index_template="{{ host }}", retries=0)
def verify_release(target: dict[str, Any], baselines: list[Any] | None = None) -> dict[str, Any]:
    """The host's measurements after the switch. Failing checks are reported here and judged by
    ``watch_release`` (which rolls the environment back), so this task itself does not fail."""
    get_current_context()["host"] = target["host"]  # type: ignore[typeddict-unknown-key]
    baseline = next((b for b in baselines or [] if b and b.get("host") == target["host"]), None)
    return measure_host(target, baseline)
