"""The plan: what runs on which host, with every value quoted."""

from __future__ import annotations

import dataclasses
import shlex
from datetime import UTC, datetime

import pytest

from laravel_release import config, plan, policy

CFG = config.load(config.DEFAULT_CONFIG)


def make(rtype: str = "feature", version: str = "v1.1.0") -> dict:
    return plan.release_plan(
        CFG, policy.release_type(rtype), version, f"{version}-20260101020000", "manual__2026-01-01T02:00:00", "v1.0.0"
    )


def test_release_id_is_version_run_time_and_run():
    when = datetime(2026, 3, 4, 2, 5, 6, tzinfo=UTC)
    first = plan.release_id("v1.2.0", when, "manual__2026-03-04T02:05:06.1+00:00")
    second = plan.release_id("v1.2.0", when, "manual__2026-03-04T02:05:06.7+00:00")
    assert first.startswith("v1.2.0-20260304020506-") and len(first) == len("v1.2.0-20260304020506-abcd")
    assert first != second  # two runs triggered in the same second get their own folders


def test_the_plan_covers_the_stages_of_the_type():
    assert list(make("hotfix")["environments"]) == ["staging", "production"]
    assert list(make("major")["environments"]) == ["staging", "uat", "production"]


def test_production_has_two_hosts_and_the_first_is_primary():
    hosts = make()["environments"]["production"]
    assert [(h["host"], h["primary"]) for h in hosts] == [("production-1", True), ("production-2", False)]


def test_every_step_command_runs_a_script_from_the_hosts_tools():
    for h in make()["environments"]["production"]:
        for step, cmd in h["commands"].items():
            words = shlex.split(cmd)
            assert words[0].startswith(h["tools_dir"] + "/"), (step, cmd)
            assert words[0].endswith(".sh")


def test_values_are_quoted_so_the_shell_sees_them_as_one_word():
    host = make()["environments"]["staging"][0]
    reload = CFG.environment("staging").hosts[0].reload_command
    words = shlex.split(host["commands"]["switch"])
    assert words[words.index("--reload") + 1] == reload  # "$(cat ...)" reaches switch.sh untouched
    build = shlex.split(make()["build"]["commands"]["build"])
    assert build[build.index("--tag") + 1] == "v1.1.0"
    assert build.count("--test") == len(CFG.build.test_commands)


def test_unpack_only_adds_a_folder_and_prepare_warms_its_caches():
    commands = make()["environments"]["uat"][0]["commands"]
    verbs = [shlex.split(part)[0].rsplit("/", 1)[1] for part in commands["unpack"].split(" && ")]
    assert verbs == ["release.sh", "shared.sh"]
    assert shlex.split(commands["prepare"])[-4:] == [
        "--deploy-path",
        CFG.environment("uat").hosts[0].deploy_path,
        "--release",
        "v1.1.0-20260101020000",
    ]
    assert "config:cache" in commands["prepare"] and "cache:clear" not in commands["prepare"]


def test_shared_caches_are_cleared_and_workers_restarted_after_going_live():
    cmd = make()["environments"]["production"][1]["commands"]["switch"]
    assert cmd.index("switch.sh") < cmd.index("cache:clear") < cmd.index("queue:restart")


def test_verification_expects_the_version_on_every_host():
    for h in make("major", "v2.0.0")["environments"]["production"]:
        assert h["verify"]["version"] == "v2.0.0"
        assert h["verify"]["base_url"].startswith("http://127.0.0.1:")


def test_uploads_go_to_the_hosts_deploy_path():
    h = make()["environments"]["production"][1]
    assert (
        h["upload"]["target"]
        == f"{CFG.environment('production').hosts[1].deploy_path}/.deploy/uploads/v1.1.0-20260101020000.tar.gz"
    )
    assert h["upload"]["source"].startswith(CFG.build.path + "/artifacts/")


def test_quality_thresholds_default_to_the_policy_and_the_file_may_change_them():
    hotfix = policy.RELEASE_TYPES["hotfix"]
    assert plan.quality_plan(CFG, hotfix, None, None, "") == {
        "min_coverage_percent": 90.0,
        "max_critical_findings": 0,
        "tests_required": True,
        "changed": [],
        "waiver": None,
    }
    relaxed = dataclasses.replace(CFG, quality=config.Quality(min_coverage_percent=75, tests_required=False))
    q = plan.quality_plan(relaxed, hotfix, None, None, "")
    assert q["changed"] == ["coverage > 75% (policy: 90%)", "tests not required (policy: required)"]
    p = plan.release_plan(relaxed, hotfix, "v1.2.0", "r", "run", "v1.1.0", q)
    assert p["min_coverage_percent"] == 75 and p["quality"]["tests_required"] is False


def test_a_waiver_names_its_gates_and_needs_a_reason_and_a_waived_scan_stops_nothing():
    hotfix = policy.RELEASE_TYPES["hotfix"]
    with pytest.raises(ValueError, match="a waiver needs its reason"):
        plan.quality_plan(CFG, hotfix, ["coverage"], "  ", "alice")
    q = plan.quality_plan(CFG, hotfix, ["scan", "coverage"], "INC-42: the scanner's feed is down", "alice")
    assert q["waiver"] == {"gates": ["coverage", "scan"], "reason": "INC-42: the scanner's feed is down", "by": "alice"}
    p = plan.release_plan(CFG, hotfix, "v1.2.0", "r", "run", "v1.1.0", q)
    scan = shlex.split(p["build"]["commands"]["scan"])
    assert scan[scan.index("--max-critical") + 1] == str(plan.WAIVED_CRITICAL)


def test_the_advisory_audit_follows_the_file_and_a_waived_scan_never_blocks_on_it():
    hotfix = policy.RELEASE_TYPES["hotfix"]

    def advisories(cfg, waive=None) -> str:
        q = plan.quality_plan(cfg, hotfix, waive, "INC-42: packagist is down" if waive else None, "alice")
        scan = shlex.split(
            plan.release_plan(cfg, hotfix, "v1.2.0", "r", "run", "v1.1.0", q)["build"]["commands"]["scan"]
        )
        return scan[scan.index("--advisories") + 1]

    assert advisories(CFG) == "warn"  # the default: said when unreachable, not blocking
    strict = dataclasses.replace(CFG, build=dataclasses.replace(CFG.build, advisories="block"))
    assert advisories(strict) == "block"
    assert advisories(strict, ["scan"]) == "warn"
