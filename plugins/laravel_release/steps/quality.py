"""Pre-release quality gates (the seed's KPIs and pre-release checklist), one task each.

    build_release ─┬─> check_tests       all tests pass
                   ├─> check_coverage    line coverage of the app's tests > the policy's threshold (the seed: > 90%)
                   ├─> scan_release      0 critical security findings (scan.sh on the build host)
                   ├─> check_migrations  new migrations additive, or destructive with the major type
                   │                     or an acknowledgement given at trigger time
                   └─> write_changelog   release notes prepared, CHANGELOG entry generated

Staging waits for the tests and the scan, so an untested or vulnerable build goes live
nowhere; coverage, migration safety and the changelog run beside staging.
Production waits for all of them. A failed gate stops the release where it
stands and its error names the gate and the figure.
The pre-deployment checks (backup space, database reachable) are each
environment's ``check_hosts``.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from airflow.sdk import task
from airflow.sdk.exceptions import AirflowException

from laravel_release import migrations, remote
from laravel_release.remote import RemoteScript
from laravel_release.steps.build import build_result

log = logging.getLogger(__name__)


class QualityGateFailed(AirflowException):
    """A pre-release quality gate failed: the message names the gate and the figure."""


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PHPUNIT_OK = re.compile(r"^OK \((\d+) tests?, (\d+) assertions?\)")
PHPUNIT_COUNTS = re.compile(r"^Tests: (\d+), Assertions: (\d+)(.*)")
COLLISION = re.compile(r"^Tests:\s+(.*?)\s*(?:\((\d+) assertions?\))?\s*$")  # php artisan test, Pest


def test_counts(summary: str) -> dict[str, int]:
    """Tests passed and failed, and assertions, summed over every test command's summary lines.

    The formats: PHPUnit 9-11 (``OK (12 tests, 30 assertions)``, or ``Tests: 12, Assertions: 30,
    Failures: 1.`` after ``FAILURES!`` or ``OK, but ...``), and collision's and Pest's
    (``Tests:    1 failed, 11 passed (30 assertions)``, indented, maybe coloured).
    """
    counts = {"passed": 0, "failed": 0, "skipped": 0, "assertions": 0, "summaries": 0}
    for raw in summary.splitlines():
        line = ANSI.sub("", raw).strip()
        if m := PHPUNIT_OK.match(line):
            counts["passed"] += int(m[1])
            counts["assertions"] += int(m[2])
        elif m := PHPUNIT_COUNTS.match(line):
            extra = dict((k.lower(), int(n)) for k, n in re.findall(r"(\w+): (\d+)", m[3]))
            failed = extra.get("failures", 0) + extra.get("errors", 0)
            skipped = sum(extra.get(k, 0) for k in ("skipped", "incomplete"))
            counts["failed"] += failed
            counts["skipped"] += skipped
            counts["passed"] += max(int(m[1]) - failed - skipped, 0)
            counts["assertions"] += int(m[2])
        elif m := COLLISION.match(line):
            parts = dict((k, int(n)) for n, k in re.findall(r"(\d+) (\w+)", m[1]))
            counts["passed"] += parts.get("passed", 0)
            counts["failed"] += parts.get("failed", 0) + parts.get("errors", 0)
            counts["skipped"] += parts.get("skipped", 0) + parts.get("incomplete", 0) + parts.get("todo", 0)
            counts["assertions"] += int(m[2] or 0)
        else:
            continue
        counts["summaries"] += 1
    return counts


def tests_verdict(summary: str) -> tuple[bool, str]:
    """The test commands' summaries as a verdict. The commands' exit codes already failed the build when
    a test failed; a failure counted behind a masked exit code (``phpunit || true``) fails it here."""
    if not summary or summary.startswith("no test commands"):
        return False, "no tests ran: configure build.test_commands"
    c = test_counts(summary)
    said = f"{c['passed']} passed ({c['assertions']} assertions)" + (
        f", {c['skipped']} skipped" if c["skipped"] else ""
    )
    if c["failed"]:
        return False, f"{c['failed']} failed, {said}: a test command exited 0 although tests failed"
    if not c["summaries"]:
        return False, f"no test summary found in the test commands' output ({summary[:120]!r}): did any test run?"
    if not c["passed"]:
        return False, f"no tests ran ({said})"
    return True, said


def coverage_percent(clover_xml: str) -> float:
    """Line (statement) coverage of a clover report, in percent.

    The project's totals are its last ``<metrics>`` element (files and packages
    come first). Read with a pattern, not an XML parser: the report comes from a host.
    """
    found = re.findall(r"<metrics\b([^>]*)/>", clover_xml)
    if "<coverage" not in clover_xml or not found:
        raise ValueError("no <metrics> element: not a clover report")
    metrics = dict(re.findall(r'(\w+)="(\d+)"', found[-1]))
    statements = int(metrics.get("statements", "0"))
    if statements == 0:
        raise ValueError("the report counts no statements")
    return 100.0 * int(metrics.get("coveredstatements", "0")) / statements


def changelog_entry(version: str, notes: str, day: datetime) -> str:
    """A "Keep a Changelog" entry from the release notes' commit lines."""
    lines = [line for line in notes.splitlines() if line.startswith("- ")]
    return f"## [{version}] - {day:%Y-%m-%d}\n\n### Changed\n\n" + "\n".join(lines) + "\n"


def waiver_of(plan: dict[str, Any], gate: str) -> str:
    """'' or the words of this run's waiver of ``gate`` (who, why)."""
    waiver = (plan.get("quality") or {}).get("waiver") or {}
    if gate not in waiver.get("gates", ()):
        return ""
    return f"WAIVED by {waiver.get('by') or 'the trigger'}: {waiver.get('reason')}"


@task
def check_tests(plan: dict[str, Any], results: list[dict[str, Any]]) -> str:
    summary = build_result(results).get("tests", "")
    ok, said = tests_verdict(summary)
    required = (plan.get("quality") or {}).get("tests_required", True)
    if not ok and summary.startswith("no test commands") and not required:
        log.warning("no tests ran, and the environment file does not require them (quality.tests_required: false)")
        return "not required: no test commands configured (quality.tests_required: false)"
    if not ok and (waived := waiver_of(plan, "tests")):
        log.warning("quality gate 'all tests pass' failed (%s) and is %s", said, waived)
        return f"{waived}; {said}"
    if not ok:
        raise QualityGateFailed(f"quality gate 'all tests pass' failed: {said}")
    log.info("all tests pass: %s", said)
    return said


@task
def check_coverage(plan: dict[str, Any], results: list[dict[str, Any]]) -> float | None:
    build, threshold = plan["build"], plan["min_coverage_percent"]
    report = build_result(results).get("report")
    waived = waiver_of(plan, "coverage")
    if not report and not (plan.get("quality") or {}).get("tests_required", True):
        log.warning("coverage not measured: no tests are required here (quality.tests_required: false)")
        return None
    if not report and waived:
        log.warning("quality gate 'coverage' has no report and is %s", waived)
        return None
    if not report:
        raise QualityGateFailed(
            f"quality gate 'coverage > {threshold:g}%' failed: no coverage report. Set build.coverage_report "
            "to the clover file the test commands write (e.g. phpunit --coverage-clover build/coverage.xml)."
        )
    text = remote.read_file(build["ssh_conn_id"], build["host"], report)
    try:
        percent = coverage_percent(text or "")
    except ValueError as err:
        raise QualityGateFailed(f"quality gate 'coverage' failed: cannot read {report}: {err}") from None
    if percent <= threshold and waived:  # the seed asks for more than the threshold
        log.warning("coverage %.1f%% is not over %g%%: the gate is %s", percent, threshold, waived)
    elif percent <= threshold:
        raise QualityGateFailed(
            f"quality gate 'coverage > {threshold:g}%' failed: the app's tests cover {percent:.1f}% of its lines"
        )
    log.info("coverage %.1f%% (threshold %g%%)", percent, threshold)
    return round(percent, 2)


@task
def check_migrations(plan: dict[str, Any], results: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
    """Classify the release's new migrations by reading them (see migrations.py).

    A destructive one (drop, rename, type change, data rewrite) needs the major
    release type or the trigger's ``destructive_migrations`` acknowledgement.
    """
    build = plan["build"]
    bundle = build_result(results).get("migrations")
    text = remote.read_file(build["ssh_conn_id"], build["host"], bundle) if bundle else ""
    found = [
        migrations.classify(PurePosixPath(path).stem, source)
        for path, source in migrations.parse_bundle(text or "").items()
    ]
    destructive = [m for m in found if m.kind == "destructive"]
    acknowledged = context["params"].get("destructive_migrations")
    summary = migrations.describe(found)
    if destructive and plan["release_type"] != "major" and not acknowledged:
        raise QualityGateFailed(
            f"quality gate 'migration safety' failed: {summary}. A destructive migration breaks the previous "
            "release's code, so a code-only rollback is no longer safe: release it as a major release, or "
            "trigger again with 'destructive_migrations' saying why it is safe (e.g. expand/contract done)."
        )
    if destructive:
        log.warning("destructive migrations: %s. Acknowledged: %s", summary, acknowledged or "major release")
    else:
        log.info("migrations: %s: a code-only rollback stays safe", summary)
    return {
        "migrations": [{"name": m.name, "kind": m.kind, "reasons": list(m.reasons)} for m in found],
        "destructive": len(destructive),
        "acknowledged": acknowledged,
    }


@task
def write_changelog(plan: dict[str, Any], notes: str) -> str:
    if not re.search(r"^- ", notes, re.MULTILINE):
        raise QualityGateFailed("quality gate 'release notes prepared' failed: the release notes list no change")
    entry = changelog_entry(plan["version"], notes, datetime.now(UTC))
    log.info("CHANGELOG entry:\n%s", entry)
    return entry


def quality_gates(plan: Any, build: Any, notes: Any) -> tuple[list[Any], list[Any], Any]:
    """The five gates: (the tests and the scan, which the first environment waits for; all of them, which
    production waits for; the CHANGELOG entry)."""
    scan = RemoteScript(task_id="scan_release", step="scan", target=plan["build"], retries=0)
    build >> scan
    first = [check_tests(plan, build.output), scan]
    changelog = write_changelog(plan, notes)
    return (
        first,
        [*first, check_coverage(plan, build.output), check_migrations(plan, build.output), changelog],
        changelog,
    )
