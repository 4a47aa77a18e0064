"""The release report and the audit trail from the real runs of this e2e session (after the other e2e modules:
hotfixes, a feature release signed off by alice, a rejection, rollbacks).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import PORT

pytestmark = pytest.mark.e2e


def form_of(api, form_dag: str, of_dag: str) -> tuple:
    """The first run of ``form_dag`` opened for a run of ``of_dag``, once its form asks: (run, request)."""
    api.wait_for_dag(form_dag)
    runs = [r for r in api.dag_runs(form_dag) if (r.conf or {}).get("dag_id") == of_dag]
    assert runs, f"a run of {of_dag} opens its {form_dag}"
    run = runs[0]
    api.wait(form_dag, run.dag_run_id, timeout=120, until=lambda: bool(api.pending_signoffs(form_dag, run.dag_run_id)))
    return run, api.pending_signoffs(form_dag, run.dag_run_id)[0]


def test_a_person_confirms_the_post_release_items_on_the_review_form(api):
    review, _ = form_of(api, "release_review", "release_feature")
    api.answer(
        "release_review",
        review.dag_run_id,
        "post_release_review",
        "OK",
        inputs={
            "code_review_completed": True,
            "documentation_updated": True,
            "user_feedback_collected": "support inbox: two requests for bulk status edits",
            "lessons_learned": "https://wiki.zenamanage.test/releases/v1.1.0",
        },
    )
    assert api.wait("release_review", review.dag_run_id, timeout=120) == "success"
    # the completed checklists are stored with the review: every item with its proof
    recorded = {i["item"]: i for i in api.xcom("release_review", review.dag_run_id, "record_checklist")}
    assert recorded["Code review completed"]["status"] == "done"
    assert recorded["Code review completed"]["proof"].startswith("confirmed by admin at ")
    assert recorded["UAT sign-off received"]["proof"].startswith("approved by alice at ")
    assert recorded["Backup created"]["proof"].startswith("production.backup_database: backup sha256 ")


def test_a_rolled_back_release_s_post_mortem_shows_its_timeline_and_takes_the_cause(api):
    api.unpause("post_mortem")
    pm, form = form_of(api, "post_mortem", "release_hotfix")
    # the timeline, read from the run itself: who started it, the switch, what tripped, the rollback
    assert f"run `{pm.conf['run_id']}`" in form.body and "**production: rolled back**" in form.body
    assert "started by " in form.body and "production: switched to the release" in form.body
    assert "production: switched back" in form.body and "skipped" not in form.body
    api.answer(
        "post_mortem",
        pm.dag_run_id,
        "post_mortem",
        "OK",
        inputs={
            "root_cause": "the release read a column the migration had not added yet",
            "actions": "expand/contract migrations; a test against the previous schema",
            "owner": "bob",
        },
    )
    assert api.wait("post_mortem", pm.dag_run_id, timeout=120) == "success"
    assert api.xcom("post_mortem", pm.dag_run_id, "record_post_mortem")["owner"] == "bob"


def test_the_weekly_report_is_written_from_the_run_history(api, airflow_server):
    api.unpause("release_metrics")
    api.wait_for_dag("release_metrics")
    run_id = api.trigger("release_metrics", {"weeks": 1})
    assert api.wait("release_metrics", run_id, timeout=300) == "success", api.task_states("release_metrics", run_id)
    written = api.xcom("release_metrics", run_id, "write_report")
    page = open(written["latest"]).read()  # noqa: PTH123, SIM115
    assert written["path"].startswith(str(airflow_server[1] / "reports" / "release-report-"))
    # the four keys and the targets, from this session's runs
    assert "deployments to production" in page and "Targets" in page
    assert "change failure rate" in page and "lead time for changes (median)" in page
    assert page.count("class='card'") == 5
    # the audit trail: who triggered, who approved, which version replaced which, the outcome
    assert "alice at " in page  # the feature release's approver
    assert "rolled back" in page  # the release whose watch tripped
    assert "v1.1.0" in page and "→ v1.2.0" in page
    # the feature release's checklist: proven by tasks, and by admin on the review form
    assert "approved by alice" in page and "confirmed by admin" in page
    assert "https://wiki.zenamanage.test/releases/v1.1.0" in page
    # each incident with its post-mortem, answered or pending
    assert "<h2>Post-mortems</h2>" in page and "the release read a column the migration had not added yet" in page
    assert written["summary"].startswith("ZenaManage releases: the last 1 week, to ")


def test_the_history_command_lists_every_production_change(api):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")}
    env.update(AIRFLOW_URL=f"http://127.0.0.1:{PORT}", AIRFLOW_USERNAME="admin", AIRFLOW_PASSWORD="admin")
    result = subprocess.run(
        [sys.executable, "-m", "laravel_release", "history", "--environment", "production", "--weeks", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.startswith("production: ") and "newest first" in out
    assert "release feature     v1.0.0 -> v1.1.0  SUCCESS" in out
    assert "approved by alice" in out
    assert "ROLLED_BACK" in out and "reason: ROLLBACK TRIGGER critical security vulnerability" in out
    assert "by admin (manual)" in out
