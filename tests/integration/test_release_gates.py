"""The gates inside whole release runs on the sandbox: lock, freeze, quality gates, the missing version.

Runs after test_release_dags.py on the same sandbox (a release is live in production).
Sign-off and window waits need a real scheduler: they are in tests/e2e.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import re

import pytest
import yaml

from laravel_release import config, policy
from tests.integration.conftest import HOSTS, served_version

pytestmark = pytest.mark.integration

PRODUCTION = ("production-1", "production-2")
HOTFIX = {"version": "v1.2.0", "reason": "gate tests on the sandbox"}


@pytest.fixture
def edit_config(tmp_path, monkeypatch):
    """Run with a copy of the sandbox's environment file, changed by ``change(data)``."""

    def edit(change) -> None:
        data = yaml.safe_load(config.DEFAULT_CONFIG.read_text())
        change(data)
        path = tmp_path / "environments.yaml"
        path.write_text(yaml.safe_dump(data))
        monkeypatch.setenv("LARAVEL_RELEASE_CONFIG", str(path))

    return edit


def as_deploy_user(folder, files: dict[str, str]) -> None:
    """Leave a folder of files on a host as its deploy user would (what a killed run leaves behind)."""
    user = pwd.getpwnam("deploy")
    for path in (folder.parent, folder):
        path.mkdir(exist_ok=True)
        os.chown(path, user.pw_uid, user.pw_gid)
    for name, text in files.items():
        (folder / name).write_text(text)
        os.chown(folder / name, user.pw_uid, user.pw_gid)


def lock_events(sandbox, host: str) -> list[dict]:
    log = sandbox / "hosts" / host / "app" / ".deploy" / "lock.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_lock_left_by_a_run_that_is_gone_is_cleared_with_a_log_line(fresh_sandbox, run_dag):
    lock = fresh_sandbox / "hosts/production-1/app/.deploy/lock"
    owner = {"owner": "release_feature/manual__2026-01-01T02:00:00+00:00", "by": "feature v1.1.0"}
    as_deploy_user(lock, {**owner, "since": "2026-01-01T02:10:00Z"})
    run = run_dag("release_hotfix", HOTFIX)
    assert run.state == "success", run.failed_tasks()
    assert "STALE LOCK on production: held by release_feature/manual__2026-01-01T02:00:00+00:00" in run.log
    events = [e["event"] for e in lock_events(fresh_sandbox, "production-1")]
    assert events[-3:] == ["break", "take", "release"]
    assert not lock.exists()
    assert {h: served_version(h) for h in PRODUCTION} == dict.fromkeys(PRODUCTION, "v1.2.0")


def test_every_environment_is_locked_while_it_changes_and_given_back(fresh_sandbox, run_dag):
    run = run_dag("release_hotfix", HOTFIX)
    assert run.state == "success", run.failed_tasks()
    for env, host in (("staging", "staging-1"), ("production", "production-1")):
        assert run.tasks[f"{env}.claim_environment"] == run.tasks[f"{env}.release_environment"] == "success"
        take, give_back = lock_events(fresh_sandbox, host)[-2:]
        assert (take["event"], give_back["event"]) == ("take", "release")
        assert take["owner"] == give_back["owner"] and take["owner"].startswith("release_hotfix/manual__")
        assert take["by"] == "hotfix v1.2.0"
    assert not (fresh_sandbox / "hosts/production-1/app/.deploy/lock").exists()


def test_a_hotfix_passes_a_freeze_with_its_reason_on_record(fresh_sandbox, run_dag):
    frozen = run_dag(
        "deployment_freeze", {"environment": "production", "action": "freeze", "reason": "INC-42 checkout errors"}
    )
    assert frozen.state == "success", frozen.failed_tasks()
    assert (fresh_sandbox / "hosts/production-1/app/.deploy/freeze").exists()
    try:
        run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "CVE-2026-1234 must ship despite INC-42"})
        assert run.state == "success", run.failed_tasks()
        assert "production is frozen" in run.log and "this hotfix passes the freeze" in run.log
        assert "CVE-2026-1234 must ship despite INC-42" in run.log
    finally:
        cleared = run_dag("deployment_freeze", {"environment": "production", "action": "clear"})
    assert cleared.state == "success"
    assert not (fresh_sandbox / "hosts/production-1/app/.deploy/freeze").exists()
    history = (fresh_sandbox / "hosts/production-1/app/.deploy/freeze.log").read_text().splitlines()
    assert '"reason": "INC-42 checkout errors"' in history[-2] and '"frozen": false' in history[-1]


def test_a_freeze_without_a_reason_is_refused_and_changes_nothing(fresh_sandbox, run_dag):
    run = run_dag("deployment_freeze", {"environment": "uat", "action": "freeze"})
    assert run.state == "failed" and "a freeze needs a reason" in run.log
    assert not (fresh_sandbox / "hosts/uat-1/app/.deploy/freeze").exists()


def test_coverage_under_the_threshold_stops_the_release_before_production(fresh_sandbox, run_dag, monkeypatch):
    strict = dataclasses.replace(policy.RELEASE_TYPES["hotfix"], min_coverage_percent=95.0)
    monkeypatch.setitem(policy.RELEASE_TYPES, "hotfix", strict)
    before = {h: served_version(h) for h in PRODUCTION}
    run = run_dag("release_hotfix", {"version": "v1.1.0", "reason": "coverage gate test on the sandbox"})
    assert run.state == "failed"
    assert run.failed_tasks() == ["check_coverage"]
    assert re.search(r"quality gate 'coverage > 95%' failed: the app's tests cover 9[0-4]\.\d% of its lines", run.log)
    assert not [t for t, state in run.tasks.items() if t.startswith("production.switch") and state == "success"]
    assert {h: served_version(h) for h in PRODUCTION} == before


def test_a_critical_security_finding_stops_the_release_before_any_environment(fresh_sandbox, run_dag, edit_config):
    scanner = """echo '{"critical": 1, "high": 0, "findings": ["CVE-2026-9999 in laravel/framework"]}'"""
    edit_config(lambda data: data["build"].update(scan_command=scanner))
    before = {h: served_version(h) for h in ("staging-1", *PRODUCTION)}
    run = run_dag("release_hotfix", {"version": "v1.1.0", "reason": "security gate test on the sandbox"})
    assert run.state == "failed" and run.failed_tasks() == ["scan_release"]
    assert "1 critical finding(s), at most 0 allowed" in run.log
    # staging waits for the scan and the tests: the build went live nowhere
    assert run.tasks["staging.claim_environment"] == "upstream_failed"
    assert {h: served_version(h) for h in ("staging-1", *PRODUCTION)} == before


def test_the_quality_gates_report_their_figures(fresh_sandbox, run_dag):
    run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "quality gate figures on the sandbox"})
    assert run.state == "success", run.failed_tasks()
    assert re.search(r"coverage 9\d\.\d% \(threshold 90%\)", run.log)
    assert re.search(r"all tests pass: \d+ passed \(\d+ assertions\)", run.log)
    assert "0 critical, 0 high finding(s)" in run.log
    assert "CHANGELOG entry:\n## [v1.2.0] - " in run.log


def test_a_release_triggered_without_a_version_is_refused(fresh_sandbox, run_dag):
    run = run_dag("release_feature", {})
    assert run.state == "failed" and run.failed_tasks() == ["plan_release"]
    assert "version is required" in run.log
    assert served_version("uat-1") in (None, *[served_version(h) for h in HOSTS])
