"""The rollback's decisions that need no host: the target, the request, the plan of each host."""

from __future__ import annotations

import pytest

from laravel_release import config, plan
from laravel_release.steps.rollback import (
    RollbackRefused,
    automatic_request,
    confirmation,
    resolve_target,
    rollback_request,
)


def status(current="r3", previous_good="r2", bad=("r4",)):
    releases = [
        {"release": r, "version": v, "live": r == current, "bad": r in bad}
        for r, v in (("r4", "v1.3.0"), ("r3", "v1.2.0"), ("r2", "v1.1.0"), ("r1", "v1.0.0"))
    ]
    return {"current": current, "version": "v1.2.0", "previous_good": previous_good, "releases": releases}


def test_the_default_target_is_the_previous_good_release():
    assert resolve_target(None, status())["release"] == "r2"


@pytest.mark.parametrize(("wanted", "release"), [("r1", "r1"), ("v1.0.0", "r1"), ("v1.1.0", "r2")])
def test_a_target_is_a_kept_release_or_its_version(wanted, release):
    assert resolve_target(wanted, status())["release"] == release


@pytest.mark.parametrize(
    ("wanted", "words"),
    [
        ("r4", "'r4' was rolled back from before (marked bad)"),
        ("v1.3.0", "was rolled back from before"),
        ("r3", "'r3' is the release live now"),
        ("v9.9.9", "'v9.9.9' is not a kept release; kept releases: r4 (v1.3.0, bad), r2 (v1.1.0), r1 (v1.0.0)"),
    ],
)
def test_a_wrong_target_is_refused_with_the_kept_releases(wanted, words):
    with pytest.raises(RollbackRefused, match="Nothing was changed") as err:
        resolve_target(wanted, status())
    assert words in str(err.value)


def test_without_a_previous_good_release_the_operator_must_name_one():
    with pytest.raises(RollbackRefused, match="no previous good release"):
        resolve_target(None, status(previous_good=""))


def test_an_automatic_rollback_is_always_code_only():
    plan_ = {"release": "v1.3.0-x"}
    verdict = {"environment": "production", "trigger": "error_rate", "text": "ROLLBACK TRIGGER error rate\nmore"}
    assert automatic_request(plan_, verdict) == {
        "environment": "production",
        "target": None,
        "bad_release": "v1.3.0-x",
        "mode": "code",
        "reason": "ROLLBACK TRIGGER error rate",
        "trigger_text": "ROLLBACK TRIGGER error rate\nmore",  # every trigger that tripped, for the incident
        "trigger": "error_rate",
    }
    # data loss too: a restore drops every row written since the backup, so it is always a person's decision
    assert automatic_request(plan_, {**verdict, "trigger": "data"})["mode"] == "code"
    assert automatic_request(plan_, {**verdict, "trigger": "database"})["mode"] == "code"


def test_the_rollback_dag_request_keeps_what_was_asked():
    asked = {
        "environment": "uat",
        "from": "r3",
        "target": "",
        "mode": "restore",
        "reason": "INC-7 on uat",
    }
    assert rollback_request(asked) == {
        "environment": "uat",
        "bad_release": "r3",  # a run whose 'from' is no longer live refuses
        "target": None,
        "mode": "restore",
        "reason": "INC-7 on uat",
        "trigger": "",
    }
    assert rollback_request({**asked, "from": None})["bad_release"] is None  # filled in from what is live


def test_a_restore_confirmation_names_the_environment_and_the_release():
    assert confirmation("production", "v1.3.0-x") == "restore production v1.3.0-x"


def test_a_restore_after_the_code_went_back_is_recognised_only_as_offered():
    from laravel_release.steps.rollback import code_rolled_back

    # r4 was rolled back from (marked bad), r3 is live: a restore "from r4 to r3" restores the database only
    offered = {"bad_release": "r4", "target": "r3", "mode": "restore"}
    assert code_rolled_back(offered, status())
    assert code_rolled_back({**offered, "target": "v1.2.0"}, status())  # the live release's version too
    assert not code_rolled_back({**offered, "target": None}, status())  # a plain retry: refused as before
    assert not code_rolled_back({**offered, "target": "r2"}, status())  # another switch: not this
    assert not code_rolled_back({**offered, "bad_release": "r2"}, status())  # r2 is not marked bad


def test_a_backup_restored_once_is_not_restored_again(monkeypatch):
    from laravel_release.steps import rollback

    log = '{"time": "t1", "restored": "r4", "database": "d", "safety_dump": "before-restore-1", "user": "deploy"}\n{"tr'
    monkeypatch.setattr(rollback.remote, "read_file", lambda conn, host, path: log)
    assert rollback.restored_before(HOST, "r4") == "at t1 by deploy, safety dump before-restore-1"
    assert rollback.restored_before(HOST, "r3") == ""


def test_the_restore_form_shows_the_rows_it_loses_and_what_to_type():
    from laravel_release.steps.rollback import restore_form

    decision = {
        "environment": "production",
        "from": "r4",
        "version": "v1.2.0",
        "reason": "INC-9: totals wrong",
        "rows_since_backup": 7,
        "rows_per_table": {"projects": 5, "users": 2, "tasks": 0},
        "backup_taken": "2026-12-03T02:00:00",
        "summary": ["ROLLBACK of production: r4 -> r3 (v1.2.0), mode restore"],
    }
    form = restore_form(decision)
    assert "- `projects`: 5\n- `users`: 2" in form and "`tasks`" not in form
    assert "(7 in all)" in form and "taken **2026-12-03T02:00:00 UTC**" in form
    assert "type `restore production r4`" in form and "safety dump" in form and "503" in form
    unknown = restore_form({**decision, "rows_since_backup": None, "rows_per_table": {}})
    assert "**not known**" in unknown


def test_each_host_switches_back_and_only_the_primary_touches_the_database():
    cfg = config.load(config.DEFAULT_CONFIG)
    env = cfg.environment("production")
    db = plan.database_rollback_command(env, "migrations", "v1.3.0-x")
    assert db.endswith(
        "migrate.sh --deploy-path /var/tmp/zena-sandbox/hosts/production-1/app --release v1.3.0-x --rollback"
    )
    targets = [
        plan.rollback_target(env, h, "r2", "v1.1.0", "run 1", "INC-42; rm -rf /", db if h == env.primary else "")
        for h in env.hosts
    ]
    assert [t["commands"]["database"] for t in targets] == [db, "true"]
    switch = targets[1]["commands"]["rollback"]
    assert "rollback.sh --deploy-path /var/tmp/zena-sandbox/hosts/production-2/app --to r2" in switch
    assert "--reason 'INC-42; rm -rf /'" in switch  # every value quoted
    assert "artisan.sh view:clear cache:clear queue:restart" in switch and "--release r2" in switch
    assert targets[0]["verify"]["version"] == "v1.1.0"
    assert plan.database_rollback_command(env, "code", "x") == ""
    assert "restore.sh" in plan.database_rollback_command(env, "restore", "x", backup="x")


HOST = config.Host(name="vm", ssh_conn_id="c", deploy_path="/srv/app", base_url="http://vm")
BACKUP = {"taken": "2026-11-26 02:00:00", "tables": {"projects": 3, "migrations": 2}}


def test_rows_since_backup_are_added_or_written_rows_and_unknown_when_the_database_is_down(monkeypatch):
    from laravel_release.steps import rollback

    measured = {"database": "ok", "tables": {"projects": 5}, "written_since": {"projects": 4}}
    monkeypatch.setattr(rollback, "measure_database", lambda target: measured)
    assert rollback.rows_since_backup(HOST, BACKUP) == (4, {"projects": 4})
    measured.update(database="unreachable", tables={"projects": None}, written_since={})
    assert rollback.rows_since_backup(HOST, BACKUP) == (None, {})  # not known is not zero, nor all


def test_a_truncated_line_of_migrations_log_does_not_block_the_rollback(monkeypatch):
    from laravel_release.steps import rollback

    lines = [
        '{"time": "t", "release": "r2", "migrated": ["2025_02_01_000000_add_status"]}',
        '{"time": "t", "release": "r3", "migr',
    ]
    files = {
        "/srv/app/.deploy/migrations.log": "\n".join(lines),
        "/srv/app/releases/r2/database/migrations/"
        "2025_02_01_000000_add_status.php": "Schema::table('p', fn ($t) => $t->string('status'));",
    }
    monkeypatch.setattr(rollback.remote, "read_file", lambda conn, host, path: files.get(path))
    assert [m.name for m in rollback.migrations_of(HOST, "r2")] == ["2025_02_01_000000_add_status"]
    assert rollback.migrations_of(HOST, "r3") == []


def test_an_unreachable_host_is_skipped_only_when_asked_and_never_the_first(monkeypatch):
    from laravel_release import remote
    from laravel_release.steps import rollback

    env = config.load(config.DEFAULT_CONFIG).environment("production")
    down: set[str] = {"production-2"}

    def install(conn, host, tools):
        if host in down:
            raise remote.RemoteError(f"{host}: cannot connect over SSH")
        return ["lib.sh"]

    monkeypatch.setattr(rollback.remote, "install_tools", install)
    with pytest.raises(remote.RemoteError, match="trigger again with skip_unreachable"):
        rollback.reachable_or_skipped(env, skip_unreachable=False)
    assert rollback.reachable_or_skipped(env, skip_unreachable=True) == ["production-2"]
    down = {"production-1"}
    with pytest.raises(remote.RemoteError, match="The first host keeps the environment's lock"):
        rollback.reachable_or_skipped(env, skip_unreachable=True)


def test_only_a_rollback_asked_to_takes_over_a_release_s_lock():
    from laravel_release import gates, policy

    hotfix = policy.RELEASE_TYPES["hotfix"]
    assert gates.may_take_over(policy.ROLLBACK, {"take_over_lock": True}, "release_hotfix/manual__1")
    assert not gates.may_take_over(policy.ROLLBACK, {"take_over_lock": False}, "release_hotfix/manual__1")
    assert not gates.may_take_over(policy.ROLLBACK, {"take_over_lock": True}, "rollback/manual__2")
    assert not gates.may_take_over(hotfix, {"take_over_lock": True}, "release_feature/manual__3")


def unsafe_decided(backup_taken="2026-12-03T02:00:00"):
    """decide_rollback's targets for production when the release dropped a column."""
    cfg = config.load(config.DEFAULT_CONFIG)
    env = cfg.environment("production")
    decision = {
        "environment": "production",
        "from": "r4",
        "to": "r3",
        "version": "v1.2.0",
        "mode": "code",
        "reason": "ROLLBACK TRIGGER error rate",
        "code_only_safe": False,
        "automatic": True,
        "rows_since_backup": 3,
        "rows_per_table": {"projects": 3},
        "backup_taken": backup_taken,
        "summary": ["migrations r4 ran: 2026_drop_status: destructive (drops a column or table)"],
    }
    targets = [plan.rollback_target(env, h, "r3", "v1.2.0", "run 1", "INC-7") for h in env.hosts]
    return [{**t, "decision": decision} for t in targets]


def choose(monkeypatch, decided, option, **inputs):
    """The unsafe rollback's Required Action answered with ``option`` (or unanswered, ``option`` None)."""
    from datetime import UTC, datetime

    from laravel_release.steps import rollback

    monkeypatch.setattr(rollback, "decided_by", lambda gate, context: decided)
    gate = rollback.UnsafeRollbackGate(task_id="choose_rollback")
    if option is None:
        event = {"chosen_options": [rollback.FIX_FORWARD], "params_input": {}, "timedout": True}
    else:
        event = {
            "chosen_options": [option],
            "params_input": {"confirm": None, "comment": None, **inputs},
            "responded_by_user": {"id": "1", "name": "alice"},
        }
    event["responded_at"] = datetime.now(UTC)
    event.setdefault("responded_by_user", {"id": "", "name": ""})
    return gate.execute_complete({}, event)


def test_an_unsafe_rollback_undoes_the_migrations_only_when_a_person_chooses_it(monkeypatch):
    from laravel_release.steps.rollback import UNDO_MIGRATIONS

    chosen = choose(monkeypatch, unsafe_decided(), UNDO_MIGRATIONS, comment="INC-7: the column is empty anyway")
    primary, other = chosen
    assert (
        primary["commands"]["database"].endswith("--release r4 --rollback") and other["commands"]["database"] == "true"
    )
    assert primary["decision"]["mode"] == "migrations" == other["decision"]["mode"]
    assert primary["decision"]["chosen"] == "chosen by alice: INC-7: the column is empty anyway"
    assert primary["commands"]["rollback"] == unsafe_decided()[0]["commands"]["rollback"]


def test_an_unsafe_rollback_restores_only_with_the_typed_confirmation(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from laravel_release.steps.rollback import RESTORE_BACKUP

    chosen = choose(monkeypatch, unsafe_decided(), RESTORE_BACKUP, confirm="restore production r4")
    assert "restore.sh" in chosen[0]["commands"]["database"] and chosen[0]["decision"]["mode"] == "restore"
    with pytest.raises(AirflowFailException) as refused:
        choose(monkeypatch, unsafe_decided(), RESTORE_BACKUP, confirm="restore production")
    said = str(refused.value)
    assert "the confirmation typed was 'restore production', not 'restore production r4'" in said
    assert "Nothing was switched: production stays on r4, frozen (only a hotfix passes)" in said


def test_fix_forward_or_no_answer_switches_nothing_and_keeps_the_freeze(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from laravel_release.steps.rollback import FIX_FORWARD

    with pytest.raises(AirflowFailException, match=r"Fix forward \(chosen by alice\)\. Nothing was switched"):
        choose(monkeypatch, unsafe_decided(), FIX_FORWARD)
    with pytest.raises(AirflowFailException, match=r"Fix forward \(no answer within 4 h\)"):
        choose(monkeypatch, unsafe_decided(), None)


def test_the_unsafe_rollback_form_shows_the_facts_and_each_choice():
    from laravel_release.steps.rollback import unsafe_rollback_form

    form = unsafe_rollback_form(unsafe_decided()[0]["decision"])
    assert "Nothing has been switched; production is frozen" in form
    assert "drops a column or table" in form  # the decision inputs
    assert "Type `restore production r4` in Confirmation" in form and "(3 counted" in form
    assert "No answer within 4 h counts as Fix forward" in form
    assert "not possible, no backup was taken before r4" in unsafe_rollback_form(
        unsafe_decided(backup_taken=None)[0]["decision"]
    )


@pytest.mark.parametrize(
    ("change", "asks"),
    [
        ({}, True),  # a trigger's rollback (a release's own, or an alert's) that is not safe
        ({"code_only_safe": True}, False),
        ({"automatic": False}, False),  # a person asked for mode code: done as asked
        ({"mode": "migrations"}, False),
        ({"mode": "restore"}, False),  # its own Required Action: approve_restore
    ],
)
def test_choose_rollback_asks_only_when_nobody_chose_a_rollback_that_is_not_safe(monkeypatch, change, asks):
    from airflow.providers.standard.operators.hitl import HITLOperator

    from laravel_release.steps import rollback

    decided = unsafe_decided()
    decided = [{**t, "decision": {**t["decision"], **change}} for t in decided]
    monkeypatch.setattr(rollback, "decided_by", lambda gate, context: decided)
    asked = []
    monkeypatch.setattr(HITLOperator, "execute", lambda self, context: asked.append(self.subject))
    result = rollback.UnsafeRollbackGate(task_id="choose_rollback").execute({})
    assert bool(asked) == asks
    if asks:
        assert asked == ["production: r4 cannot go back by code alone. How should it roll back?"]
    else:
        assert result == decided


@pytest.mark.parametrize(
    "change",
    [
        {},  # a trigger's code rollback that is not safe: choose_rollback asks
        {"code_only_safe": True},
        {"automatic": False},
        {"mode": "migrations"},
        {"mode": "restore"},  # approve_restore asks
        {"mode": "restore", "automatic": False, "code_only_safe": True},
    ],
)
def test_the_gates_are_skipped_exactly_when_neither_would_ask(monkeypatch, change):
    # decide_rollback skips both gates when waits_for says nobody is needed: it must agree with the gates
    from airflow.providers.standard.operators.hitl import HITLOperator

    from laravel_release.steps import rollback

    decided = [{**t, "decision": {**t["decision"], **change}} for t in unsafe_decided()]
    monkeypatch.setattr(rollback, "decided_by", lambda gate, context: decided)
    asked = []
    monkeypatch.setattr(HITLOperator, "execute", lambda self, context: asked.append(self.subject))
    rollback.UnsafeRollbackGate(task_id="choose_rollback").execute({})
    rollback.RestoreGate(task_id="approve_restore").execute({})
    assert bool(asked) == bool(rollback.waits_for(decided[0]["decision"]))
