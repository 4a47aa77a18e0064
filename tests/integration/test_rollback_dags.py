"""Rollbacks and faults on the sandbox: by hand (the rollback DAG's three modes), automatic (a trigger
trips), a failed backup, an upload cut midway and php-fpm down on one production host.

The tests of this module run in order on one sandbox, reset by the first test, as
successive incidents would: each starts from what the previous one left live.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import (
    ROOT,
    STAKEHOLDERS,
    Answer,
    app_dir,
    live_on,
    releases_live,
    served_version,
    sql,
)

pytestmark = pytest.mark.integration

PRODUCTION = ("production-1", "production-2")


def as_deploy_user(sandbox, verb: str, *args: str, host: str = "production-1") -> subprocess.CompletedProcess:
    """A verb script run on a host by its deploy user, as an operator would over SSH."""
    app = app_dir(sandbox, host)
    return subprocess.run(
        ["runuser", "-u", "deploy", "--", str(app / ".deploy/bin" / f"{verb}.sh"), "--deploy-path", str(app), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def projects(sandbox) -> int:
    return int(sql(sandbox, "SELECT COUNT(*) FROM zena_production.projects"))


def write_a_project(sandbox, name: str) -> None:
    sql(sandbox, f"INSERT INTO zena_production.projects (name, created_at, updated_at) VALUES ('{name}', NOW(), NOW())")


def has_status_column(sandbox) -> bool:
    return sql(sandbox, "SHOW COLUMNS FROM zena_production.projects LIKE 'status'").startswith("status")


def bad_releases(sandbox, host: str = "production-1") -> list[str]:
    path = app_dir(sandbox, host) / ".deploy/bad-releases"
    return path.read_text().split() if path.exists() else []


def rollback(run_dag, **conf):
    return run_dag("rollback", {"environment": "production", "reason": "incident INC-42 on production", **conf})


def assert_untouched(sandbox, before: dict[str, str]) -> None:
    assert {h: live_on(sandbox, h) for h in PRODUCTION} == before
    assert not (app_dir(sandbox) / ".deploy/freeze").exists()
    assert not (app_dir(sandbox) / ".deploy/lock").exists()


def test_v1_0_0_then_v1_1_0_go_live(sandbox, run_dag):
    releases_live(run_dag, ("v1.0.0",), "the releases that rollbacks go back to")
    run = run_dag("release_hotfix", {"version": "v1.1.0", "reason": "the releases that rollbacks go back to"})
    assert run.state == "success", run.failed_tasks()
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.1.0" for h in PRODUCTION}
    assert has_status_column(sandbox) and projects(sandbox) == 3
    assert "migrations: 2025_02_01_000000_add_status_to_projects_table: additive" in run.log


def test_a_restore_waits_for_an_approver_and_a_rejection_changes_nothing(sandbox, run_dag):
    before = {h: live_on(sandbox, h) for h in PRODUCTION}
    write_a_project(sandbox, "Written after v1.1.0")
    answer = Answer("rollback.approve_restore", "Reject", by="admin", comment="the rows are fine")
    answer.start()
    run = rollback(run_dag, mode="restore")
    answer.join()
    assert run.state == "failed" and run.failed_tasks() == ["rollback.approve_restore"]
    assert "restore of production: rejected by admin: the rows are fine. Nothing was restored" in run.log
    # the form went to production's approvers, with the rows the restore would lose and the words to type
    assert answer.asked["assigned"] == [{"id": "admin", "name": "admin"}]
    assert "- `projects`: 1\n" in answer.asked["body"] and "(1 in all)" in answer.asked["body"]
    assert f"type `restore production {before['production-1']}` in Confirmation" in answer.asked["body"]
    assert_untouched(sandbox, before)  # the freeze the run set is lifted, the lock given back
    assert projects(sandbox) == 4


def test_a_target_that_is_not_kept_is_refused_with_the_kept_releases(sandbox, run_dag):
    before = {h: live_on(sandbox, h) for h in PRODUCTION}
    run = rollback(run_dag, target="v0.9.0")
    assert run.state == "failed" and run.failed_tasks() == ["rollback.decide_rollback"]
    assert "target 'v0.9.0' is not a kept release; kept releases: v1.0.0-" in run.log
    assert_untouched(sandbox, before)


def test_mode_migrations_switches_back_then_undoes_the_migrations_and_keeps_new_rows(sandbox, run_dag):
    bad = live_on(sandbox, "production-1")
    run = rollback(run_dag, mode="migrations")
    assert run.state == "success", run.failed_tasks()
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.0.0" for h in PRODUCTION}
    assert not has_status_column(sandbox)
    assert projects(sandbox) == 4  # the row written after the release is still there
    assert sql(sandbox, "SELECT COUNT(*) FROM zena_production.migrations") == "1"
    assert "a code-only rollback is SAFE (its migrations only add)" in run.log
    assert "ROLLED BACK production from " + bad in run.log
    for host in PRODUCTION:
        assert bad_releases(sandbox, host) == [bad]
    assert not (app_dir(sandbox) / ".deploy/freeze").exists()  # set during the rollback, lifted after
    assert '"reason": "rollback of ' + bad in (app_dir(sandbox) / ".deploy/freeze.log").read_text()
    assert run.tasks["request_post_mortem"] == "success"  # every rollback has its post-mortem

    # the same rollback again (a retry, a double submission): refused, nothing changed, no migration undone
    before = {h: live_on(sandbox, h) for h in PRODUCTION}
    again = rollback(run_dag, mode="migrations", **{"from": bad})
    assert again.state == "failed" and again.failed_tasks() == ["rollback.decide_rollback"]
    assert f"production-1 does not serve {bad}, the release this rollback is from" in again.log
    assert again.tasks["request_post_mortem"] == "skipped"  # refused: no incident of its own
    assert_untouched(sandbox, before)
    assert sql(sandbox, "SELECT COUNT(*) FROM zena_production.migrations") == "1"


def test_a_release_rolled_back_from_is_never_a_target_again(sandbox, run_dag):
    before = {h: live_on(sandbox, h) for h in PRODUCTION}
    run = rollback(run_dag, target="v1.1.0")
    assert run.state == "failed"
    assert "target 'v1.1.0' was rolled back from before (marked bad)" in run.log
    assert_untouched(sandbox, before)


DROP_LEGACY = """<?php

use Illuminate\\Database\\Migrations\\Migration;
use Illuminate\\Database\\Schema\\Blueprint;
use Illuminate\\Support\\Facades\\Schema;

class DropLegacyImportsTable extends Migration
{
    public function up()
    {
        Schema::dropIfExists('legacy_imports');
    }

    public function down()
    {
        Schema::create('legacy_imports', function (Blueprint $table) {
            $table->id();
            $table->string('file');
        });
    }
}
"""


@contextlib.contextmanager
def tagged(sandbox, tag: str, base: str, files: dict[str, str]):
    """A tag of the sandbox's repository for one test: ``base`` with ``files`` laid over it."""
    repo = sandbox / "repo/zenamanage.git"
    owner = pwd.getpwuid(repo.stat().st_uid).pw_name  # git refuses a repository another user owns
    work = Path(f"/tmp/tag-{uuid.uuid4().hex}")

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(
            ["runuser", "-u", owner, "--", "git", "-c", "user.name=ZenaManage", "-c", "user.email=dev@zm.test", *args],
            cwd=cwd,
            check=True,
            capture_output=True,
        )

    git("clone", "-q", str(repo), str(work), cwd=Path("/tmp"))
    git("checkout", "-q", base)
    for name, text in {**files, "VERSION": tag + "\n"}.items():
        (work / name).write_text(text)
        shutil.chown(work / name, owner, owner)
    git("add", "-A")
    git("commit", "-q", "-m", f"ZenaManage {tag}")
    git("tag", "-a", tag, "-m", f"ZenaManage {tag}")
    git("push", "-q", "origin", tag)
    try:
        yield tag
    finally:
        git("push", "-q", "origin", "--delete", tag)
        subprocess.run(["rm", "-rf", str(work)], check=True)


def test_an_automatic_rollback_that_is_not_safe_switches_nothing_until_a_person_chooses(sandbox, run_dag):
    before = {h: live_on(sandbox, h) for h in PRODUCTION}
    rows, column = projects(sandbox), has_status_column(sandbox)
    for db in ("zena_staging", "zena_production"):
        sql(sandbox, f"CREATE TABLE IF NOT EXISTS {db}.legacy_imports (id INT PRIMARY KEY, file VARCHAR(80))")
    migration = "database/migrations/2026_12_01_000000_drop_legacy_imports_table.php"
    answer = Answer(
        "production.rollback.choose_rollback",
        "Undo its migrations",
        look=lambda: {h: live_on(sandbox, h) for h in PRODUCTION},
        confirm="",
        comment="INC-51: nothing reads that table",
    )
    raised = as_deploy_user(sandbox, "alarm", "--raise", "--reason", "CVE-2026-5151 in the importer", "--by", "scanner")
    assert raised.returncode == 0, raised.stderr
    try:
        with tagged(sandbox, "v1.2.1", "v1.2.0", {migration: DROP_LEGACY}):
            answer.start()
            run = run_dag(
                "release_hotfix",
                {"version": "v1.2.1", "reason": "drop the importer", "destructive_migrations": "unused since v1.0"},
            )
            answer.join()
    finally:
        as_deploy_user(sandbox, "alarm", "--clear", "--by", "scanner")
    # the release went live and tripped; nothing was switched back while the person was asked
    assert set(answer.seen.values()) != set(before.values()) and len(set(answer.seen.values())) == 1
    assert "cannot go back by code alone" in answer.asked["subject"]
    assert answer.asked["assigned"] == [{"id": "admin", "name": "admin"}]
    body = answer.asked["body"]
    assert "2026_12_01_000000_drop_legacy_imports_table: destructive (drops a table)" in body
    assert "Nothing has been switched; production is frozen" in body and "**Fix forward**" in body
    assert "a code-only rollback is NOT SAFE (1 destructive migration(s))" in run.log
    # then what the person chose: back by code, and the release's migrations undone
    assert run.state == "failed" and run.failed_tasks() == ["production.rollback.record_rollback"]
    assert "ROLLBACK of production by migrations: chosen by admin: INC-51: nothing reads that table" in run.log
    assert {h: live_on(sandbox, h) for h in PRODUCTION} == before
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.0.0" for h in PRODUCTION}
    assert sql(sandbox, "SHOW TABLES FROM zena_production LIKE 'legacy_imports'") == "legacy_imports"
    assert (projects(sandbox), has_status_column(sandbox)) == (rows, column)
    assert run.tasks["production.rollback.offer_restore"] == "skipped"  # a security trigger: no restore offered
    assert not (app_dir(sandbox) / ".deploy/freeze").exists() and not (app_dir(sandbox) / ".deploy/lock").exists()


def test_a_security_alarm_rolls_a_release_back_automatically(sandbox, run_dag, inbox):
    inbox.clear()
    raised = as_deploy_user(
        sandbox, "alarm", "--raise", "--reason", "CVE-2026-1234 in the new upload handler", "--by", "scanner"
    )
    assert raised.returncode == 0, raised.stderr
    # an operator's freeze (a hotfix passes it with its reason): the rollback keeps it and leaves it in place
    as_deploy_user(sandbox, "freeze", "--set", "--reason", "INC-9 payments: feature releases wait", "--by", "alice")
    try:
        run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "ship the welcome page now"})
        freeze = json.loads((app_dir(sandbox) / ".deploy/freeze").read_text())
    finally:
        as_deploy_user(sandbox, "alarm", "--clear", "--by", "scanner")
        as_deploy_user(sandbox, "freeze", "--clear", "--by", "alice")
    assert freeze["by"] == "alice" and freeze["reason"] == "INC-9 payments: feature releases wait"
    assert "is frozen already by alice (INC-9 payments: feature releases wait): that freeze is kept" in run.log
    assert run.state == "failed"
    assert run.failed_tasks() == ["production.rollback.record_rollback"]
    assert run.tasks["staging.release_verified"] == "success"  # staging has no alarm
    assert "ROLLBACK TRIGGER critical security vulnerability: 1 (limit 0)" in run.log
    assert "CVE-2026-1234" in run.log
    assert "production: the release was rolled back to v1.0.0" in run.log
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.0.0" for h in PRODUCTION}
    assert not (app_dir(sandbox) / ".deploy/lock").exists()
    # the incident, with its numbers, to Slack, e-mail (stakeholders and the first level) and the status page
    incident = next(m["text"] for m in inbox.slack if m["text"].startswith("*INCIDENT"))
    assert incident.startswith("*INCIDENT ZenaManage production: rolling back to v1.0.0*")
    assert "• What tripped: ROLLBACK TRIGGER critical security vulnerability: 1 (limit 0)" in incident
    assert "mode code" in incident and "/dags/release_hotfix/runs/" in incident
    mails = {m["subject"]: m for m in inbox.mail}
    assert mails["INCIDENT ZenaManage production: rolling back to v1.0.0"]["to"] == [*STAKEHOLDERS, "dev@zm.test"]
    assert (
        "critical security vulnerability: 1 (limit 0)"
        in mails["INCIDENT ZenaManage production: rolling back to v1.0.0"]["html"]
    )
    assert "RESOLVED ZenaManage production: back on v1.0.0" in mails
    assert "Release rolled back: ZenaManage v1.2.0 on production" in mails
    opened, closed = [c for c in inbox.statuspage if c["incident"].get("status") != "scheduled"]
    assert opened["method"] == "POST" and opened["incident"]["status"] == "identified"
    assert opened["incident"]["components"] == {"webapp": "degraded_performance"}
    assert closed["method"] == "PATCH" and closed["path"] == "/v1/pages/zenapage/incidents/" + opened["id"]
    assert closed["incident"]["status"] == "resolved" and closed["incident"]["components"] == {"webapp": "operational"}
    # resolved by the rollback: nobody is escalated to
    assert not [m for m in inbox.slack if "ESCALATION" in m["text"]]
    assert run.tasks["production.rollback.escalate"] == "success"
    # the emergency procedure ends with a post-mortem: its form is opened, the run's state stays its own
    assert run.tasks["production.request_post_mortem"] == "success"


def test_a_failed_backup_stops_the_release_before_its_migration(sandbox, run_dag):
    before = {h: live_on(sandbox, h) for h in PRODUCTION}
    rows, column = projects(sandbox), has_status_column(sandbox)
    backups = app_dir(sandbox) / ".deploy/backups"
    owner = backups.stat()
    os.chown(backups, 0, 0)  # root's now, as a provisioning script may leave it: the deploy user cannot write a dump
    backups.chmod(0o755)
    try:
        run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "ship the welcome page now"})
    finally:
        os.chown(backups, owner.st_uid, owner.st_gid)
        backups.chmod(0o700)
    assert run.state == "failed"
    assert run.failed_tasks() == ["production.backup_database"]
    assert run.tasks["production.migrate_database"] == "upstream_failed"
    assert "production-1: backup failed with exit 3: backup folder" in run.log
    assert "no backup was taken, so the migrations do not run" in run.log
    assert_untouched(sandbox, before)
    assert (projects(sandbox), has_status_column(sandbox)) == (rows, column)


def test_mode_restore_puts_back_the_backup_taken_before_the_bad_release(sandbox, run_dag):
    # the database v1.2.0 finds (the code-only rollback above left the column v1.2.0 added)
    rows, column = projects(sandbox), has_status_column(sandbox)
    run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "ship the welcome page now"})
    assert run.state == "success", run.failed_tasks()
    sql(
        sandbox, "UPDATE zena_production.projects SET status = 'archived', updated_at = NOW() WHERE name = 'Mobile app'"
    )
    write_a_project(sandbox, "Written after v1.2.0")
    bad = live_on(sandbox, "production-1")
    answer = Answer("rollback.approve_restore", "Approve", confirm="restore production")  # names no release
    answer.start()
    wrong = rollback(run_dag, mode="restore")
    answer.join()
    assert wrong.state == "failed" and f"not 'restore production {bad}'" in wrong.log
    assert live_on(sandbox, "production-1") == bad  # nothing switched
    answer = Answer("rollback.approve_restore", "Approve", confirm=f"restore production {bad}", comment="INC-42")
    answer.start()
    run = rollback(run_dag, mode="restore")
    answer.join()
    assert run.state == "success", run.failed_tasks()
    assert "RESTORE of production approved: approved by admin: INC-42" in run.log
    assert "RESTORE: the 2 rows written since the backup are lost" in run.log  # one added, one changed
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.0.0" for h in PRODUCTION}
    # the database is the backup's: every row from before v1.2.0, none written after
    assert (projects(sandbox), has_status_column(sandbox)) == (rows, column)
    assert sql(sandbox, "SELECT COUNT(*) FROM zena_production.projects WHERE name = 'Written after v1.1.0'") == "1"
    assert sql(sandbox, "SELECT status FROM zena_production.projects WHERE name = 'Mobile app'") == "active"
    # the same restore asked again, as one offered after a release's own rollback asks it (the code is
    # back already, the release it is from marked bad): refused, so no row written since is lost
    live = live_on(sandbox, "production-1")
    again = rollback(run_dag, mode="restore", target=live, **{"from": bad})
    assert again.state == "failed" and again.failed_tasks() == ["rollback.decide_rollback"]
    assert f"the backup taken before {bad} was restored already (at " in again.log
    assert live_on(sandbox, "production-1") == live


def cut_sessions(sshd: int) -> None:
    """Kill every process under an sshd listener: its connections drop, as when a network link does.

    The whole tree is stopped first, then killed: a parent killed after its child could otherwise still send
    the child's exit code (137) down the session, which a dropped link never does."""

    def below(pid: int) -> list[int]:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        return [p for child in children for p in (int(child), *below(int(child)))]

    tree = below(sshd)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
                os.kill(pid, sig)


def test_an_upload_cut_midway_leaves_nothing_that_looks_complete_and_a_retry_is_safe(sandbox):
    from laravel_release import remote

    source = "/var/tmp/zena-sandbox/hosts/build-1/builds/big-upload.bin"
    target = str(app_dir(sandbox, "staging-1") / ".deploy/uploads/big-upload.bin")
    made = subprocess.run(
        ["runuser", "-u", "deploy", "--", "bash", "-c", f"head -c 200000000 /dev/urandom > {source}"], check=False
    )
    assert made.returncode == 0
    before = live_on(sandbox, "staging-1")
    sshd = int((sandbox / "hosts/staging-1/run/sshd.pid").read_text())
    partial = Path(target + ".partial")
    for left in (Path(target), partial):
        left.unlink(missing_ok=True)
    errors: list[Exception] = []

    def upload() -> None:
        try:
            remote.transfer("zena_build_1", "zena_staging_1", "staging-1", [(source, target)])
        except Exception as err:  # what the task would see: the connection dropped
            errors.append(err)

    worker = threading.Thread(target=upload)
    worker.start()
    deadline = time.monotonic() + 120
    while not (partial.exists() and partial.stat().st_size > 1_000_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert partial.exists(), "the upload never started"
    cut_sessions(sshd)
    worker.join(timeout=120)
    assert errors, "the upload should have been cut"
    assert not Path(target).exists()  # only the .partial file, never a complete-looking one
    assert live_on(sandbox, "staging-1") == before

    size, _ = remote.transfer("zena_build_1", "zena_staging_1", "staging-1", [(source, target)])  # the retry
    assert size == 200_000_000 and Path(target).stat().st_size == size and not partial.exists()
    Path(target).unlink()
    Path(source).unlink()


def test_a_database_step_whose_session_drops_goes_on_once_and_is_polled_to_its_end(sandbox, capfd):
    from types import SimpleNamespace

    from laravel_release import config, remote

    host = config.load().environment("staging").primary
    remote.install_tools(host.ssh_conn_id, host.name, host.tools)
    run_id = f"manual__cut-{uuid.uuid4().hex[:8]}"
    counter = f"/tmp/zena-{run_id}.count"
    step = f'echo run >> {counter}; sleep 6; echo \'{{"verb": "migrate", "migrated": ["slow"]}}\''
    target = {
        "host": host.name,
        "ssh_conn_id": host.ssh_conn_id,
        "tools_dir": host.tools,
        "deploy_path": host.deploy_path,
        "commands": {"migrate": step},
        "timeouts": {"migrate": 120},
    }
    task = remote.RemoteScript(task_id="migrate_database", step="migrate", target=target)
    job = Path(host.deploy_path) / ".deploy/jobs" / remote.job_id(run_id, "migrate_database", host.name)
    results: list = []
    context = {"run_id": run_id, "ti": SimpleNamespace(task_id="migrate_database")}
    worker = threading.Thread(target=lambda: results.extend(task.execute(context)))
    worker.start()
    deadline = time.monotonic() + 30
    polling = ["pgrep", "-f", "--", f"--id {job.name} --wait"]
    while not ((job / "pid").exists() and subprocess.run(polling, capture_output=True).returncode == 0):
        assert time.monotonic() < deadline, "the job never started, or nothing polls it"
        time.sleep(0.05)
    cut_sessions(int((sandbox / "hosts/staging-1/run/sshd.pid").read_text()))  # the session polling it drops
    worker.join(timeout=120)
    assert results == [{"verb": "migrate", "migrated": ["slow"]}]  # the task asked again and got the job's own answer
    assert "lost the session while" in "".join(capfd.readouterr())  # the task's log, on this process's output
    assert Path(counter).read_text().split() == ["run"]  # started once, never again
    Path(counter).unlink()


def test_php_fpm_down_on_one_production_host_rolls_the_whole_environment_back(sandbox, run_dag, inbox):
    inbox.clear()

    def on_call_resolves_after_the_second_escalation():
        # levels: development team at once, technical lead after 18 s, engineering manager after 30 s, CTO 90 s
        inbox.wait_for(lambda box: any(m["subject"].startswith("ESCALATION level 3") for m in box.mail), timeout=300)
        as_deploy_user(sandbox, "freeze", "--clear", "--by", "on-call")

    on_call = threading.Thread(target=on_call_resolves_after_the_second_escalation, daemon=True)
    on_call.start()
    before = {h: live_on(sandbox, h) for h in PRODUCTION}
    rows = projects(sandbox)
    pid = int((sandbox / "hosts/production-2/run/php-fpm.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        run = run_dag("release_hotfix", {"version": "v1.1.0", "reason": "the status column, needed now"})
    finally:  # php-fpm comes back, as its supervisor would restart it
        subprocess.run([str(ROOT / "include/sandbox/target.sh"), "start"], check=True, capture_output=True)
    assert run.state == "failed"
    assert run.tasks["production.switch_release[0]"] == "success"
    # the reload found no php-fpm, after the rename: switched, so verified (and failed) like every host
    assert run.tasks["production.switch_release[1]"] == "success"
    assert "the reload failed on" in run.log and "verification decides" in run.log
    assert "production-2: health: http://127.0.0.1:8084/api/health answered 502" in run.log  # verified, and failed
    # switched back on both hosts at once, then production-2 failed the rollback's verification
    assert run.tasks["production.rollback.switch_back"] == "failed"
    assert "the rollback to v1.0.0 failed verification (production stays frozen):\n- production-2: health:" in run.log
    # both hosts point back at the release they served; production-1 never stopped serving
    assert {h: live_on(sandbox, h) for h in PRODUCTION} == before
    assert {h: served_version(h) for h in PRODUCTION} == {h: "v1.0.0" for h in PRODUCTION}
    assert projects(sandbox) == rows
    # the rollback could not verify production-2 while php-fpm was down: production stayed frozen, and the
    # incident went up the matrix, level by level, until the on-call engineer lifted the freeze
    on_call.join(timeout=10)
    assert 'freeze", "--clear' not in run.log
    freeze_log = (app_dir(sandbox) / ".deploy/freeze.log").read_text().splitlines()
    assert '"by": "on-call"' in freeze_log[-1] and "rollback of v1.1.0-" in freeze_log[-2]
    assert not (app_dir(sandbox) / ".deploy/freeze").exists()
    escalations = [(m["subject"].split(":")[0], m["to"]) for m in inbox.mail if m["subject"].startswith("ESCALATION")]
    assert escalations == [
        ("ESCALATION level 2 (Technical lead)", ["lead@zm.test"]),
        ("ESCALATION level 3 (Engineering manager)", ["em@zm.test"]),
    ]
    lead = next(m["text"] for m in inbox.slack if m["text"].startswith("*ESCALATION level 2"))
    assert "production incident unresolved for" in lead and lead.endswith("cc @lead")
    # escalate and announce_finished are both teardowns of the environment: their messages may come in either order
    subjects = [m["subject"] for m in inbox.mail]
    assert "Release failed: ZenaManage v1.1.0 on production" in subjects
    closing = "RESOLVED ZenaManage production: the incident is closed after"
    closed = next(m for m in inbox.mail if m["subject"].startswith(closing))
    assert closed["to"] == [*STAKEHOLDERS, "dev@zm.test", "lead@zm.test", "em@zm.test"]  # not the CTO
    assert run.tasks["production.rollback.escalate"] == "success"
    assert inbox.statuspage[-1]["incident"]["status"] == "resolved"


def test_one_production_host_down_blocks_a_rollback_unless_asked_to_skip_it(sandbox, run_dag):
    run = run_dag("release_hotfix", {"version": "v1.2.0", "reason": "ship the welcome page now"})
    assert run.state == "success", run.failed_tasks()
    assert "ROLLBACK REHEARSED on staging: back to v" in run.log  # every release proves its way back
    released = {h: live_on(sandbox, h) for h in PRODUCTION}
    sshd = sandbox / "hosts/production-2/run/sshd.pid"
    os.kill(int(sshd.read_text()), signal.SIGTERM)
    try:
        refused = rollback(run_dag)
        assert refused.state == "failed" and refused.failed_tasks() == ["plan_rollback"]
        assert "production-2: cannot connect over SSH" in refused.log
        assert "trigger again with skip_unreachable" in refused.log
        assert {h: live_on(sandbox, h) for h in PRODUCTION} == released
        run = rollback(run_dag, skip_unreachable=True)
    finally:  # sshd comes back, as its supervisor would restart it
        subprocess.run([str(ROOT / "include/sandbox/target.sh"), "start"], check=True, capture_output=True)
    assert run.state == "success", run.failed_tasks()
    assert "NOT ROLLED BACK (unreachable, skip_unreachable): production-2" in run.log
    assert "production-2 NOT rolled back (unreachable when the rollback started)" in run.log
    assert served_version("production-1") == "v1.0.0"
    assert live_on(sandbox, "production-2") == released["production-2"] and served_version("production-2") == "v1.2.0"
