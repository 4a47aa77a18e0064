"""Verdicts on what the probes measured: pure functions, no I/O.

A probe is one HTTP request to one host; these functions say what is wrong
with a host, given its probes, in words an operator can act on, and turn an
environment's measurements into the rollback verdict (the policy's triggers).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from laravel_release import policy


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


HEALTHY = ("ok", "up", "healthy", "pass")


def check_health(p: Probe) -> list[str]:
    """Healthy: HTTP 200 and, when the answer is JSON with a ``status``, a status that says so
    (Laravel 11's ``/up`` answers a page, the sandbox ``{"status": "ok", ...}``)."""
    if p.status is None:
        return [_no_answer(p)]
    body = p.json()
    if p.status != 200 or str(body.get("status", "ok")).lower() not in HEALTHY:
        failing = sorted(k for k, v in body.items() if k not in ("status", "version") and v != "ok")
        detail = f"; failing: {', '.join(f'{k}={body[k]}' for k in failing)}" if failing else ""
        return [f"health: {p.url} answered {p.status} {body.get('status', p.body[:80])!r}{detail}"]
    return []


def same_version(live: Any, expected: str) -> bool:
    """A version as the app reports it and a tag name are the same version: a leading ``v`` never matters."""
    return isinstance(live, str) and live.strip().lstrip("vV") == expected.strip().lstrip("vV")


def reported_version(p: Probe, field: str = "version", pattern: str = "") -> Any:
    """The version an answer reports: a JSON field (``a.b`` for a nested one), or ``pattern``'s first
    group (or whole match) in the body."""
    if pattern:
        m = re.search(pattern, p.body)
        return m.group(1) if m and m.groups() else m.group(0) if m else None
    value: Any = p.json()
    for key in field.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def check_version(p: Probe, expected: str, field: str = "version", pattern: str = "") -> list[str]:
    if p.status is None:
        return [_no_answer(p)]
    live = reported_version(p, field, pattern)
    if p.status != 200 or not same_version(live, expected):
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


# ── the synthetic probe and the rollback triggers ───────────────────────────


def p95(seconds: list[float]) -> float:
    """The 95th percentile (nearest rank) of request durations; 0 without any."""
    if not seconds:
        return 0.0
    ordered = sorted(seconds)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def load_summary(probes: list[Probe]) -> dict[str, float | None]:
    """Error rate and p95 of a synthetic probe's requests (all, pages, APIs: None when none was asked).
    An error is no answer or a 5xx."""
    errors = sum(1 for p in probes if p.status is None or p.status >= 500)
    api = [p.seconds for p in probes if p.name.startswith(policy.API_PATH_PREFIX)]
    pages = [p.seconds for p in probes if not p.name.startswith(policy.API_PATH_PREFIX)]
    return {
        "requests": len(probes),
        "errors": errors,
        "error_rate_percent": round(100.0 * errors / len(probes), 2) if probes else 0.0,
        "p95_seconds": round(p95([p.seconds for p in probes]), 4),
        "p95_page_seconds": round(p95(pages), 4) if pages else None,
        "p95_api_seconds": round(p95(api), 4) if api else None,
    }


def release_figures(hosts: list[dict[str, Any]]) -> dict[str, float | None]:
    """The figures of the seed's release targets from the hosts' probes: the worst host counts."""

    def worst(key: str, scale: float = 1.0) -> float | None:
        values = [h[key] * scale for h in hosts if h.get(key) is not None]
        return round(max(values), 2) if values else None

    return {
        "p95_page_ms": worst("p95_page_seconds", 1000),
        "p95_api_ms": worst("p95_api_seconds", 1000),
        "error_rate_percent": worst("error_rate_percent"),
    }


def targets_missed(figures: dict[str, float | None]) -> list[str]:
    """The seed's release targets these figures miss, each with its figure and its limit."""
    missed = []
    for target in policy.TARGETS:
        if target.name in policy.RELEASE_TARGETS and target.met(figures.get(target.name)) is False:
            missed.append(f"{target.title} {figures[target.name]:g}{target.unit} (target {target.describe()})")
    return missed


def degradation_percent(p95_now: float, p95_baseline: float | None) -> float:
    """How much slower the p95 is than the baseline measured before the switch (0 without a baseline)."""
    if p95_baseline is None:
        return 0.0
    base = max(p95_baseline, policy.DEGRADATION_FLOOR_SECONDS)
    return round(max(0.0, (p95_now - base) / base * 100.0), 1)


def rows_lost(before: dict[str, int | None], after: dict[str, int | None]) -> tuple[int, list[str]]:
    """Rows gone from the critical tables between two counts (a missing table loses all of its rows).

    A count that is not known (``None``: the database did not answer, or the count failed) loses
    nothing: it is the ``database`` trigger's business (see ``measurements``), never data loss.
    """
    lost, notes = 0, []
    for table, was in before.items():
        now = after.get(table)
        if was is None or was < 0 or now is None:
            continue
        if now < 0:
            lost += was
            notes.append(f"table {table} is missing (had {was} rows)")
        elif now < was:
            lost += was - now
            notes.append(f"table {table}: {was} rows before, {now} after")
    return lost, notes


def measurements(
    hosts: list[dict[str, Any]], database_before: dict[str, Any] | None, database_after: dict[str, Any]
) -> dict[str, Any]:
    """The numbers the triggers read, for a whole environment: the worst host counts.

    ``hosts`` are the results of ``verify_release`` (one per host: its probe summary,
    baseline, authentication and health); ``database_*`` are ``measure.sh`` results on
    the primary host before the switch and now.
    """
    notes: list[str] = []
    before_tables = (database_before or {}).get("tables") or {}
    lost, lost_notes = rows_lost(before_tables, database_after.get("tables") or {})
    notes += lost_notes
    security = database_after.get("security") or {}
    if security.get("raised"):
        notes.append(
            f"security alarm raised by {security.get('by')} since {security.get('since')}: {security.get('reason')}"
        )
    db_failures = sum(1 for h in hosts if h.get("database") not in ("ok", "unknown"))
    db_failures += database_after.get("database") != "ok"
    uncounted = sorted(t for t, n in (database_after.get("tables") or {}).items() if n is None)
    if uncounted and database_after.get("database") == "ok":
        db_failures += 1
    if uncounted:
        notes.append(f"rows not counted (database {database_after.get('database')}): {', '.join(uncounted)}")
    return {
        "critical_vulnerabilities": 1 if security.get("raised") else 0,
        "rows_lost": lost,
        "p95_degradation_percent": max(
            (degradation_percent(h["p95_seconds"], h.get("baseline_p95_seconds")) for h in hosts), default=0.0
        ),
        "auth_failures": sum(h.get("auth_failures", 0) for h in hosts),
        "database_failures": db_failures,
        "error_rate_percent": max((h["error_rate_percent"] for h in hosts), default=0.0),
        "p95_seconds": max((h["p95_seconds"] for h in hosts), default=0.0),
        "problems": [p for h in hosts for p in h.get("problems", [])],
        "notes": notes,
    }


@dataclass(frozen=True)
class Verdict:
    """What the triggers say about a live release: healthy, or which tripped and with what numbers."""

    tripped: tuple[tuple[str, str], ...]  # (trigger name, "error rate over 5%: 12.5% (limit 5%)")
    problems: tuple[str, ...] = ()  # verification failures (health, version, smoke tests)

    @property
    def healthy(self) -> bool:
        return not self.tripped and not self.problems

    @property
    def trigger(self) -> str:
        """The first trigger that tripped ("verification" for a failed health, version or smoke check)."""
        return self.tripped[0][0] if self.tripped else ("verification" if self.problems else "")

    def describe(self) -> str:
        if self.healthy:
            return "healthy: no rollback trigger tripped"
        lines = [f"ROLLBACK TRIGGER {text}" for _, text in self.tripped]
        lines += [f"VERIFICATION FAILED {p}" for p in self.problems]
        return "\n".join(lines)


def _fmt(value: float, unit: str) -> str:
    return f"{value:g}{unit}"


def rollback_verdict(
    measured: dict[str, Any], triggers: tuple[policy.Trigger, ...] = policy.ROLLBACK_TRIGGERS
) -> Verdict:
    """Turn measured numbers into a verdict: every trigger whose measurement is above its limit."""
    tripped = []
    for t in triggers:
        value = measured.get(t.metric)
        if value is not None and value > t.limit:
            tripped.append((t.name, f"{t.title}: {_fmt(value, t.unit)} (limit {_fmt(t.limit, t.unit)})"))
    return Verdict(tuple(tripped), tuple(measured.get("problems", ())))
