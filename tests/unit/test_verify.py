"""Verdicts on probes: table-driven."""

from __future__ import annotations

import json

import pytest

from laravel_release.verify import Probe, check_health, check_smoke, check_version

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
        (probe(200, "<html>"), ["answered 200"]),
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
