"""Every DAG imports cleanly, follows house policy, and touches nothing at parse time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from laravel_release import evidence, policy
from laravel_release.dag_factory import MAX_ACTIVE_RUNS

ROOT = Path(__file__).resolve().parents[2]
RELEASE_DAGS = ["release_hotfix", "release_feature", "release_maintenance", "release_major"]
SIGNED_OFF = ["release_feature", "release_maintenance", "release_major"]


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(RELEASE_DAGS) <= set(dagbag.dag_ids)


def test_parsing_uses_no_network_no_database_and_no_config_file():
    """Parse in a fresh interpreter where sockets refuse, the DB does not exist and the config is missing. Every
    task's process parses its DAG file: the HTTP stack, the REST API's client and the web app are imported by
    the tasks that use them, not by the parse."""
    code = textwrap.dedent(
        f"""
        import socket
        def refuse(*a, **k):
            raise AssertionError("network used at parse time")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(ROOT / "dags")!r})
        assert not bag.import_errors, bag.import_errors
        import sys
        heavy = ("requests", "aiohttp", "airflow.providers.http.hooks.http", "airflow_client.client")
        loaded = [m for m in (*heavy, "laravel_release.webapp") if m in sys.modules]
        assert not loaded, ("imported at parse time", loaded)
        print(len(bag.dags))
        """
    )
    env = {
        **os.environ,
        "LARAVEL_RELEASE_CONFIG": "/nonexistent/environments.yaml",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////nonexistent/dir/airflow.db",
    }
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW_CONN_")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip().splitlines()[-1]) >= 4


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_house_policy(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and dag.description
    assert "release" in dag.tags
    assert dag.catchup is False and dag.max_active_runs == MAX_ACTIVE_RUNS
    assert {t.owner for t in dag.tasks} == {"release-engineering"}
    assert "version" in dag.params


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_no_retries_where_a_retry_would_hide_a_fault(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for task in dag.tasks:
        if task.task_id.endswith(("switch_release", "migrate_database", "backup_database")):
            assert task.retries == 0, task.task_id


def test_hotfix_skips_uat_but_verifies_staging(dagbag):
    dag = dagbag.dags["release_hotfix"]
    ids = set(dag.task_ids)
    assert not any(i.startswith("uat.") for i in ids) and "approve_production" not in ids
    # staging verified, then its rollback rehearsed: only then may production begin
    assert "staging.rehearse_rollback" in dag.get_task("wait_for_window").upstream_task_ids
    assert "staging.release_verified" in dag.get_task("staging.rehearse_rollback").upstream_task_ids
    assert "wait_for_window" in dag.get_task("production.claim_environment").upstream_task_ids
    for task_id in ("production.backup_database", "production.migrate_database", "production.switch_release"):
        upstream = dag.get_task(task_id).get_flat_relative_ids(upstream=True)
        assert {"staging.release_verified", "staging.rehearse_rollback"} <= upstream


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_the_build_is_distributed_to_every_stage_at_once(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for stage in ("staging", "production"):
        assert dag.get_task(f"{stage}.upload_release").upstream_task_ids == {"build_release", f"{stage}.plan_hosts"}
        assert f"{stage}.upload_release" in dag.get_task(f"{stage}.prepare_release").upstream_task_ids


@pytest.mark.parametrize("dag_id", SIGNED_OFF)
def test_production_waits_for_uat_signoff(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    signoff = dag.get_task("approve_production")
    assert signoff.upstream_task_ids == {"write_signoff_request"}
    assert {"uat.release_verified", "write_release_notes", "plan_release"} <= dag.task_dict[
        "write_signoff_request"
    ].upstream_task_ids
    assert signoff.response_timeout.total_seconds() == 72 * 3600
    assert dag.get_task("external_signoff").upstream_task_ids == {"plan_release", "write_signoff_request"}
    signed_off = dag.get_task("uat_signed_off")
    assert signed_off.upstream_task_ids == {"approve_production", "external_signoff"}
    assert signed_off.trigger_rule == "none_failed_min_one_success"  # one approval, no rejection
    window = dag.get_task("wait_for_window")
    assert "uat_signed_off" in window.upstream_task_ids
    assert window.trigger_rule == "all_success"  # a UAT that rolled back (skipped) stops production
    assert dag.get_task("production.claim_environment").upstream_task_ids == {"wait_for_window", "plan_release"}
    assert "production.claim_environment" in dag.get_task("production.check_hosts").upstream_task_ids


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_production_waits_for_every_quality_gate_and_the_window(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    gates = {"check_tests", "check_coverage", "scan_release", "check_migrations", "write_changelog"}
    assert gates <= dag.get_task("wait_for_window").upstream_task_ids
    for task_id in ("production.switch_release", "production.migrate_database"):
        assert {"wait_for_window", *gates} <= dag.get_task(task_id).get_flat_relative_ids(upstream=True)


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_no_environment_changes_before_the_tests_and_the_scan_passed(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    first = policy.RELEASE_TYPES[dag_id.removeprefix("release_")].stages[0]
    assert dag.get_task(f"{first}.claim_environment").upstream_task_ids == {
        "check_tests",
        "scan_release",
        "plan_release",
    }
    # the others run beside the first environment
    for gate in ("check_coverage", "check_migrations", "write_changelog"):
        assert not {t for t in dag.get_task(gate).downstream_task_ids if t.startswith(f"{first}.")}


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_each_environment_is_claimed_by_a_setup_and_given_back_by_a_teardown(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for env in policy.RELEASE_TYPES[dag_id.removeprefix("release_")].stages:
        claim, give_back = dag.get_task(f"{env}.claim_environment"), dag.get_task(f"{env}.release_environment")
        assert claim.is_setup and give_back.is_teardown and claim.task_id in give_back.upstream_task_ids
        assert claim.mode == "reschedule"  # waiting for a frozen or locked environment holds no worker slot
        changes = {f"{env}.{t}" for t in ("check_hosts", "backup_database", "migrate_database", "switch_release")}
        assert changes <= set(claim.get_flat_relative_ids(upstream=False))
        assert changes <= set(give_back.get_flat_relative_ids(upstream=True))


def test_a_hotfix_has_no_schedule_and_the_others_open_with_their_window(dagbag):
    assert type(dagbag.dags["release_hotfix"].timetable).__name__ == "NullTimetable"
    for name in ("feature", "maintenance", "major"):
        assert dagbag.dags[f"release_{name}"].timetable.expression == policy.release_type(name).window.cron


@pytest.mark.parametrize("name", ["feature", "maintenance", "major"])
def test_scheduled_runs_fire_at_every_window_opening_of_a_month(dagbag, name):
    """The scheduler's own timetable, asked run by run through December 2026."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    window = policy.release_type(name).window
    timetable = coerce_to_core_timetable(dagbag.dags[f"release_{name}"].timetable)
    start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    fired, last = [], None
    while True:
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=TimeRestriction(earliest=start, latest=None, catchup=True)
        )
        if info is None or info.run_after >= end:
            break
        fired.append(info.run_after)
        last = info.data_interval
    openings = []
    moment = start
    while (moment := window.next_opening(moment)) < end:
        openings.append(moment)
        moment += timedelta(minutes=1)
    assert [f.isoformat() for f in fired] == [o.isoformat() for o in openings]
    assert all(window.is_open(f) and window.opened(f) == f for f in fired)
    assert len(fired) == {"feature": 15, "maintenance": 15, "major": 4}[name]


def test_a_window_that_cannot_parse_fails_the_import_not_a_run(tmp_path):
    (tmp_path / "release_bad.py").write_text(
        "# an Airflow DAG\nfrom laravel_release import policy\n"
        "policy.Window(weekdays=(2, 3, 4), start='2 am', hours=2)\n"
    )
    bag = DagBag(dag_folder=str(tmp_path))
    assert "window start '2 am': use a 24-hour UTC time" in next(iter(bag.import_errors.values()))


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_migrations_wait_for_the_backup_and_the_switch_for_migrations(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for env in ("staging", "production"):
        assert f"{env}.backup_database" in dag.get_task(f"{env}.migrate_database").upstream_task_ids
        # the integrity baseline, measured beside the backup (both only read) before anything changes
        assert f"{env}.measure_before" in dag.get_task(f"{env}.migrate_database").upstream_task_ids
        assert dag.get_task(f"{env}.measure_before").upstream_task_ids == {"plan_release", f"{env}.check_hosts"}
        # the baseline is measured on the migrated database, just before the switch
        assert f"{env}.migrate_database" in dag.get_task(f"{env}.measure_baseline").upstream_task_ids
        assert f"{env}.measure_baseline" in dag.get_task(f"{env}.switch_release").upstream_task_ids
    assert "production.release_verified" in dag.get_task("finish_release").upstream_task_ids


ROLLBACK_GROUP = {
    "decide_rollback",
    "switch_back",  # every host switched back at once, the database step, every host verified: one task
    "record_rollback",
    "escalate",
}


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_every_environment_is_judged_after_the_switch_and_branches_to_its_rollback(dagbag, dag_id):
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dagbag.dags[dag_id]
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    for env in policy.RELEASE_TYPES[dag_id.removeprefix("release_")].stages:
        assert dag.get_task(f"{env}.measure_baseline").downstream_task_ids == {
            f"{env}.switch_release",
            f"{env}.verify_release",
        }
        # hosts are judged when the switch failed on some of them, not when none switched
        switched = dag.get_task(f"{env}.switched")
        assert switched.upstream_task_ids == {f"{env}.switch_release"}
        assert switched.trigger_rule == "all_done_min_one_success"
        assert f"{env}.switch_release" not in dag.get_task(f"{env}.verify_release").upstream_task_ids
        watch = dag.get_task(f"{env}.watch_release")
        assert watch.mode == "reschedule"  # the post-release watch holds no worker slot between checks
        # the watch branches itself (judge.take_one_way): on, or to the rollback; and as a branch, the way not
        # taken stays skipped when someone clears it
        assert watch.downstream_task_ids == {f"{env}.release_verified", f"{env}.rollback.decide_rollback"}
        assert serialized.get_task(f"{env}.watch_release").inherits_from_skipmixin  # what the scheduler reads
        assert {
            t.removeprefix(f"{env}.rollback.") for t in dag.task_ids if t.startswith(f"{env}.rollback.")
        } == ROLLBACK_GROUP | {"choose_rollback", "offer_restore"}
        # nothing is switched before a person chose, when going back by code alone is not safe: the switch
        # waits for the gate, or follows the decision at once when decide_rollback skipped the gate
        choose = dag.get_task(f"{env}.rollback.choose_rollback")
        assert choose.upstream_task_ids == {f"{env}.rollback.decide_rollback"} and choose.retries == 0
        decided_or_chosen = {f"{env}.rollback.decide_rollback", f"{env}.rollback.choose_rollback"}
        switch = dag.get_task(f"{env}.rollback.switch_back")
        assert switch.upstream_task_ids == decided_or_chosen
        assert switch.trigger_rule == "none_failed_min_one_success" and switch.retries == 0
        # a release's own rollback never restores unasked: it offers a restore, in a rollback run of its own
        offer = dag.get_task(f"{env}.rollback.offer_restore")
        assert offer.upstream_task_ids == decided_or_chosen and offer.trigger_dag_id == "rollback"
        assert offer.trigger_rule == "none_failed_min_one_success"
        # the lock is given back after either branch
        assert {f"{env}.cleanup_releases", f"{env}.rollback.record_rollback"} <= dag.get_task(
            f"{env}.release_environment"
        ).upstream_task_ids
        # an unresolved incident escalates once the rollback has ended, whatever its outcome
        escalate = dag.get_task(f"{env}.rollback.escalate")
        assert escalate.upstream_task_ids == {f"{env}.rollback.record_rollback"}
        assert escalate.is_teardown  # the run's state stays the rollback's: a rolled-back release fails


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_each_stage_announces_its_start_and_its_outcome_and_production_its_window(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for env in policy.RELEASE_TYPES[dag_id.removeprefix("release_")].stages:
        assert dag.get_task(f"{env}.announce_started").upstream_task_ids == {f"{env}.claim_environment", "plan_release"}
        finished = dag.get_task(f"{env}.announce_finished")
        assert finished.upstream_task_ids == {
            f"{env}.cleanup_releases",
            f"{env}.rollback.record_rollback",
            f"{env}.claim_environment",  # its setup: nothing is announced for a stage that never began
            "plan_release",
        }
        assert finished.is_teardown and finished.trigger_rule == "all_done_setup_success"
        # an announcement never holds anything up
        assert not dag.get_task(f"{env}.announce_started").downstream_task_ids
        assert not finished.downstream_task_ids
    announce = dag.get_task("announce_release")
    assert announce.upstream_task_ids - {"plan_release"} == dag.get_task("wait_for_window").upstream_task_ids
    assert not announce.downstream_task_ids


def test_the_rollback_dag_is_the_same_task_group_inside_its_own_lock(dagbag):
    dag = dagbag.dags["rollback"]
    assert {t.removeprefix("rollback.") for t in dag.task_ids if t.startswith("rollback.")} == ROLLBACK_GROUP | {
        "approve_restore",
        "choose_rollback",
        "offer_restore",
    }
    # a restore waits for a person, and so does an alert's rollback that is not safe: before the first change
    assert dag.get_task("rollback.approve_restore").upstream_task_ids == {"rollback.decide_rollback"}
    assert dag.get_task("rollback.choose_rollback").upstream_task_ids == {"rollback.approve_restore"}
    decided_or_chosen = {"rollback.decide_rollback", "rollback.choose_rollback"}
    assert dag.get_task("rollback.switch_back").upstream_task_ids == decided_or_chosen
    assert dag.get_task("rollback.offer_restore").upstream_task_ids == decided_or_chosen
    claim, give_back = dag.get_task("claim_environment"), dag.get_task("release_environment")
    assert claim.is_setup and give_back.is_teardown
    assert "claim_environment" in dag.get_task("rollback.decide_rollback").upstream_task_ids
    assert dag.get_task("rollback.switch_back").retries == 0
    assert set(dag.params) == {
        "environment",
        "from",
        "target",
        "mode",
        "reason",
        "trigger",
        "skip_unreachable",
        "take_over_lock",
    }
    assert dag.params["mode"] == "code"


def test_an_alert_is_judged_then_starts_a_rollback_run_and_the_audit_raises_alerts(dagbag):
    alert = dagbag.dags["rollback_on_alert"]
    assert alert.get_task("start_rollback").upstream_task_ids == {"judge_alert"}
    assert alert.get_task("start_rollback").trigger_dag_id == "rollback"
    audit = dagbag.dags["security_audit"]
    assert audit.timetable.expression == policy.SECURITY_AUDIT_CRON
    for env in ("staging", "uat", "production"):
        raised = audit.get_task(f"{env}.raise_security_trigger")
        assert raised.upstream_task_ids == {f"{env}.audit_dependencies"}
        assert raised.trigger_dag_id == "rollback_on_alert"


def test_the_cockpit_s_snapshot_runs_alone_every_five_minutes_and_is_not_retried(dagbag):
    snap = dagbag.dags["release_cockpit"]
    assert snap.timetable.expression == "*/5 * * * *" and snap.max_active_runs == 1
    assert snap.task_ids == ["take_snapshot"] and snap.get_task("take_snapshot").retries == 0


def test_the_weekly_report_and_the_review_form(dagbag):
    metrics = dagbag.dags["release_metrics"]
    assert metrics.timetable.expression == "0 6 * * 1"  # Monday 06:00 UTC
    assert metrics.catchup is False and metrics.params["weeks"] == 12
    assert metrics.get_task("post_summary").upstream_task_ids == {"write_report"}
    review = dagbag.dags["release_review"]
    form = review.get_task("post_release_review")
    assert set(form.params) == set(evidence.REVIEW_FIELDS.values())
    assert form.upstream_task_ids == {"check_release"}  # only a release that went live is reviewed
    assert review.params.get_param("dag_id").schema["enum"] == list(RELEASE_DAGS)
    assert review.get_task("record_checklist").upstream_task_ids == {"post_release_review"}
    for dag_id in RELEASE_DAGS:  # every successful release opens its review, without waiting for it
        request = dagbag.dags[dag_id].get_task("request_review")
        assert request.upstream_task_ids == {"finish_release"}
        assert request.trigger_dag_id == "release_review" and request.wait_for_completion is False


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_every_release_type_rehearses_its_rollback_on_staging_before_going_further(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    rehearsal = dag.get_task("staging.rehearse_rollback")
    assert "staging.cleanup_releases" in rehearsal.downstream_task_ids  # the lock is held while it runs
    following = "uat.claim_environment" if "uat.claim_environment" in dag.task_ids else "wait_for_window"
    assert "staging.rehearse_rollback" in dag.get_task(following).get_flat_relative_ids(upstream=True)


@pytest.mark.parametrize("dag_id", RELEASE_DAGS)
def test_release_notes_are_published_once_production_is_verified(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    publish = dag.get_task("publish_release_notes")
    assert publish.upstream_task_ids == {"finish_release", "plan_release", "write_release_notes", "write_changelog"}
    assert not publish.downstream_task_ids  # nothing waits for it: the release is live


@pytest.mark.parametrize("dag_id", [*RELEASE_DAGS, "rollback"])
def test_an_incident_ends_with_a_post_mortem_that_never_changes_the_run_s_state(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    task = dag.get_task("production.request_post_mortem" if dag_id != "rollback" else "request_post_mortem")
    assert task.is_teardown and task.trigger_dag_id == "post_mortem" and not task.downstream_task_ids
    ended = (
        {"production.cleanup_releases", "production.rollback.record_rollback"}
        if dag_id != "rollback"
        else {"rollback.record_rollback"}
    )
    assert ended <= task.upstream_task_ids


def test_the_post_mortem_dag_shows_the_timeline_then_asks(dagbag):
    dag = dagbag.dags["post_mortem"]
    assert dag.get_task("post_mortem").upstream_task_ids == {"write_timeline"}
    assert dag.get_task("record_post_mortem").upstream_task_ids == {"post_mortem"}
    assert set(dag.get_task("post_mortem").params) == {"root_cause", "actions", "owner"}


def test_the_stakeholders_hear_daily_weekly_and_monthly(dagbag):
    crons = {d: dagbag.dags[d].timetable.expression for d in ("release_daily", "release_metrics", "release_monthly")}
    assert crons == {"release_daily": "0 8 * * *", "release_metrics": "0 6 * * 1", "release_monthly": "0 6 1 * *"}
    assert dagbag.dags["release_monthly"].params["weeks"] == 4
    assert dagbag.dags["release_daily"].task_ids == ["post_progress"]
