"""The rollback's verbs against a real host: break-glass rollback, measure, alarm, restore, migrate --rollback."""

from __future__ import annotations

import json
import shlex
import subprocess
import time

import pytest

from tests.scripts.test_scripts import build, deliver, deploy

pytestmark = pytest.mark.integration


def test_break_glass_rollback_goes_back_to_the_previous_good_release_and_marks_the_bad_one(
    build_host, staging_host, repository
):
    app = f"{staging_host.base}/app"
    deploy(build_host, staging_host, repository, "v1.0.0", "r1")
    deploy(build_host, staging_host, repository, "v1.1.0", "r2")
    dry = staging_host.run("rollback", "--deploy-path", app, "--dry-run")
    assert dry.code == 0 and dry.json["from"] == "r2" and dry.json["to"] == "r1"
    assert staging_host.ssh(f"readlink {app}/current").stdout.strip() == "releases/r2"  # nothing changed

    r = staging_host.run("rollback", "--deploy-path", app, "--reason", "Airflow is down and r2 is broken")
    assert r.code == 0, r.stderr
    assert r.json["from"] == "r2" and r.json["to"] == "r1" and r.json["version"] == "v1.0.0"
    assert staging_host.ssh(f"readlink {app}/current").stdout.strip() == "releases/r1"
    assert staging_host.ssh(f"cat {app}/.deploy/bad-releases").stdout.split() == ["r2"]
    last = staging_host.ssh(f"tail -n 1 {app}/.deploy/releases.log").stdout
    assert '"event": "rollback"' in last and '"previous": "r2"' in last
    status = staging_host.run("status", "--deploy-path", app).json
    assert [(x["release"], x["bad"]) for x in status["releases"]] == [("r2", True), ("r1", False)]

    # r2 is bad and r1 is live: there is nothing good left to go back to, and r2 is refused
    again = staging_host.run("rollback", "--deploy-path", app)
    assert again.code == 3 and "no previous good release is kept" in again.json["error"]
    to_bad = staging_host.run("rollback", "--deploy-path", app, "--to", "r2")
    assert to_bad.code == 3 and "marked bad" in to_bad.json["error"]
    gone = staging_host.run("rollback", "--deploy-path", app, "--to", "r0")
    assert gone.code == 3 and "not a kept release" in gone.json["error"] and "kept: r2 r1" in gone.json["error"]


def test_measure_reads_the_database_and_the_security_alarm(staging_host, private_db):
    app = f"{staging_host.base}/app"
    private_db(
        "CREATE TABLE projects (id INT PRIMARY KEY, updated_at DATETIME);"
        "INSERT INTO projects VALUES (1, NOW()), (2, '2020-01-01')"
    )
    m = staging_host.run(
        "measure", "--deploy-path", app, "--table", "projects", "--table", "users", "--since", "2025-01-01 00:00:00"
    )
    assert m.code == 0, m.stderr
    assert m.json["database"] == "ok" and m.json["tables"] == {"projects": 2, "users": -1}
    assert m.json["written_since"] == {"projects": 1} and m.json["security"] == {"raised": False}

    raised = staging_host.run("alarm", "--deploy-path", app, "--raise", "--reason", "CVE-2026-1", "--by", "scanner")
    assert raised.code == 0 and raised.json["raised"] is True
    alarm = staging_host.run("measure", "--deploy-path", app).json["security"]
    assert alarm["raised"] is True and alarm["by"] == "scanner" and alarm["reason"] == "CVE-2026-1"
    assert staging_host.run("alarm", "--deploy-path", app, "--raise", "--by", "x").code == 2  # no reason
    assert staging_host.run("alarm", "--deploy-path", app, "--clear", "--by", "ops").json["raised"] is False
    assert "CVE-2026-1" in staging_host.ssh(f"cat {app}/.deploy/security-alarm.log").stdout

    staging_host.ssh(f"sed -i 's/^DB_PORT=.*/DB_PORT=1/' {app}/shared/.env")
    down = staging_host.run("measure", "--deploy-path", app, "--table", "projects")
    # not counted, which is not "missing": an unreachable database never reads as rows lost
    assert down.code == 0 and down.json["database"] == "unreachable" and down.json["tables"] == {"projects": None}


def test_restore_puts_back_the_backup_and_drops_tables_created_after_it(staging_host, private_db):
    app = f"{staging_host.base}/app"
    private_db("CREATE TABLE projects (id INT PRIMARY KEY, name TEXT); INSERT INTO projects VALUES (1, 'a'), (2, 'b')")
    backup = staging_host.run("backup", "--deploy-path", app, "--name", "before-r2")
    assert backup.code == 0, backup.stderr
    assert backup.json["rows"] == {"projects": 2}
    assert '"tables": {"projects": 2}' in staging_host.ssh(f"cat {app}/.deploy/backups/before-r2.json").stdout
    private_db("DELETE FROM projects WHERE id = 1; CREATE TABLE added_later (id INT)")

    r = staging_host.run("restore", "--deploy-path", app, "--name", "before-r2")
    assert r.code == 0, r.stderr
    assert r.json["dropped"] == ["added_later"]
    assert private_db("SELECT GROUP_CONCAT(name ORDER BY id) FROM projects") == "a,b"
    assert private_db("SHOW TABLES LIKE 'added_later'") == ""
    # the way back, had the restore been the wrong call: the database as it was just before
    safety = r.json["safety_dump"]
    assert "/.deploy/backups/safety/before-restore-" in safety
    dumped = staging_host.ssh(f"zcat {safety}").stdout
    assert "CREATE TABLE `added_later`" in dumped and "(2,'b')" in dumped and "(1,'a')" not in dumped
    assert staging_host.ssh(f"stat -c %a {safety}").stdout.strip() == "600"

    staging_host.ssh(f"echo 0000 > {app}/.deploy/backups/before-r2.sql.gz.sha256")
    private_db("DELETE FROM projects WHERE id = 2")
    bad = staging_host.run("restore", "--deploy-path", app, "--name", "before-r2")
    assert bad.code == 5 and "does not match its checksum: nothing was restored" in bad.json["error"]
    assert private_db("SELECT COUNT(*) FROM projects") == "1"  # untouched
    missing = staging_host.run("restore", "--deploy-path", app, "--name", "never-taken")
    assert missing.code == 3 and "kept backups: before-r2.sql.gz" in missing.json["error"]


def test_migrate_rollback_undoes_exactly_the_batch_the_release_ran(build_host, staging_host, repository, private_db):
    app = f"{staging_host.base}/app"
    for tag, release in (("v1.0.0", "r1"), ("v1.1.0", "r2")):
        assert build(build_host, repository, tag, release).code == 0
        up = deliver(build_host, staging_host, release)
        for verb, args in [("release", ["--artifact", up]), ("shared", [])]:
            assert staging_host.run(verb, "--deploy-path", app, "--release", release, *args).code == 0
        assert staging_host.run("migrate", "--deploy-path", app, "--release", release).code == 0
    assert private_db("SHOW COLUMNS FROM projects LIKE 'status'").startswith("status")

    # r1's batch is not the newest: refused, nothing undone
    wrong = staging_host.run("migrate", "--deploy-path", app, "--release", "r1", "--rollback")
    assert wrong.code == 3 and "newest migration batch" in wrong.json["error"]
    r = staging_host.run("migrate", "--deploy-path", app, "--release", "r2", "--rollback")
    assert r.code == 0, r.stderr
    assert r.json["rolled_back"] == ["2025_02_01_000000_add_status_to_projects_table"]
    assert private_db("SHOW COLUMNS FROM projects LIKE 'status'") == ""
    assert private_db("SELECT COUNT(*) FROM projects") == "3"
    none = staging_host.run("migrate", "--deploy-path", app, "--release", "r9", "--rollback")
    assert none.code == 3  # not unpacked here


def test_a_rollback_run_twice_changes_nothing_the_second_time(build_host, staging_host, repository, private_db):
    """A retried or double-submitted rollback: not one release further back, no migration undone twice."""
    app = f"{staging_host.base}/app"
    for tag, release in (("v1.0.0", "r1"), ("v1.1.0", "r2")):
        assert build(build_host, repository, tag, release).code == 0
        up = deliver(build_host, staging_host, release)
        for verb, args in [("release", ["--artifact", up]), ("shared", []), ("migrate", []), ("switch", [])]:
            assert staging_host.run(verb, "--deploy-path", app, "--release", release, *args).code == 0
    migrations = private_db("SELECT COUNT(*) FROM migrations")
    first = staging_host.run("rollback", "--deploy-path", app, "--from", "r2", "--to", "r1", "--migrations")
    assert first.code == 0, first.stderr
    assert first.json["changed"] is True and first.json["database"] == "migrations"
    after_first = private_db("SELECT COUNT(*) FROM migrations")
    assert int(after_first) == int(migrations) - 1 and private_db("SHOW COLUMNS FROM projects LIKE 'status'") == ""

    again = staging_host.run("rollback", "--deploy-path", app, "--from", "r2", "--to", "r1", "--migrations")
    assert again.code == 0, again.stderr
    assert again.json["changed"] is False and again.json["database"] == "none"
    assert "the database is left as it is" in again.stderr
    assert private_db("SELECT COUNT(*) FROM migrations") == after_first  # r1's own migrations stay
    assert private_db("SELECT COUNT(*) FROM projects") == "3"

    # the same request without --to: r2 is no longer live, so it refuses instead of going back to r0
    stale = staging_host.run("rollback", "--deploy-path", app, "--from", "r2", "--migrations")
    assert stale.code == 3 and "r2 is not live" in stale.json["error"] and "nothing was changed" in stale.json["error"]
    assert staging_host.ssh(f"readlink {app}/current").stdout.strip() == "releases/r1"
    assert staging_host.ssh(f"cat {app}/.deploy/bad-releases").stdout.split() == ["r2"]


HALF = """<?php
use Illuminate\\Database\\Migrations\\Migration;
use Illuminate\\Database\\Schema\\Blueprint;
use Illuminate\\Support\\Facades\\DB;
use Illuminate\\Support\\Facades\\Schema;

class AddInvoices extends Migration
{
    public function up()
    {
        Schema::create('invoices', function (Blueprint $table) { $table->id(); });
        DB::statement('ALTER TABLE no_such_table ADD COLUMN x INT');
    }

    public function down()
    {
        Schema::dropIfExists('invoices');
    }
}
"""


def test_a_migration_that_fails_halfway_leaves_current_alone_and_the_backup_undoes_it(
    build_host, staging_host, repository, private_db
):
    app = f"{staging_host.base}/app"
    deploy(build_host, staging_host, repository, "v1.0.0", "r1")
    assert staging_host.run("migrate", "--deploy-path", app, "--release", "r1").code == 0
    private_db("INSERT INTO projects (name, created_at, updated_at) VALUES ('written before r2', NOW(), NOW())")
    assert build(build_host, repository, "v1.1.0", "r2").code == 0
    up = deliver(build_host, staging_host, "r2")
    for verb, args in [("release", ["--artifact", up]), ("shared", [])]:
        assert staging_host.run(verb, "--deploy-path", app, "--release", "r2", *args).code == 0
    migration = f"{app}/releases/r2/database/migrations/2025_03_01_000000_add_invoices.php"
    staging_host.ssh(f"cat > {migration} <<'EOF'\n{HALF}EOF")
    assert staging_host.run("backup", "--deploy-path", app, "--name", "r2").code == 0

    failed = staging_host.run("migrate", "--deploy-path", app, "--release", "r2")
    assert failed.code == 4
    assert "migration 2025_03_01_000000_add_invoices failed" in failed.json["error"]
    assert "restore the backup or fix forward" in failed.json["error"]
    assert staging_host.ssh(f"readlink {app}/current").stdout.strip() == "releases/r1"  # never switched
    assert private_db("SHOW TABLES LIKE 'invoices'") == "invoices"  # half done: MySQL DDL is not transactional

    restored = staging_host.run("restore", "--deploy-path", app, "--name", "r2")
    assert restored.code == 0, restored.stderr
    assert restored.json["dropped"] == ["invoices"]
    assert private_db("SHOW COLUMNS FROM projects LIKE 'status'") == ""
    assert private_db("SELECT COUNT(*) FROM projects") == "4"  # the three seeded and the one written before


@pytest.mark.parametrize("written", ["'p\"a\\ss w'", '"p\\"a\\\\ss w"'])
def test_a_database_password_with_quotes_and_backslashes_works(staging_host, private_db, sandbox, written):
    """The same password, p"a\\ss w, as .env writes it in single quotes (literal) or double (escaped)."""
    app = f"{staging_host.base}/app"
    db = f"scratch_{staging_host.base[-8:]}"
    user = f"odd_{staging_host.base[-8:]}"
    root = f"mariadb --no-defaults --socket={sandbox}/mariadb/run/mariadb.sock -uroot"
    create = (
        f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'p\"a\\\\ss w'; GRANT ALL ON {db}.* TO '{user}'@'127.0.0.1'"
    )
    subprocess.run([*root.split(), "-e", create], check=True)
    try:
        private_db("CREATE TABLE projects (id INT PRIMARY KEY); INSERT INTO projects VALUES (1)")
        env = f"{app}/shared/.env"
        staging_host.ssh(f"sed -i '/^DB_USERNAME=/d; /^DB_PASSWORD=/d' {env}")
        staging_host.ssh(f"cat >> {env} << 'EOF'\nDB_USERNAME={user}\nDB_PASSWORD={written}\nEOF")
        m = staging_host.run("measure", "--deploy-path", app, "--table", "projects")
        assert m.json["database"] == "ok" and m.json["tables"] == {"projects": 1}, m.stderr
        b = staging_host.run("backup", "--deploy-path", app, "--name", "odd")
        assert b.code == 0, b.stderr
    finally:
        subprocess.run([*root.split(), "-e", f"DROP USER '{user}'@'127.0.0.1'"], check=True)


def test_backups_are_private_to_the_deploy_user(staging_host, private_db):
    app = f"{staging_host.base}/app"
    private_db("CREATE TABLE projects (id INT PRIMARY KEY); INSERT INTO projects VALUES (1)")
    staging_host.ssh(f"mkdir -p {app}/.deploy/backups && chmod 755 {app}/.deploy/backups")  # as an older run left it
    assert staging_host.run("backup", "--deploy-path", app, "--name", "before-r2").code == 0
    modes = staging_host.ssh(f"cd {app}/.deploy/backups && stat -c '%n %a' . before-r2.*").stdout.split("\n")
    assert sorted(m for m in modes if m) == [
        ". 700",
        "before-r2.json 600",
        "before-r2.sql.gz 600",
        "before-r2.sql.gz.sha256 600",
    ]


def test_a_restore_puts_the_live_app_in_maintenance_while_it_loads(build_host, staging_host, repository, private_db):
    app = f"{staging_host.base}/app"
    deploy(build_host, staging_host, repository, "v1.0.0", "r1")
    private_db("CREATE TABLE projects (id INT PRIMARY KEY); INSERT INTO projects VALUES (1)")
    assert staging_host.run("backup", "--deploy-path", app, "--name", "before-r2").code == 0
    private_db("INSERT INTO projects VALUES (2)")
    r = staging_host.run("restore", "--deploy-path", app, "--name", "before-r2")
    assert r.code == 0, r.stderr
    assert r.json["maintenance"] is True and "the app was in maintenance for" in r.stderr
    assert r.stderr.index("maintenance mode") < r.stderr.index("restoring ") < r.stderr.index("now live")
    assert not staging_host.exists(f"{app}/shared/storage/framework/down")
    assert private_db("SELECT COUNT(*) FROM projects") == "1"


SLOW = """<?php
use Illuminate\\Database\\Migrations\\Migration;
use Illuminate\\Support\\Facades\\DB;

class SlowBackfill extends Migration
{
    public function up()
    {
        DB::statement('SELECT SLEEP(4)');
    }

    public function down()
    {
    }
}
"""


def test_a_migration_whose_session_drops_finishes_holds_the_database_lock_and_logs_what_ran(
    build_host, staging_host, repository, private_db
):
    app = f"{staging_host.base}/app"
    assert build(build_host, repository, "v1.1.0", "r2").code == 0
    up = deliver(build_host, staging_host, "r2")
    for verb, args in [("release", ["--artifact", up]), ("shared", [])]:
        assert staging_host.run(verb, "--deploy-path", app, "--release", "r2", *args).code == 0
    staging_host.ssh(
        f"cat > {app}/releases/r2/database/migrations/2025_03_01_000000_slow_backfill.php <<'EOF'\n{SLOW}EOF"
    )
    # the session that started the migration drops (a network cut, a task timeout): its ssh client is killed
    cmd = staging_host.ssh_command(
        shlex.join([f"{staging_host.base}/bin/migrate.sh", "--deploy-path", app, "--release", "r2"])
    )
    session = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while "SLEEP(4)" not in private_db("SELECT IFNULL(GROUP_CONCAT(info), '') FROM information_schema.processlist"):
        assert time.monotonic() < deadline, "the slow migration never started"
        time.sleep(0.1)
    session.kill()
    session.wait()
    # another run's database work waits for the lock instead of running beside the migration
    busy = staging_host.ssh(f"DB_LOCK_WAIT=0 {staging_host.base}/bin/backup.sh --deploy-path {app} --name other")
    assert busy.code == 6 and "the database is busy" in busy.json["error"] and "migrate" in busy.json["error"]
    deadline = time.monotonic() + 30
    while "slow_backfill" not in staging_host.ssh(f"cat {app}/.deploy/migrations.log").stdout:
        assert time.monotonic() < deadline, "the migration did not finish and log what ran"
        time.sleep(0.2)
    logged = json.loads(staging_host.ssh(f"tail -n 1 {app}/.deploy/migrations.log").stdout)
    assert logged["release"] == "r2" and logged["migrated"][-1] == "2025_03_01_000000_slow_backfill"
    assert staging_host.run("backup", "--deploy-path", app, "--name", "other").code == 0  # the lock is free again


def test_a_backup_copied_off_the_host_is_verified_by_its_checksum(staging_host, private_db):
    app = f"{staging_host.base}/app"
    private_db("CREATE TABLE projects (id INT PRIMARY KEY); INSERT INTO projects VALUES (1)")
    vault = f"{staging_host.base}/vault"
    staging_host.ssh(f"mkdir -p {vault}")
    good = f'cp "$BACKUP_FILE" {vault}/ && sha256sum {vault}/"$(basename "$BACKUP_FILE")"'
    r = staging_host.run("backup", "--deploy-path", app, "--name", "before-r2", "--copy", good)
    assert r.code == 0, r.stderr
    assert r.json["copied"] is True and staging_host.exists(f"{vault}/before-r2.sql.gz")
    corrupt = f'head -c 100 "$BACKUP_FILE" > {vault}/cut.gz && sha256sum {vault}/cut.gz'
    bad = staging_host.run("backup", "--deploy-path", app, "--name", "before-r3", "--copy", corrupt)
    assert bad.code == 5 and "does not match its checksum" in bad.json["error"]
    failed = staging_host.run(
        "backup", "--deploy-path", app, "--name", "before-r4", "--copy", "echo no route >&2; false"
    )
    assert failed.code == 4 and "copying the backup off" in failed.json["error"] and "no route" in failed.json["error"]
