"""Verify a live release on each host over HTTP: health, version, smoke tests."""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk import Connection, get_current_context, task
from airflow.sdk.exceptions import AirflowException

from laravel_release import verify

log = logging.getLogger(__name__)

HEALTH_ATTEMPTS = 3  # a host that just reloaded gets three chances, a second apart


class VerificationFailed(AirflowException):
    """The release is live but not healthy; the message lists every problem found."""


class BaseUrlHttpHook(HttpHook):
    """The HTTP provider's hook, aimed at a base URL from the environment file instead of a connection."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(method="GET", http_conn_id="", **kwargs)
        self._target = base_url

    def get_connection(self, conn_id: str | None) -> Connection:  # type: ignore[override]
        return Connection(conn_id="environment_file", conn_type="http", host=self._target)


def probe(hook: BaseUrlHttpHook, name: str, path: str, timeout: float = 5.0) -> verify.Probe:
    url = hook.url_from_endpoint(path)
    started = time.monotonic()
    try:
        response = hook.run(path, extra_options={"check_response": False, "timeout": timeout})
    except requests.RequestException as err:
        return verify.Probe(name, url, None, seconds=time.monotonic() - started, error=str(err))
    return verify.Probe(name, url, response.status_code, response.text, time.monotonic() - started)


def check_host(base_url: str, version: str, smoke_tests: list[dict[str, Any]]) -> tuple[list[str], list[verify.Probe]]:
    hook = BaseUrlHttpHook(base_url)
    for attempt in range(HEALTH_ATTEMPTS):
        health = probe(hook, "health", "/api/health")
        problems = verify.check_health(health)
        if not problems:
            break
        if attempt < HEALTH_ATTEMPTS - 1:
            time.sleep(1)
    version_probe = probe(hook, "version", "/api/version")
    problems += verify.check_version(version_probe, version)
    probes = [health, version_probe]
    for test in smoke_tests:
        p = probe(hook, test["name"], test["path"])
        probes.append(p)
        problems += verify.check_smoke(p, test.get("status", 200), test.get("contains", ""))
    return problems, probes


@task(map_index_template="{{ host }}", retries=0)
def verify_release(target: dict[str, Any]) -> dict[str, Any]:
    """The host serves the planned version, healthy, and passes its smoke tests."""
    host, checks = target["host"], target["verify"]
    version = checks["version"]
    get_current_context()["host"] = host  # type: ignore[typeddict-unknown-key]
    problems, probes = check_host(checks["base_url"], version, checks["smoke_tests"])
    for p in probes:
        log.info("%s: %s %s -> %s in %.0f ms", host, p.name, p.url, p.status, p.seconds * 1000)
    if problems:
        raise VerificationFailed(f"{host}: {version} failed verification:\n- " + "\n- ".join(problems))
    return {
        "host": host,
        "version": version,
        "checks": len(probes),
        "slowest_ms": round(max(p.seconds for p in probes) * 1000, 1),
    }
