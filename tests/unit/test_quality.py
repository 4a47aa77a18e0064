"""The verdicts of the pre-release quality gates."""

from __future__ import annotations

import shlex
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from laravel_release.steps import quality

CLOVER = """<?xml version="1.0" encoding="UTF-8"?>
<coverage generated="1">
  <project timestamp="1">
    <file name="/app/Http/Controllers/HealthController.php">
      <metrics loc="30" ncloc="30" classes="1" methods="2" coveredmethods="1" statements="10" coveredstatements="8"/>
    </file>
    <metrics files="10" loc="167" classes="7" methods="9" statements="23" coveredstatements="21"/>
  </project>
</coverage>
"""


def test_coverage_is_read_from_the_project_totals():
    assert quality.coverage_percent(CLOVER) == pytest.approx(91.304, abs=0.001)


@pytest.mark.parametrize(
    "text", ["", "<html></html>", '<coverage><metrics statements="0" coveredstatements="0"/></coverage>']
)
def test_a_report_that_is_not_clover_is_an_error(text):
    with pytest.raises(ValueError):
        quality.coverage_percent(text)


@pytest.mark.parametrize(
    ("summary", "ok"),
    [
        ("OK (12 tests, 30 assertions)", True),
        ("Tests: 12, Assertions: 30, Failures: 1.", False),
        ("no test commands configured", False),
        ("", False),
    ],
)
def test_all_tests_pass(summary, ok):
    assert quality.tests_verdict(summary)[0] is ok


OUTPUT = Path(__file__).parent / "fixtures" / "test-output"
LIB = Path(__file__).parents[2] / "include" / "scripts" / "lib.sh"


def summaries(*names: str) -> str:
    """What build.sh keeps of each test command's output (lib.sh's test_summaries), one command after another."""
    files = " ".join(shlex.quote(str(OUTPUT / n)) for n in names)
    script = f'. {shlex.quote(str(LIB))}; for f in {files}; do test_summaries "$f"; done'
    return subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize(
    ("outputs", "ok", "said"),
    [
        (["phpunit-9.6-ok.txt"], True, "6 passed (13 assertions)"),
        (["phpunit-9.6-skipped.txt"], True, "6 passed (13 assertions), 1 skipped"),
        (["phpunit-10.5-ok.txt"], True, "6 passed (13 assertions)"),
        (["phpunit-11.2-issues.txt"], True, "7 passed (15 assertions)"),
        (["artisan-test-laravel8.txt"], True, "6 passed (0 assertions)"),
        (["artisan-test-laravel10-colour.txt"], True, "12 passed (30 assertions)"),
        (["pest-2.txt"], True, "3 passed (9 assertions), 1 skipped"),
        (["pest-3.txt"], True, "3 passed (24 assertions)"),
        # every command counts, not only the last one
        (["phpunit-9.6-ok.txt", "pest-3.txt"], True, "9 passed (37 assertions)"),
        # failures counted behind an exit code that said 0 (`phpunit || true`, a wrapper script)
        (["phpunit-9.6-failures.txt"], False, "1 failed, 6 passed (14 assertions), 1 skipped"),
        (["phpunit-11.2-errors.txt"], False, "1 failed, 6 passed (12 assertions)"),
        (["pest-3.txt", "artisan-test-laravel11.txt"], False, "1 failed, 5 passed (28 assertions), 1 skipped"),
    ],
)
def test_every_runner_s_summary_is_read_from_every_command(outputs, ok, said):
    verdict, words = quality.tests_verdict(summaries(*outputs))
    assert verdict is ok and words.startswith(said), words


def test_output_without_any_summary_is_not_a_pass():
    ok, said = quality.tests_verdict("Everything is fine, trust me")
    assert not ok and "no test summary found" in said


def test_a_changelog_entry_from_the_release_notes():
    notes = "## v1.2.0 (since v1.1.0)\n\n- Say hello on the home page (abc123, Zena Dev)\n\nTests: OK (5 tests)\n"
    entry = quality.changelog_entry("v1.2.0", notes, datetime(2026, 11, 25, tzinfo=UTC))
    assert entry == ("## [v1.2.0] - 2026-11-25\n\n### Changed\n\n- Say hello on the home page (abc123, Zena Dev)\n")


DROP = """=== database/migrations/2026_01_01_000000_drop_legacy_column.php
<?php
class DropLegacyColumn extends Migration
{
    public function up()
    {
        Schema::table('projects', function (Blueprint $table) { $table->dropColumn('legacy'); });
    }
}
=== database/migrations/2026_01_02_000000_create_tags.php
<?php
class CreateTags extends Migration
{
    public function up() { Schema::create('tags', function (Blueprint $t) { $t->id(); }); }
}
"""
BUILT = [{"verb": "build", "migrations": "/builds/artifacts/r.migrations"}]


def check_migrations(monkeypatch, bundle: str, release_type: str, acknowledged: str | None = None):
    """The gate, with the build host's file read from ``bundle`` (the gate's reading is what is tested)."""
    monkeypatch.setattr(quality.remote, "read_file", lambda conn, host, path: bundle)
    plan = {"release_type": release_type, "build": {"ssh_conn_id": "b", "host": "build"}}
    return quality.check_migrations.function(plan, BUILT, params={"destructive_migrations": acknowledged})


def test_a_destructive_migration_stops_a_release_that_is_not_major(monkeypatch):
    with pytest.raises(quality.QualityGateFailed) as err:
        check_migrations(monkeypatch, DROP, "feature")
    said = str(err.value)
    assert "2026_01_01_000000_drop_legacy_column: destructive (drops a column or table)" in said
    assert "2026_01_02_000000_create_tags: additive" in said
    assert "release it as a major release, or trigger again with 'destructive_migrations'" in said


def test_a_destructive_migration_passes_with_the_major_type_or_an_acknowledgement(monkeypatch):
    assert check_migrations(monkeypatch, DROP, "major")["destructive"] == 1
    acked = check_migrations(monkeypatch, DROP, "hotfix", "expand/contract: nothing reads legacy since v1.3")
    assert acked["acknowledged"].startswith("expand/contract") and len(acked["migrations"]) == 2


def test_no_new_migrations_pass(monkeypatch):
    assert check_migrations(monkeypatch, "", "hotfix") == {"migrations": [], "destructive": 0, "acknowledged": None}


def plan_with(waiver=None, tests_required=True):
    return {"quality": {"tests_required": tests_required, "waiver": waiver}, "min_coverage_percent": 90.0}


def build_said(tests: str) -> list[dict]:
    return [{"verb": "build", "tests": tests}]


def test_tests_that_are_not_required_pass_without_test_commands_with_a_warning():
    check = quality.check_tests.function
    with pytest.raises(quality.QualityGateFailed, match="no tests ran"):
        check(plan_with(), build_said("no test commands configured"))
    said = check(plan_with(tests_required=False), build_said("no test commands configured"))
    assert said.startswith("not required: no test commands configured")
    with pytest.raises(quality.QualityGateFailed):  # not required, but they ran and failed: still a failure
        check(plan_with(tests_required=False), build_said("Tests: 3, Assertions: 5, Failures: 1."))


def test_a_waived_gate_reports_its_figure_and_who_waived_it_and_why():
    waiver = {"gates": ["tests"], "reason": "INC-42: flaky test tracked in #123", "by": "alice"}
    said = quality.check_tests.function(plan_with(waiver), build_said("Tests: 3, Assertions: 5, Failures: 1."))
    assert said == "WAIVED by alice: INC-42: flaky test tracked in #123; 1 failed, 2 passed (5 assertions): " + (
        "a test command exited 0 although tests failed"
    )


def test_coverage_must_be_over_the_threshold_as_the_seed_says(monkeypatch):
    """The seed: "> 90% code coverage". 21 of 23 statements (91.3 %) pass 91 and fail 91.304..."""
    monkeypatch.setattr(quality.remote, "read_file", lambda conn, host, path: CLOVER)
    built = [{"verb": "build", "report": "/builds/r/build/coverage.xml"}]

    def gate(threshold: float):
        plan = {"build": {"ssh_conn_id": "b", "host": "build"}, "min_coverage_percent": threshold}
        return quality.check_coverage.function(plan, built)

    assert gate(91) == pytest.approx(91.3, abs=0.01)
    exactly = quality.coverage_percent(CLOVER)
    with pytest.raises(quality.QualityGateFailed, match=r"'coverage > 91.3043%' failed: the app's tests cover 91.3%"):
        gate(exactly)
