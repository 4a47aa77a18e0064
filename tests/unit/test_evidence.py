"""evidence.py and report.py on a constructed run history with known answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from laravel_release import evidence, policy, report

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def at(day: int, hour: int = 2, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def release(
    dag_id: str,
    version: str,
    since: str,
    start: datetime,
    outcome: str,
    commits: list[datetime] = (),
    **extra,
) -> dict:
    """A release run as history.collect reads it; ``outcome``: success, rolled_back, failed, stopped."""
    env = "production"
    tasks = {
        "plan_release": "success",
        "build_release": "success",
        "check_tests": "success",
        "check_coverage": "success",
        "scan_release": "success",
        "write_release_notes": "success",
        "write_changelog": "success",
        "staging.switch_release[staging-1]": "success",
        "staging.release_verified": "success",
    }
    xcom = {
        "plan_release": {"version": version, "since": since, "release_type": dag_id.removeprefix("release_")},
        "build_release": [{"verb": "build", "commit_times": " ".join(str(int(c.timestamp())) for c in commits)}],
        "check_tests": "7 tests, 30 assertions: OK",
        "check_coverage": 92.9,
        "scan_release": [{"verb": "scan", "critical": 0, "high": 1}],
        "write_release_notes": f"## {version} (since {since})",
        "write_changelog": f"## [{version}] - 2026-11-01",
        "staging.release_verified": [{"host": "staging-1", "p95_seconds": 0.05, "error_rate_percent": 0}],
    }
    ended = {}
    state = "success"
    if outcome == "stopped":
        state = "failed"
        tasks["uat.release_verified"] = "success"
        tasks["approve_production"] = "failed"
    else:
        for h in ("production-1", "production-2"):
            tasks[f"{env}.switch_release[{h}]"] = "success"
        tasks[f"{env}.backup_database"] = "success"
        xcom[f"{env}.backup_database"] = [{"verb": "backup", "sha256": "ab" * 32}]
    if outcome == "success":
        tasks[f"{env}.release_verified"] = "success"
        tasks[f"{env}.watch_release"] = "success"
        tasks[f"{env}.announce_finished"] = "success"
        xcom[f"{env}.release_verified"] = [
            {"host": "production-1", "p95_seconds": 0.12, "error_rate_percent": 0.0},
            {"host": "production-2", "p95_seconds": 0.18, "error_rate_percent": 0.5},
        ]
        xcom[f"{env}.announce_finished"] = {"outcome": "success", "slack": "sent", "email": "sent"}
        ended[f"{env}.release_verified"] = (start + timedelta(minutes=10)).isoformat()
    elif outcome == "rolled_back":
        state = "failed"
        detected = start + timedelta(minutes=8)
        tasks[f"{env}.release_verified"] = "skipped"
        tasks[f"{env}.rollback.switch_back"] = "success"
        tasks[f"{env}.rollback.record_rollback"] = "failed"
        xcom[f"{env}.watch_release"] = {"at": detected.timestamp(), "text": "ROLLBACK TRIGGER error rate: 12%"}
        xcom[f"{env}.rollback.record_rollback"] = {
            "started": detected.timestamp() + 10,
            "seconds": 6,
            "reason": "ROLLBACK TRIGGER error rate over 5%: 12% (limit 5%)",
            "version": since,
        }
    elif outcome == "failed":
        state = "failed"
        tasks[f"{env}.migrate_database"] = "failed"
        tasks[f"{env}.release_verified"] = "upstream_failed"
    run = {
        "dag_id": dag_id,
        "run_id": f"manual__{start.isoformat()}",
        "run_type": "manual",
        "state": state,
        "triggered_by": "ci-bot",
        "note": "",
        "conf": {"version": version},
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=20)).isoformat(),
        "tasks": tasks,
        "ended": ended,
        "xcom": xcom,
        "hitl": {},
        "review": None,
    }
    for key, value in extra.items():
        run[key] = {**run[key], **value} if isinstance(value, dict) else value
    return run


def manual_rollback(start: datetime) -> dict:
    decided = start + timedelta(seconds=5)
    return {
        "dag_id": "rollback",
        "run_id": "manual__rb",
        "run_type": "manual",
        "state": "success",
        "triggered_by": "oncall",
        "note": "",
        "conf": {"environment": "production", "reason": "INC-7: checkout 500s"},
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=1)).isoformat(),
        "tasks": {"rollback.switch_back": "success", "rollback.record_rollback": "success"},
        "ended": {},
        "xcom": {
            "plan_rollback": {"environment": "production", "reason": "INC-7: checkout 500s"},
            "rollback.decide_rollback": [
                {"decision": {"started": decided.timestamp(), "from": "v1.1.1-x", "version": "v1.0.0"}}
            ],
            "rollback.record_rollback": {"seconds": 8, "hosts": ["production-1", "production-2"], "version": "v1.0.0"},
        },
        "hitl": {},
        "review": None,
    }


APPROVED = {"approve_production": {"responded_by": "alice", "responded_at": "2026-11-02T01:00:00+00:00"}}
HISTORY = [
    release(
        "release_feature",
        "v1.0.0",
        "",
        at(2),
        "success",
        commits=[at(1, 2, 10), at(1, 2, 10) - timedelta(days=1)],
        hitl=APPROVED,
    ),
    release("release_hotfix", "v1.0.1", "v1.0.0", at(9), "rolled_back", commits=[at(9, 1)]),
    release("release_feature", "v1.1.0", "v1.0.0", at(10), "failed", hitl=APPROVED),
    release(
        "release_maintenance",
        "v1.1.1",
        "v1.0.0",
        at(17),
        "success",
        commits=[at(17, 0, 10)],
        xcom={"wait_for_window": {"override_reason": "INC-5: the certificate expires at 09:00"}},
        hitl=APPROVED,
    ),
    release("release_feature", "v1.2.0", "v1.1.1", at(18), "stopped"),  # rejected in UAT: never in production
    manual_rollback(at(20, 10)),
    # its build did not report commit times (a build from before they were recorded)
    release("release_hotfix", "v1.1.2", "v1.0.0", at(24), "success", xcom={"build_release": [{"verb": "build"}]}),
]


def test_the_production_changes_of_the_history_and_their_audit_trail():
    found = evidence.changes(HISTORY)
    assert [(c.kind, c.version, c.outcome) for c in found] == [
        ("release", "v1.0.0", "success"),
        ("release", "v1.0.1", "rolled_back"),
        ("release", "v1.1.0", "failed"),
        ("release", "v1.1.1", "success"),
        ("rollback", "v1.0.0", "success"),
        ("release", "v1.1.2", "success"),
    ]
    first = found[0]
    assert (first.replaced, first.triggered_by, first.trigger, first.approved_by) == ("", "ci-bot", "manual", "alice")
    assert first.hosts == ["production-1", "production-2"] and first.p95_ms == 180
    assert found[3].window_override == "INC-5: the certificate expires at 09:00"
    assert found[4].triggered_by == "oncall" and found[4].replaced == "v1.1.1-x"
    assert found[5].missing == ["build_release commit times (lead time)"]


def test_the_four_keys_have_the_known_answers():
    m = evidence.dora(evidence.changes(HISTORY), NOW, weeks=4)
    assert (m.deployments, m.failures) == (5, 2)
    assert m.deployment_frequency == pytest.approx(3 / 4)  # three good deployments in four weeks
    assert m.change_failure_rate == pytest.approx(40.0)  # the rollback and the failed migration
    # lead time: commits 24 h, 48 h (v1.0.0) and 2 h (v1.1.1) before production was verified: median 24 h
    assert m.lead_time_hours == pytest.approx(24)
    # restore: 16 s (the automatic rollback: detected, 10 s to decide, 6 s) and 13 s (by hand): median 14.5 s
    assert m.time_to_restore_hours * 3600 == pytest.approx(14.5)
    assert m.restores == 2
    assert m.flagged == [
        "release_hotfix manual__2026-11-24T02:00:00+00:00: missing build_release commit times (lead time)"
    ]
    assert m.figures["p95_page_ms"] == 180 and m.figures["error_rate_percent"] == 0.5
    assert m.figures["coverage_percent"] == 92.9 and m.figures["critical_vulnerabilities"] == 0


def test_each_target_of_the_seed_is_met_missed_or_not_measured():
    scored = {s.target.name: s for s in evidence.score(evidence.dora(evidence.changes(HISTORY), NOW, 4))}
    assert scored["deployment_frequency"].met is False  # 0.75 per week: not weekly
    assert scored["lead_time_hours"].met is True
    assert scored["change_failure_rate"].met is False
    assert scored["time_to_restore_hours"].met is True
    assert scored["coverage_percent"].met is True and scored["critical_vulnerabilities"].met is True
    assert scored["p95_page_ms"].met is True and scored["p95_api_ms"].met is True  # 180 ms < 300 ms
    assert scored["error_rate_percent"].met is True
    assert scored["uptime_percent"].met is None  # not measured by releases
    assert [t.name for t in policy.TARGETS] == list(scored)


def test_weeks_count_deployments_and_failures():
    weeks = evidence.per_week(evidence.changes(HISTORY), NOW, 4)
    assert [w["week"] for w in weeks] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    assert [(w["deployments"], w["failures"]) for w in weeks] == [(1, 0), (0, 2), (1, 0), (1, 0)]
    assert weeks[1]["failure_rate"] == 100.0


def test_the_checklists_are_proven_by_tasks_and_by_a_person():
    run = HISTORY[0]
    items = {c.item: c for c in evidence.checklist(run)}
    assert len(items) == len({i.item for i in policy.CHECKLISTS})
    assert items["All tests passing"].status == "done"
    assert items["All tests passing"].proof == "check_tests: 7 tests, 30 assertions: OK"
    assert items["Backup created"].proof.startswith("production.backup_database: backup sha256 abababab")
    assert items["UAT sign-off received"].proof == "approved by alice at 2026-11-02T01:00:00+00:00"
    assert items["Security scan passed"].proof == "scan_release: 0 critical, 1 high findings"
    assert items["Stakeholders updated"].status == "done"
    assert items["Lessons learned documented"].status == "pending"  # the review form is not answered yet
    reviewed = {
        **run,
        "review": {
            "responded_by": "bob",
            "responded_at": "2026-11-03T09:00:00+00:00",
            "params_input": {"code_review_completed": True, "lessons_learned": "https://wiki/zena/v1.0.0"},
        },
    }
    items = {c.item: c for c in evidence.checklist(reviewed)}
    assert items["Code review completed"].status == "done"
    assert items["Lessons learned documented"].proof == (
        "confirmed by bob at 2026-11-03T09:00:00+00:00: https://wiki/zena/v1.0.0"
    )
    assert items["Documentation updated"].status == "failed"  # answered, not confirmed
    hotfix = {c.item: c for c in evidence.checklist(HISTORY[6])}
    assert hotfix["UAT sign-off received"].status == "n/a" and hotfix["UAT completed"].status == "n/a"


def test_the_report_shows_targets_charts_audit_and_checklists():
    page, summary = report.render(HISTORY, NOW, 4)
    assert page.startswith("<!doctype html>") and "plotly" in page.lower()
    assert page.count("class='card'") == 5  # five charts
    assert "Deployments to production per week" in page and "Time to restore" in page
    assert "<td class='missed'>missed</td>" in page and "needs an external uptime monitor" in page
    assert "alice at 2026-11-02" in page and "window override: INC-5" in page
    assert "Counted, with data missing" in page
    assert summary.startswith("ZenaManage releases: the last 4 weeks") and "5 deployments" in summary
    assert "Missed: deployment frequency, change failure rate." in summary


def test_an_empty_history_gives_a_report_that_says_nothing_yet():
    page, summary = report.render([], NOW, 12)
    assert "Nothing yet" in page and "<table>" in page
    assert summary.endswith("nothing yet, no production change in the period")
    m = evidence.dora([], NOW, 12)
    assert (m.deployments, m.change_failure_rate, m.lead_time_hours) == (0, None, None)


def test_the_audit_trail_says_what_a_release_was_held_to_when_it_is_not_the_policy():
    from laravel_release.evidence import quality_exceptions

    assert quality_exceptions({"changed": [], "waiver": None}) == ""
    assert (
        quality_exceptions(
            {
                "changed": ["coverage > 75% (policy: 90%)"],
                "waiver": {"gates": ["scan"], "reason": "INC-7 feed down", "by": "alice"},
            }
        )
        == "coverage > 75% (policy: 90%); waived scan by alice: INC-7 feed down"
    )


def test_the_rollback_plan_is_proven_by_the_rehearsal_on_staging():
    from laravel_release.evidence import _rollback_plan

    rehearsed = {
        "rehearsed": True,
        "to_version": "v1.1.0",
        "migrations_undone": ["2025_02_01_000000_add_status_to_projects_table"],
        "back_seconds": 2.1,
        "forward_seconds": 2.4,
    }
    run = {"tasks": {"staging.rehearse_rollback": "success"}, "xcom": {"staging.rehearse_rollback": rehearsed}}
    assert _rollback_plan(run) == (
        "done",
        "staging.rehearse_rollback: back to v1.1.0 in 2.1 s (undoing 1 migration(s)) and forward in 2.4 s, "
        "verified both ways",
    )
    first = {"tasks": {"staging.rehearse_rollback": "success"}, "xcom": {"staging.rehearse_rollback": {"why": "x"}}}
    assert _rollback_plan(first)[0] == "n/a"
    failed = {"tasks": {"staging.rehearse_rollback": "failed"}, "xcom": {}}
    assert _rollback_plan(failed) == ("failed", "staging.rehearse_rollback: failed")


def probed(host: str, pages: float, apis: float) -> dict:
    """A host's release_verified figures: p95 of pages and of APIs (s), no errors."""
    return {
        "host": host,
        "p95_seconds": max(pages, apis),
        "p95_page_seconds": pages,
        "p95_api_seconds": apis,
        "error_rate_percent": 0.0,
    }


def test_each_release_meets_or_misses_the_performance_targets_pages_and_apis_apart():
    run = release("release_feature", "v1.5.0", "v1.4.0", at(20), "success", [at(19)])
    run["xcom"]["production.release_verified"] = [probed("production-1", 0.41, 0.35), probed("production-2", 0.2, 0.1)]
    change = evidence.release_change(run)
    assert (change.p95_page_ms, change.p95_api_ms) == (410.0, 350.0)
    assert change.performance == "missed: p95 response time, APIs (worst) 350 ms (target < 300 ms)"
    m = evidence.dora([change], NOW, weeks=4)
    assert (m.figures["p95_page_ms"], m.figures["p95_api_ms"]) == (410.0, 350.0)
    # a run from before pages and APIs were apart: its worst p95 stands for both, as it did
    older = evidence.release_change(release("release_feature", "v1.4.0", "v1.3.0", at(13), "success", [at(12)]))
    assert older.performance == "met" and older.figures["p95_api_ms"] == 180
    page, _ = report.render([run], NOW, 4)
    assert "<th>performance targets</th>" in page
    assert "<td class='missed'>missed: p95 response time, APIs (worst) 350 ms (target &lt; 300 ms)</td>" in page


def test_release_notes_are_published_and_sent_with_the_success_announcement():
    run = release("release_feature", "v1.5.0", "v1.4.0", at(20), "success", [at(19)])
    items = {c.item: c for c in evidence.checklist(run)}
    # a run from before notes were published: the CHANGELOG entry prepared counts, as it did
    assert items["Release notes published"].proof == "write_changelog: ## [v1.5.0] - 2026-11-01"
    run["tasks"]["publish_release_notes"] = "success"
    run["xcom"]["publish_release_notes"] = {
        "changelog": "/r/CHANGELOG.md",
        "notes": "/r/release-notes/v1.5.0.md",
        "posted": "sent to zena_docs/notes",
    }
    run["xcom"]["production.announce_finished"]["notes"] = 3
    item = {c.item: c for c in evidence.checklist(run)}["Release notes published"]
    assert item.status == "done"
    assert item.proof == (
        "/r/CHANGELOG.md and /r/release-notes/v1.5.0.md; posted: sent to zena_docs/notes; "
        "3 change(s) sent with the success announcement (slack, email)"
    )
    run["xcom"]["publish_release_notes"]["posted"] = "failed: zena_docs/notes: 503"
    assert {c.item: c for c in evidence.checklist(run)}["Release notes published"].status == "failed"


def test_performance_metrics_checked_says_which_targets_were_met():
    run = release("release_feature", "v1.5.0", "v1.4.0", at(20), "success", [at(19)])
    run["xcom"]["production.release_verified"] = [probed("production-1", 0.6, 0.1)]
    item = {c.item: c for c in evidence.checklist(run)}["Performance metrics checked"]
    assert item.proof.endswith("performance targets missed: p95 response time, pages (worst) 600 ms (target < 500 ms)")


def test_a_run_from_before_switch_back_verified_reads_as_it_ended():
    # such runs switched back per host (switch_back[host]) and verified in a task of its own
    for verified, outcome in (("success", "rolled_back"), ("failed", "failed")):
        run = release("release_hotfix", "v1.0.1", "v1.0.0", at(9), "rolled_back", commits=[at(9, 1)])
        del run["tasks"]["production.rollback.switch_back"]
        run["tasks"]["production.rollback.switch_back[production-1]"] = "success"
        run["tasks"]["production.rollback.verify_rollback[production-1]"] = verified
        change = evidence.release_change(run)
        assert change is not None and change.outcome == outcome


def test_a_post_mortem_timeline_tells_the_run_in_the_order_it_happened():
    run = release("release_hotfix", "v1.0.1", "v1.0.0", at(9), "rolled_back", commits=[at(9, 1)])
    run["ended"].update(
        {
            "production.switch_release[production-1]": at(9, 2, 5).isoformat(),
            "production.rollback.switch_back": at(9, 2, 8, 12).isoformat(),
            "production.rollback.record_rollback": at(9, 2, 8, 20).isoformat(),
        }
    )
    run["tasks"]["production.switch_release[production-1]"] = "success"
    run["tasks"]["production.rollback.switch_back"] = "success"
    assert evidence.timeline(run) == [
        "2026-11-09 02:00:00 started by ci-bot (manual)",
        "2026-11-09 02:05:00 production: switched to the release (production-1)",
        "2026-11-09 02:08:00 production: ROLLBACK TRIGGER error rate: 12%",
        "2026-11-09 02:08:12 production: switched back and verified",
        "2026-11-09 02:08:20 production.rollback.record_rollback failed",
        "2026-11-09 02:20:00 run ended: failed",
    ]


def test_the_report_shows_each_incident_with_its_post_mortem_or_that_it_is_pending():
    rolled_back = release("release_hotfix", "v1.0.1", "v1.0.0", at(9), "rolled_back", commits=[at(9, 1)])
    answered = {
        **manual_rollback(at(20, 10)),
        "post_mortem": {
            "responded_by": "alice",
            "responded_at": "2026-11-21T09:00:00+00:00",
            "params_input": {"root_cause": "N+1 query in the export", "actions": "a query budget test", "owner": "bob"},
        },
    }
    page, _ = report.render([rolled_back, answered], NOW, 4)
    section = page[page.index("<h2>Post-mortems</h2>") :]
    assert "hotfix release v1.0.1 (rolled back)</td><td colspan='3' class='pending'>pending" in section
    assert "<td>N+1 query in the export</td><td>a query budget test</td><td>bob</td><td>alice at 2026-11-21" in section


def test_a_post_mortem_is_asked_for_an_incident_only():
    from laravel_release.steps.postmortem import post_mortem_wanted

    ok = {"production.release_verified": "success"}
    back = {"production.release_verified": "skipped", "production.rollback.switch_back": "success"}
    assert post_mortem_wanted("release_hotfix", "manual__1", ok, "production") == ""
    assert post_mortem_wanted("release_hotfix", "manual__1", back, "production") == "production rolled back"
    failed = {"production.migrate_database": "failed", "production.release_verified": "upstream_failed"}
    assert post_mortem_wanted("release_hotfix", "manual__1", failed, "production") == "production failed"
    decided = {"rollback.decide_rollback": "success"}
    assert post_mortem_wanted("rollback", "manual__2", decided, None) == "a rollback"
    assert post_mortem_wanted("rollback", "manual__2", {"rollback.decide_rollback": "failed"}, None) == ""
    # a restore offered after a release's own rollback: that release's post-mortem covers it
    assert post_mortem_wanted("rollback", "restore_offer__manual__1", decided, None) == ""


def test_the_daily_progress_names_what_ended_since_yesterday_and_what_is_waiting():
    now = at(20, 8)
    live = release("release_feature", "v1.5.0", "v1.4.0", at(20, 2), "success", [at(19)])
    back = release("release_hotfix", "v1.5.1", "v1.5.0", at(19, 9), "rolled_back", [at(19)])
    back["end"] = at(19, 9, 30).isoformat()
    waiting = release("release_major", "v2.0.0", "v1.5.0", at(19, 10), "stopped")
    waiting.update(state="running", end=None)
    waiting["tasks"]["approve_production"] = "awaiting_input"
    old = release("release_feature", "v1.4.0", "v1.3.0", at(13), "success", [at(12)])
    lines = evidence.progress([old, back, waiting, live], now)
    assert lines == [
        "hotfix release v1.5.1: rolled back in production (ROLLBACK TRIGGER error rate over 5%: 12% (limit 5%))",
        "major release v2.0.0: in progress, at approve_production",
        "feature release v1.5.0: live in production since Fri 02:20 UTC",
    ]
    assert evidence.progress([old], now) == []  # a quiet day: nothing to say


def test_a_report_period_without_any_production_change_sends_nothing():
    from airflow.sdk.exceptions import AirflowSkipException

    from laravel_release.steps import metrics

    with pytest.raises(AirflowSkipException, match="nothing to say"):
        metrics.post_summary.function({"changes": 0, "summary": "ZenaManage releases: nothing yet"})
