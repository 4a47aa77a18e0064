"""Verdicts on what the probes measured: pure functions, no I/O.

A probe is one HTTP request to one host; these functions say what is wrong
with a host, given its probes, in words an operator can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Probe:
    name: str
    url: str
    status: int | None  # None: no answer
    body: str = ""
    seconds: float = 0.0
    error: str = ""

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def _no_answer(p: Probe) -> str:
    return f"{p.name}: no answer from {p.url} ({p.error or 'unknown error'})"


def check_health(p: Probe) -> list[str]:
    if p.status is None:
        return [_no_answer(p)]
    body = p.json()
    if p.status != 200 or body.get("status") != "ok":
        failing = sorted(k for k, v in body.items() if k not in ("status", "version") and v != "ok")
        detail = f"; failing: {', '.join(f'{k}={body[k]}' for k in failing)}" if failing else ""
        return [f"health: {p.url} answered {p.status} {body.get('status', p.body[:80])!r}{detail}"]
    return []


def check_version(p: Probe, expected: str) -> list[str]:
    if p.status is None:
        return [_no_answer(p)]
    live = p.json().get("version")
    if p.status != 200 or live != expected:
        return [f"version: {p.url} reports {live!r} (HTTP {p.status}), expected {expected!r}"]
    return []


def check_smoke(p: Probe, status: int = 200, contains: str = "") -> list[str]:
    if p.status is None:
        return [_no_answer(p)]
    problems = []
    if p.status != status:
        problems.append(f"smoke test {p.name!r}: {p.url} answered {p.status}, expected {status}")
    if contains and contains not in p.body:
        problems.append(f"smoke test {p.name!r}: {p.url} does not contain {contains!r}")
    return problems
