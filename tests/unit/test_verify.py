"""Verdicts on probes: table-driven."""

from __future__ import annotations

import json

import pytest

from laravel_release import policy
from laravel_release.verify import (
    Probe,
    check_health,
    check_smoke,
    check_version,
    degradation_percent,
    load_summary,
    measurements,
    p95,
    rollback_verdict,
    rows_lost,
)

URL = "http://h/api/health"


def probe(status, body="", error=""):
    return Probe("p", URL, status, json.dumps(body) if isinstance(body, dict) else body, 0.01, error)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (probe(200, {"status": "ok", "database": "ok"}), []),
        (probe(503, {"status": "error", "database": "error"}), ["503 'error'; failing: database=error"]),
        (
            probe(503, {"status": "error", "database": "ok", "search": "not configured"}),
            ["failing: search=not configured"],
        ),
        (probe(200, "<html>"), []),  # a page that answers 200 (Laravel 11's /up) is healthy
        (probe(200, {"status": "degraded"}), ["answered 200 'degraded'"]),
        (probe(None, error="Connection refused"), ["no answer from http://h/api/health (Connection refused)"]),
    ],
)
def test_health(p, expected):
    problems = check_health(p)
    assert len(problems) == len(expected)
    for problem, words in zip(problems, expected, strict=True):
        assert words in problem


@pytest.mark.parametrize(
    ("p", "ok"),
    [
        (probe(200, {"version": "v1.2.0"}), True),
        (probe(200, {"version": "v1.1.0"}), False),
        (probe(500, {}), False),
        (probe(None, error="timeout"), False),
    ],
)
def test_version(p, ok):
    assert (check_version(p, "v1.2.0") == []) is ok


def test_version_mismatch_says_both_versions():
    assert check_version(probe(200, {"version": "v1.1.0"}), "v1.2.0") == [
        "version: http://h/api/health reports 'v1.1.0' (HTTP 200), expected 'v1.2.0'"
    ]


@pytest.mark.parametrize(
    ("p", "status", "contains", "count"),
    [
        (probe(200, "hello ZenaManage"), 200, "ZenaManage", 0),
        (probe(200, "hello"), 200, "ZenaManage", 1),
        (probe(404, "nope"), 404, "", 0),
        (probe(500, "boom"), 200, "ZenaManage", 2),
        (probe(None, error="x"), 200, "", 1),
    ],
)
def test_smoke(p, status, contains, count):
    assert len(check_smoke(p, status, contains)) == count


# ── the rollback triggers ────────────────────────────────────────────────────


HEALTHY = {
    "critical_vulnerabilities": 0,
    "rows_lost": 0,
    "p95_degradation_percent": 0.0,
    "auth_failures": 0,
    "database_failures": 0,
    "error_rate_percent": 0.0,
    "p95_seconds": 0.05,
}


def test_the_policy_holds_the_seeds_seven_triggers():
    assert [t.name for t in policy.ROLLBACK_TRIGGERS] == [
        "security",
        "data",
        "performance",
        "authentication",
        "database",
        "error_rate",
        "response_time",
    ]
    limits = {t.name: t.limit for t in policy.ROLLBACK_TRIGGERS}
    assert limits["performance"] == 50 and limits["error_rate"] == 5 and limits["response_time"] == 2


@pytest.mark.parametrize(
    ("changed", "tripped", "words"),
    [
        ({}, [], "healthy"),
        ({"critical_vulnerabilities": 1}, ["security"], "critical security vulnerability: 1 (limit 0)"),
        ({"rows_lost": 12}, ["data"], "data corruption or loss: 12 rows (limit 0 rows)"),
        ({"p95_degradation_percent": 50.0}, [], "healthy"),  # at the limit: not over it
        ({"p95_degradation_percent": 50.1}, ["performance"], "performance degradation over 50%: 50.1%"),
        ({"auth_failures": 1}, ["authentication"], "user authentication failures: 1"),
        ({"database_failures": 2}, ["database"], "database connectivity failures: 2 (limit 0)"),
        ({"error_rate_percent": 5.0}, [], "healthy"),
        ({"error_rate_percent": 12.5}, ["error_rate"], "error rate over 5%: 12.5% (limit 5%)"),
        ({"p95_seconds": 2.0}, [], "healthy"),
        ({"p95_seconds": 2.4}, ["response_time"], "response time over 2 s: 2.4 s (limit 2 s)"),
        (
            {"error_rate_percent": 100.0, "p95_seconds": 5.0, "database_failures": 1},
            ["database", "error_rate", "response_time"],
            "ROLLBACK TRIGGER database connectivity failures",
        ),
    ],
)
def test_the_verdict_names_every_trigger_that_tripped_with_its_numbers(changed, tripped, words):
    verdict = rollback_verdict({**HEALTHY, **changed})
    assert [name for name, _ in verdict.tripped] == tripped
    assert verdict.healthy is (not tripped)
    assert verdict.trigger == (tripped[0] if tripped else "")
    assert words in verdict.describe()


def test_a_failed_verification_is_a_verdict_too():
    verdict = rollback_verdict({**HEALTHY, "problems": ["health: http://h answered 503"]})
    assert not verdict.healthy and verdict.trigger == "verification"
    assert verdict.describe() == "VERIFICATION FAILED health: http://h answered 503"


@pytest.mark.parametrize(
    ("now", "baseline", "percent"),
    [
        (0.3, None, 0.0),  # no baseline (first release): not judged
        (0.009, 0.004, 0.0),  # fast pages: the floor of 100 ms keeps noise from tripping it
        (0.16, 0.004, 60.0),
        (0.6, 0.3, 100.0),
        (0.2, 0.3, 0.0),  # faster is no degradation
    ],
)
def test_degradation_is_judged_against_the_baseline_with_a_floor(now, baseline, percent):
    assert degradation_percent(now, baseline) == percent


def test_p95_and_the_load_summary():
    assert p95([]) == 0.0
    assert p95([i / 100 for i in range(1, 101)]) == 0.95
    probes = [Probe("p", URL, 200, seconds=0.01)] * 18 + [Probe("p", URL, 502), Probe("p", URL, None)]
    assert load_summary(probes) == {
        "requests": 20,
        "errors": 2,
        "error_rate_percent": 10.0,
        "p95_seconds": 0.01,
        "p95_page_seconds": 0.01,
        "p95_api_seconds": None,  # no API was asked
    }


def test_pages_and_apis_are_judged_apart_by_the_seed_s_targets():
    from laravel_release.verify import release_figures, targets_missed

    probes = [Probe("/", URL, 200, seconds=0.45)] * 10 + [Probe("/api/projects", URL, 200, seconds=0.32)] * 10
    summary = load_summary(probes)
    assert (summary["p95_page_seconds"], summary["p95_api_seconds"]) == (0.45, 0.32)
    hosts = [{**summary, "host": "p1"}, {**summary, "p95_page_seconds": 0.2, "error_rate_percent": 1.5, "host": "p2"}]
    figures = release_figures(hosts)
    assert figures == {"p95_page_ms": 450.0, "p95_api_ms": 320.0, "error_rate_percent": 1.5}  # the worst host
    assert targets_missed(figures) == [
        "p95 response time, APIs (worst) 320 ms (target < 300 ms)",
        "error rate (worst) 1.5% (target < 1%)",
    ]
    assert targets_missed({"p95_page_ms": None, "p95_api_ms": 120.0, "error_rate_percent": 0.0}) == []


def test_rows_lost_counts_missing_tables_and_fewer_rows_but_not_new_ones():
    assert rows_lost({"projects": 3}, {"projects": 5}) == (0, [])
    lost, notes = rows_lost({"projects": 3, "users": 10}, {"projects": 1, "users": -1})
    assert lost == 12 and notes == ["table projects: 3 rows before, 1 after", "table users is missing (had 10 rows)"]


def test_measurements_take_the_worst_host_and_the_databases_view():
    hosts = [
        {"host": "a", "p95_seconds": 0.05, "baseline_p95_seconds": 0.05, "error_rate_percent": 0.0, "database": "ok"},
        {
            "host": "b",
            "p95_seconds": 0.4,
            "baseline_p95_seconds": 0.1,
            "error_rate_percent": 20.0,
            "database": "error",
            "auth_failures": 1,
            "problems": ["health: b answered 503"],
        },
    ]
    after = {"database": "ok", "tables": {"projects": 2}, "security": {"raised": True, "by": "x", "reason": "CVE"}}
    m = measurements(hosts, {"tables": {"projects": 3}}, after)
    assert m["p95_seconds"] == 0.4 and m["error_rate_percent"] == 20.0 and m["p95_degradation_percent"] == 300.0
    assert m["database_failures"] == 1 and m["auth_failures"] == 1 and m["rows_lost"] == 1
    assert m["critical_vulnerabilities"] == 1 and m["problems"] == ["health: b answered 503"]
    assert any("CVE" in n for n in m["notes"])


def test_a_count_that_failed_is_never_rows_lost_but_a_database_failure():
    # the database did not answer: measure.sh counts nothing (null), which is not data loss
    assert rows_lost({"projects": 3, "users": 10}, {"projects": None, "users": None}) == (0, [])
    down = {"database": "unreachable", "tables": {"projects": None}, "security": {"raised": False}}
    m = measurements([], {"tables": {"projects": 3}}, down)
    assert m["rows_lost"] == 0 and m["database_failures"] == 1
    assert rollback_verdict(m).trigger == "database"
    # the database answered but one count failed (a lock wait, say): the database trigger again
    flaky = {"database": "ok", "tables": {"projects": None, "users": 10}, "security": {"raised": False}}
    m = measurements([], {"tables": {"projects": 3, "users": 10}}, flaky)
    assert m["rows_lost"] == 0 and m["database_failures"] == 1
    assert any("rows not counted (database ok): projects" in n for n in m["notes"])


@pytest.mark.parametrize(
    ("body", "field", "pattern", "ok"),
    [
        ({"version": "1.2.0"}, "version", "", True),  # a leading v never matters, either way
        ({"version": "V1.2.0"}, "version", "", True),
        ({"app": {"release": "v1.2.0"}}, "app.release", "", True),
        ({"app": {"release": "v1.2.1"}}, "app.release", "", False),
        ("<footer>Release: 1.2.0</footer>", "version", r"Release:\s*([\w.]+)", True),
        ("<footer>Release: 1.1.0</footer>", "version", r"Release:\s*([\w.]+)", False),
        ({"build": "1.2.0"}, "version", "", False),
    ],
)
def test_the_version_is_read_where_the_app_reports_it(body, field, pattern, ok):
    text = body if isinstance(body, str) else json.dumps(body)
    p = Probe("version", URL, 200, text)
    assert (check_version(p, "v1.2.0", field, pattern) == []) is ok


@pytest.mark.parametrize(
    ("status", "body", "ok"),
    [(200, "<html>up</html>", True), (200, '{"status": "UP"}', True), (200, '{"status": "down"}', False)],
)
def test_health_is_a_200_whose_json_status_if_any_says_healthy(status, body, ok):
    assert (check_health(Probe("health", URL, status, body)) == []) is ok
