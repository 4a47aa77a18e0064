"""Whole releases on the sandbox: every host ends up serving the version, the database migrated.

The tests of this module run in order on one sandbox: each starts from what the
previous one left live, as successive releases do.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import HOSTS, STAKEHOLDERS, get_json, live_on, served_version, sql

pytestmark = pytest.mark.integration

PRODUCTION = ("production-1", "production-2")


def releases_on(sandbox, host: str) -> set[str]:
    return {p.name for p in (sandbox / "hosts" / host / "app" / "releases").iterdir()}


# What may run on a later stage before the earlier one is verified: reading the plan and
# receiving the build (a new folder under releases/, never live).
EARLY = ("plan_hosts", "upload_release")


def test_a_hotfix_takes_the_first_release_through_staging_to_both_production_hosts(fresh_sandbox, run_dag, inbox):
    inbox.clear()
    run = run_dag("release_hotfix", {"version": "v1.0.0", "reason": "first release of ZenaManage"})
    assert run.state == "success", run.failed_tasks()
    # announced: each stage's start and end, and production before it starts, with the run's link
    slack = [m["text"] for m in inbox.slack]
    subjects = [t.split("\n")[0] for t in slack]
    assert sorted(subjects) == [
        "*Pre-release: ZenaManage v1.0.0 goes to production now*",
        "*Release finished: ZenaManage v1.0.0 is live on production*",
        "*Release finished: ZenaManage v1.0.0 is live on staging*",
        "*Release started: ZenaManage v1.0.0 to production*",
        "*Release started: ZenaManage v1.0.0 to staging*",
    ]
    pre = subjects.index("*Pre-release: ZenaManage v1.0.0 goes to production now*")
    assert pre < subjects.index("*Release started: ZenaManage v1.0.0 to production*")
    assert "• What: hotfix release v1.0.0, replacing nothing (first release)" in slack[pre]
    finished = slack[subjects.index("*Release finished: ZenaManage v1.0.0 is live on production*")]
    assert "• Hosts: production-1, production-2" in finished and "• Duration: " in finished
    assert "• production-1: health, version, smoke tests passed; 0% errors, p95 " in finished
    assert "/dags/release_hotfix/runs/manual__" in finished
    # the release notes go out with it, and the CHANGELOG entry and the notes are kept in the reports folder
    assert "• Change: " in finished
    from laravel_release import config

    reports = config.load().reports_path()
    assert "## [v1.0.0] - " in (reports / "CHANGELOG.md").read_text()
    assert (reports / "release-notes/v1.0.0.md").read_text().startswith("## v1.0.0")
    assert run.tasks["publish_release_notes"] == "success"
    assert run.tasks["production.request_post_mortem"] == "skipped"  # no incident, no post-mortem
    # production's stakeholders are e-mailed; staging has no stakeholders
    assert sorted((m["subject"], m["to"]) for m in inbox.mail) == [
        ("Pre-release: ZenaManage v1.0.0 goes to production now", STAKEHOLDERS),
        ("Release finished: ZenaManage v1.0.0 is live on production", STAKEHOLDERS),
        ("Release started: ZenaManage v1.0.0 to production", STAKEHOLDERS),
    ]
    # the public status page: the release as scheduled maintenance of the app's component
    (maintenance,) = inbox.statuspage
    assert maintenance["path"] == "/v1/pages/zenapage/incidents" and maintenance["auth"] == "OAuth statuspage-api-key"
    assert maintenance["incident"]["status"] == "scheduled" and maintenance["incident"]["component_ids"] == ["webapp"]
    assert {h: served_version(h) for h in HOSTS} == {
        "staging-1": "v1.0.0",
        "uat-1": None,
        "production-1": "v1.0.0",
        "production-2": "v1.0.0",
    }
    assert len(get_json("http://127.0.0.1:8088/api/projects")["projects"]) == 3
    backups = list((fresh_sandbox / "hosts/production-1/app/.deploy/backups").glob("v1.0.0-*.sql.gz"))
    assert len(backups) == 1 and backups[0].with_name(backups[0].name + ".sha256").exists()
    # both web hosts share one database: migrations ran once, on the first host
    assert (fresh_sandbox / "hosts/production-1/app/.deploy/migrations.log").exists()
    assert not (fresh_sandbox / "hosts/production-2/app/.deploy/migrations.log").exists()
    assert run.tasks["production.switch_release[0]"] == run.tasks["production.switch_release[1]"] == "success"


def test_a_release_with_a_migration_migrates_each_database_once(fresh_sandbox, run_dag, inbox):
    inbox.fail_requests = 10_000  # Slack and the status page are down for the whole release
    try:
        run = run_dag("release_hotfix", {"version": "v1.1.0", "reason": "status column needed by the CVE fix"})
    finally:
        inbox.fail_requests = 0
    assert run.state == "success", run.failed_tasks()
    # a notification that cannot be delivered is retried, logged, and holds nothing up
    assert "notification slack: attempt 2 of 2 failed" in run.log
    assert "FAILED, the release goes on: slack" in run.log
    for host in ("staging-1", *PRODUCTION):
        assert served_version(host) == "v1.1.0"
    for db in ("zena_staging", "zena_production"):
        assert sql(fresh_sandbox, f"SHOW COLUMNS FROM {db}.projects LIKE 'status'").startswith("status")
        assert sql(fresh_sandbox, f"SELECT COUNT(*) FROM {db}.migrations") == "2"
    assert get_json("http://127.0.0.1:8088/api/projects")["projects"][0]["status"] == "active"
    assert "Add a status to projects" in run.log  # the release notes since v1.0.0


def test_a_release_that_fails_staging_verification_is_rolled_back_and_never_goes_live_in_production(
    fresh_sandbox, run_dag, inbox
):
    before = {h: live_on(fresh_sandbox, h) for h in PRODUCTION}
    staging_before = live_on(fresh_sandbox, "staging-1")
    inbox.clear()
    run = run_dag("release_hotfix", {"version": "v1.3.0", "reason": "try the release that is broken"})
    assert run.state == "failed"
    assert run.failed_tasks() == ["staging.rollback.record_rollback"]
    # the incident names what tripped, the rollback's end resolves it; staging is not on the status page
    subjects = [m["text"].split("\n")[0] for m in inbox.slack]
    assert subjects[:3] == [
        "*Release started: ZenaManage v1.3.0 to staging*",
        "*INCIDENT ZenaManage staging: rolling back to v1.1.0*",
        "*RESOLVED ZenaManage staging: back on v1.1.0*",
    ]
    assert "*Release rolled back: ZenaManage v1.3.0 on staging*" in subjects[3:]
    assert (
        "• What tripped: VERIFICATION FAILED health: http://127.0.0.1:8081/api/health answered 503"
        in (inbox.slack[1]["text"])
    )
    assert inbox.slack[1]["text"].endswith("cc @dev-team")  # the matrix's first level hears at once
    # e-mail: staging has no stakeholders; the matrix's first level hears of the incident and its end
    assert [(m["subject"], m["to"]) for m in inbox.mail] == [
        ("INCIDENT ZenaManage staging: rolling back to v1.1.0", ["dev@zm.test"]),
        ("RESOLVED ZenaManage staging: back on v1.1.0", ["dev@zm.test"]),
    ]
    assert not inbox.statuspage
    assert run.tasks["staging.rollback.escalate"] == "success"  # resolved: nobody else is called
    assert "VERIFICATION FAILED health: http://127.0.0.1:8081/api/health answered 503" in run.log
    assert "search=not configured" in run.log
    assert "staging: the release was rolled back to v1.1.0" in run.log
    # staging is back on the release it served, and the bad one is marked
    assert live_on(fresh_sandbox, "staging-1") == staging_before and served_version("staging-1") == "v1.1.0"
    bad = (fresh_sandbox / "hosts/staging-1/app/.deploy/bad-releases").read_text().split()
    assert bad and bad[-1].startswith("v1.3.0-")
    assert not (fresh_sandbox / "hosts/staging-1/app/.deploy/freeze").exists()  # lifted after the rollback
    ran = {
        t.split("[")[0].split(".")[1] for t, s in run.tasks.items() if t.startswith("production.") and s == "success"
    }
    assert ran <= set(EARLY)
    assert {h: live_on(fresh_sandbox, h) for h in PRODUCTION} == before
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.1.0" for h in PRODUCTION}
    assert sql(fresh_sandbox, "SELECT COUNT(*) FROM zena_production.migrations") == "2"


def test_a_version_that_is_not_a_tag_is_refused_before_any_host_changes(fresh_sandbox, run_dag):
    before = {h: releases_on(fresh_sandbox, h) for h in ("staging-1", *PRODUCTION)}
    run = run_dag("release_hotfix", {"version": "v9.9.9", "reason": "a version nobody tagged"})
    assert run.state == "failed" and run.failed_tasks() == ["plan_release"]
    assert "version v9.9.9 is not a tag of" in run.log and "v1.3.0" in run.log
    assert {h: releases_on(fresh_sandbox, h) for h in before} == before


def test_a_review_is_opened_only_for_a_release_that_went_live(fresh_sandbox, run_dag):
    failed = run_dag("release_hotfix", {"version": "v9.9.9", "reason": "a version nobody tagged"})
    review = run_dag("release_review", {"dag_id": "release_hotfix", "run_id": failed.run_id, "version": "v9.9.9"})
    assert review.state == "failed" and review.failed_tasks() == ["check_release"]
    assert review.tasks["post_release_review"] == "upstream_failed"  # the form never opened
    assert f"no review for release_hotfix run '{failed.run_id}' (v9.9.9): the run is failed" in review.log
    assert "Nothing was recorded." in review.log
    missing = run_dag("release_review", {"dag_id": "release_hotfix", "run_id": "manual__nope", "version": "v1.0.0"})
    assert missing.failed_tasks() == ["check_release"] and "'manual__nope' (v1.0.0): no such run" in missing.log


def test_a_missing_notification_connection_stops_a_release_at_its_start(fresh_sandbox, run_dag, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_ZENA_SLACK")
    run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "connection test for the record"})
    assert run.state == "failed" and run.failed_tasks() == ["plan_release"]
    assert "notification connection(s) zena_slack named in" in run.log
    assert "incidents and announcements would not reach anyone" in run.log
    assert "Airflow connection(s) zena_slack named in" in run.log


def test_a_missing_connection_is_named_before_anything_runs(fresh_sandbox, run_dag, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_ZENA_PRODUCTION_2")
    run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "connection test for the record"})
    assert run.state == "failed" and run.failed_tasks() == ["plan_release"]
    assert "Airflow connection(s) zena_production_2 named in" in run.log


def test_a_missing_config_file_is_named(fresh_sandbox, run_dag, monkeypatch, tmp_path):
    monkeypatch.setenv("LARAVEL_RELEASE_CONFIG", str(tmp_path / "missing.yaml"))
    run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "config test for the record"})
    assert run.failed_tasks() == ["plan_release"]
    assert f"{tmp_path}/missing.yaml: environment file not found" in run.log


def test_an_unreachable_host_is_named_and_the_live_release_stays(fresh_sandbox, run_dag, monkeypatch):
    import os

    conn = os.environ["AIRFLOW_CONN_ZENA_PRODUCTION_2"].replace('"port": 2225', '"port": 2299')
    monkeypatch.setenv("AIRFLOW_CONN_ZENA_PRODUCTION_2", conn)
    run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "unreachable host test for the record"})
    assert run.state == "failed"
    assert "production-2: cannot connect over SSH (connection 'zena_production_2')" in run.log
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.1.0" for h in PRODUCTION}
