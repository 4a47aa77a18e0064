"""The verdicts of the pre-release quality gates."""

from __future__ import annotations

from datetime import UTC, datetime

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


def test_a_changelog_entry_from_the_release_notes():
    notes = "## v1.2.0 (since v1.1.0)\n\n- Say hello on the home page (abc123, Zena Dev)\n\nTests: OK (5 tests)\n"
    entry = quality.changelog_entry("v1.2.0", notes, datetime(2026, 11, 25, tzinfo=UTC))
    assert entry == ("## [v1.2.0] - 2026-11-25\n\n### Changed\n\n- Say hello on the home page (abc123, Zena Dev)\n")
