"""Each verb script against a real host: what it does, and how it refuses."""

from __future__ import annotations

import subprocess

import pytest

from tests.scripts.conftest import SCRIPTS

pytestmark = pytest.mark.integration

VERBS = sorted(p.stem for p in SCRIPTS.glob("*.sh") if p.stem != "lib")
BUILD = ["--run", "COMPOSER_DISABLE_NETWORK=1 composer install --no-dev --optimize-autoloader --no-interaction --quiet"]
TESTS = [
    "--test",
    "COMPOSER_DISABLE_NETWORK=1 composer dump-autoload --dev --quiet",
    "--test",
    "phpunit --colors=never",
]


def foreign(command: str) -> str:
    """What another tool (or root at provisioning) did on the host: run as root, on the sandbox's shared disk."""
    return subprocess.run(["bash", "-c", command], check=True, capture_output=True, text=True).stdout


def build(host, repository, tag, release, *extra):
    return host.run(
        "build",
        "--repo",
        repository,
        "--tag",
        tag,
        "--release",
        release,
        "--workdir",
        f"{host.base}/builds",
        *BUILD,
        *extra,
    )


def deliver(build_host, target, release):
    """Copy a built artifact to the target host the way upload_release does (through this machine)."""
    art = f"{build_host.base}/builds/artifacts/{release}.tar.gz"
    data = build_host.ssh(f"base64 -w0 {art}").stdout
    sha = build_host.ssh(f"cat {art}.sha256").stdout.strip()
    up = f"{target.base}/app/.deploy/uploads/{release}.tar.gz"
    assert (
        target.ssh(
            f"mkdir -p {target.base}/app/.deploy/uploads && echo {data} | base64 -d > {up} && echo {sha} > {up}.sha256"
        ).code
        == 0
    )
    return up


def deploy(build_host, target, repository, tag, release):
    assert build(build_host, repository, tag, release).code == 0
    up = deliver(build_host, target, release)
    app = f"{target.base}/app"
    for verb, args in [("release", ["--artifact", up]), ("shared", []), ("switch", [])]:
        r = target.run(verb, "--deploy-path", app, "--release", release, *args)
        assert r.code == 0, r.stderr


@pytest.mark.parametrize("verb", VERBS)
def test_every_script_explains_itself_and_refuses_unknown_options(staging_host, verb):
    usage = staging_host.run(verb, "-h")
    assert usage.code == 0 and "usage:" in usage.stdout
    bad = staging_host.run(verb, "--no-such-option", "x")
    assert bad.code == 2 and bad.json["ok"] is False and "unknown option" in bad.json["error"]


def test_build_archives_builds_tests_and_packs_a_tag(build_host, repository):
    r = build(build_host, repository, "v1.1.0", "v1.1.0-1", "--since", "v1.0.0", *TESTS)
    assert r.code == 0, r.stderr
    out = r.json
    assert out["version"] == "v1.1.0" and len(out["sha256"]) == 64 and out["bytes"] > 1000
    assert out["tests"].startswith("OK (")
    assert "Add a status to projects" in out["notes"] and "health, version and projects" not in out["notes"]
    listing = build_host.ssh(f"tar -tzf {out['artifact']}").stdout
    assert "./vendor/autoload.php" in listing and "./.release.json" in listing and "./artisan" in listing


def test_build_refuses_a_tag_that_does_not_exist(build_host, repository):
    r = build(build_host, repository, "v9.9.9", "v9.9.9-1")
    assert r.code == 3
    assert "tag v9.9.9 does not exist" in r.json["error"] and "v1.3.0" in r.json["error"]


def test_a_moved_tag_is_refused_in_git_s_own_words_with_the_way_out(build_host, repository):
    origin = f"{build_host.base}/origin.git"
    assert build_host.ssh(f"git clone -q --bare {repository} {origin}").code == 0
    assert build(build_host, origin, "v1.1.0", "r1").code == 0  # the build host's mirror now has v1.1.0
    moved = f"git -c user.name=Ops -c user.email=ops@zm.test -C {origin} tag -f -a v1.1.0 -m moved v1.2.0^{{commit}}"
    assert build_host.ssh(moved).code == 0, "the tag moved after it was built"
    r = build(build_host, origin, "v1.1.0", "r2")
    assert r.code == 4
    error = r.json["error"]
    assert "git said: " in error and "would clobber existing tag" in error
    assert "tag a new version, or remove " in error and "/builds/repo.git on the build host" in error
    gone = build(build_host, f"{build_host.base}/no-such.git", "v1.1.0", "r3")
    assert gone.code == 4 and "cannot fetch" in gone.json["error"] and "git said: " in gone.json["error"]


def test_build_stops_when_the_tests_fail(build_host, repository):
    r = build(build_host, repository, "v1.0.0", "v1.0.0-1", "--test", "false")
    assert r.code == 4 and "tests failed: false" in r.json["error"]
    assert not build_host.exists(f"{build_host.base}/builds/artifacts/v1.0.0-1.tar.gz")


def test_release_refuses_a_corrupt_upload_and_changes_nothing(build_host, staging_host, repository):
    assert build(build_host, repository, "v1.0.0", "r1").code == 0
    up = deliver(build_host, staging_host, "r1")
    staging_host.ssh(f"echo {'0' * 64} > {up}.sha256")
    r = staging_host.run("release", "--deploy-path", f"{staging_host.base}/app", "--release", "r1", "--artifact", up)
    assert r.code == 3 and "is corrupt" in r.json["error"]
    assert not staging_host.exists(f"{staging_host.base}/app/releases/r1")


def test_switch_is_atomic_idempotent_and_logged(build_host, staging_host, repository):
    app = f"{staging_host.base}/app"
    deploy(build_host, staging_host, repository, "v1.0.0", "r1")
    deploy(build_host, staging_host, repository, "v1.1.0", "r2")
    assert staging_host.ssh(f"readlink {app}/current").stdout.strip() == "releases/r2"
    again = staging_host.run("switch", "--deploy-path", app, "--release", "r2")
    assert again.code == 0 and again.json["changed"] is False
    log = staging_host.ssh(f"cat {app}/.deploy/releases.log").stdout.strip().splitlines()
    assert len(log) == 2 and '"previous": "r1"' in log[1] and '"version": "v1.1.0"' in log[1]
    status = staging_host.run("status", "--deploy-path", app).json
    assert status["current"] == "r2" and status["version"] == "v1.1.0" and status["previous"] == "r1"


def test_a_reload_that_fails_after_the_rename_reports_the_switch_apart(build_host, staging_host, repository):
    app = f"{staging_host.base}/app"
    deploy(build_host, staging_host, repository, "v1.0.0", "r1")
    deploy(build_host, staging_host, repository, "v1.1.0", "r2")
    r = staging_host.run("switch", "--deploy-path", app, "--release", "r1", "--reload", "echo no php-fpm >&2; false")
    assert r.code == 0, r.stderr  # current changed: verification decides, not the reload's exit code
    assert r.json["switched"] is True and r.json["reload"] == "failed" and "verification decides" in r.stderr
    assert staging_host.ssh(f"readlink {app}/current").stdout.strip() == "releases/r1"
    assert '"release": "r1"' in staging_host.ssh(f"tail -n 1 {app}/.deploy/releases.log").stdout
    # nothing switched (r1 is live already) and the reload fails: that is an error
    again = staging_host.run("switch", "--deploy-path", app, "--release", "r1", "--reload", "false")
    assert again.code == 4 and "nothing switched" in again.json["error"]


def test_switch_refuses_an_incomplete_release_and_keeps_current(build_host, staging_host, repository):
    app = f"{staging_host.base}/app"
    deploy(build_host, staging_host, repository, "v1.0.0", "r1")
    staging_host.ssh(f"mkdir -p {app}/releases/half")
    r = staging_host.run("switch", "--deploy-path", app, "--release", "half")
    assert r.code == 3 and "current is unchanged" in r.json["error"]
    assert staging_host.ssh(f"readlink {app}/current").stdout.strip() == "releases/r1"


def test_shared_needs_the_env_file(build_host, staging_host, repository):
    app = f"{staging_host.base}/app"
    assert build(build_host, repository, "v1.0.0", "r1").code == 0
    up = deliver(build_host, staging_host, "r1")
    assert staging_host.run("release", "--deploy-path", app, "--release", "r1", "--artifact", up).code == 0
    staging_host.ssh(f"rm {app}/shared/.env")
    r = staging_host.run("shared", "--deploy-path", app, "--release", "r1")
    assert r.code == 3 and "shared/.env is missing" in r.json["error"]


def test_cleanup_leaves_another_run_s_unpack_in_progress_and_removes_day_old_leftovers(staging_host):
    app = f"{staging_host.base}/app"
    staging_host.ssh(f"mkdir -p {app}/releases/r7.partial {app}/releases/r6.partial")
    staging_host.ssh(f"touch -d '2 days ago' {app}/releases/r6.partial")
    r = staging_host.run("cleanup", "--deploy-path", app)
    assert r.code == 0, r.stderr
    assert staging_host.exists(f"{app}/releases/r7.partial")  # another run may be unpacking it right now
    assert not staging_host.exists(f"{app}/releases/r6.partial")


def test_cleanup_keeps_the_newest_the_live_and_the_previous(build_host, staging_host, repository):
    app = f"{staging_host.base}/app"
    deploy(build_host, staging_host, repository, "v1.0.0", "r1")
    deploy(build_host, staging_host, repository, "v1.1.0", "r2")
    for n, name in enumerate(("r3", "r4", "r5"), start=1):  # newer, never live
        staging_host.ssh(
            f"cp -a {app}/releases/r1 {app}/releases/{name} && touch -d @$(( $(date +%s) + {n} )) {app}/releases/{name}"
        )
    r = staging_host.run("cleanup", "--deploy-path", app, "--keep", "2")
    assert r.code == 0
    assert set(r.json["kept"]) == {"r5", "r4", "r2", "r1"} and r.json["removed"] == ["r3"]


def test_backup_is_compressed_checksummed_and_verified(staging_host, private_db):
    app = f"{staging_host.base}/app"
    private_db("CREATE TABLE projects (id INT PRIMARY KEY); INSERT INTO projects VALUES (1)")
    r = staging_host.run("backup", "--deploy-path", app, "--name", "before-r2", "--keep", "2")
    assert r.code == 0, r.stderr
    out = r.json
    assert out["file"].endswith("/before-r2.sql.gz") and len(out["sha256"]) == 64 and out["tables"] >= 1
    assert staging_host.ssh(f"cd {app}/.deploy/backups && sha256sum -c before-r2.sql.gz.sha256").code == 0
    for n in range(3):
        staging_host.run("backup", "--deploy-path", app, "--name", f"b{n}", "--keep", "2")
    assert staging_host.ssh(f"ls {app}/.deploy/backups/*.sql.gz | wc -l").stdout.strip() == "2"


def test_a_failed_backup_says_why_and_leaves_no_file(staging_host):
    app = f"{staging_host.base}/app"
    staging_host.ssh(f"sed -i 's/^DB_PASSWORD=.*/DB_PASSWORD=wrong/' {app}/shared/.env")
    r = staging_host.run("backup", "--deploy-path", app, "--name", "nope")
    assert r.code == 4 and "mariadb-dump of zena_staging failed" in r.json["error"]
    assert "Access denied" in r.json["error"]
    assert not staging_host.exists(f"{app}/.deploy/backups/nope.sql.gz")


def test_check_names_every_failed_check(staging_host):
    app = f"{staging_host.base}/app"
    ok = staging_host.run("check", "--deploy-path", app, "--database", "--min-free-mb", "1")
    assert ok.code == 0 and ok.json["database"] == "ok"
    staging_host.ssh(f"sed -i 's/^DB_PORT=.*/DB_PORT=1/' {app}/shared/.env")
    bad = staging_host.run("check", "--deploy-path", app, "--database", "--min-free-mb", "99999999")
    assert bad.code == 5
    assert "MB free" in bad.json["error"] and "database 127.0.0.1:1 does not answer" in bad.json["error"]


def test_migrate_runs_from_the_new_release_and_records_what_ran(build_host, staging_host, repository, private_db):
    app = f"{staging_host.base}/app"
    assert build(build_host, repository, "v1.1.0", "r2").code == 0
    up = deliver(build_host, staging_host, "r2")
    for verb, args in [("release", ["--artifact", up]), ("shared", [])]:
        assert staging_host.run(verb, "--deploy-path", app, "--release", "r2", *args).code == 0
    r = staging_host.run("migrate", "--deploy-path", app, "--release", "r2")
    assert r.code == 0, r.stderr
    assert r.json["count"] == 2 and r.json["migrated"][-1] == "2025_02_01_000000_add_status_to_projects_table"
    again = staging_host.run("migrate", "--deploy-path", app, "--release", "r2")
    assert again.json["count"] == 0
    assert "add_status_to_projects" in staging_host.ssh(f"cat {app}/.deploy/migrations.log").stdout


# Laravel 9 and later print what ran as "NAME .... 12ms DONE" (10) or "NAME .... 12.34ms DONE" (11), never
# Laravel 8's "Migrated: NAME". Debian ships Laravel 8, so the release's artisan is wrapped to print the
# later versions' words around the real migration; what ran must still be recorded, from the table.
NEWER_ARTISAN = """<?php
$args = implode(' ', array_map('escapeshellarg', array_slice($argv, 1)));
exec('php ' . escapeshellarg(__DIR__ . '/artisan.laravel8') . ' ' . $args . ' 2>&1', $lines, $code);
if (($argv[1] ?? '') !== 'migrate') { echo implode(PHP_EOL, $lines), PHP_EOL; exit($code); }
echo PHP_EOL, '   INFO  Running migrations.', PHP_EOL, PHP_EOL;
foreach ($lines as $line) {
    if (preg_match('/^Migrated:\\s+(\\S+)\\s+\\(([\\d.]+)ms\\)/', $line, $m)) {
        printf('  %s %s FORMAT DONE' . PHP_EOL, $m[1], str_repeat('.', 30), $m[2]);
    }
}
exit($code);
"""


@pytest.mark.parametrize(("laravel", "duration"), [("8", None), ("10", "%dms"), ("11", "%.2fms")])
def test_migrate_reads_what_ran_from_the_migrations_table_whatever_artisan_prints(
    build_host, staging_host, repository, private_db, laravel, duration
):
    app = f"{staging_host.base}/app"
    assert build(build_host, repository, "v1.1.0", "r2").code == 0
    up = deliver(build_host, staging_host, "r2")
    for verb, args in [("release", ["--artifact", up]), ("shared", [])]:
        assert staging_host.run(verb, "--deploy-path", app, "--release", "r2", *args).code == 0
    if duration:
        release = f"{app}/releases/r2"
        wrapper = NEWER_ARTISAN.replace("FORMAT", duration)
        staging_host.ssh(
            f"mv {release}/artisan {release}/artisan.laravel8 && cat > {release}/artisan << 'PHP'\n{wrapper}PHP"
        )
    r = staging_host.run("migrate", "--deploy-path", app, "--release", "r2")
    assert r.code == 0, r.stderr
    if duration:
        assert "Migrated:" not in r.stderr and "INFO  Running migrations." in r.stderr and " DONE" in r.stderr
    assert r.json["migrated"] == [
        "2025_01_01_000000_create_projects_table",
        "2025_02_01_000000_add_status_to_projects_table",
    ]
    assert r.json["count"] == 2 and r.json["batch"] == 1
    logged = staging_host.ssh(f"tail -n 1 {app}/.deploy/migrations.log").stdout
    assert '"2025_02_01_000000_add_status_to_projects_table"], "batch": 1}' in logged
    # and the rollback finds them: the newest batch is exactly what r2 ran
    back = staging_host.run("migrate", "--deploy-path", app, "--release", "r2", "--rollback")
    assert back.code == 0 and back.json["count"] == 2, back.stderr


def test_shared_seeds_a_storage_folder_another_user_owns_without_touching_it(build_host, staging_host, repository):
    """Another tool left shared/storage owned by www-data, group-writable for the deploy user."""
    app = f"{staging_host.base}/app"
    assert build(build_host, repository, "v1.0.0", "r1").code == 0
    up = deliver(build_host, staging_host, "r1")
    assert staging_host.run("release", "--deploy-path", app, "--release", "r1", "--artifact", up).code == 0
    storage = f"{app}/shared/storage"
    foreign(f"mkdir -p {storage}/logs && echo kept > {storage}/logs/laravel.log && chown -R www-data:deploy {storage}")
    foreign(f"chmod -R 2775 {storage} && chmod 0664 {storage}/logs/laravel.log")
    before = foreign(f"stat -c '%U:%G %a' {storage} {storage}/logs {storage}/logs/laravel.log")
    r = staging_host.run("shared", "--deploy-path", app, "--release", "r1")
    assert r.code == 0, r.stderr
    assert foreign(f"stat -c '%U:%G %a' {storage} {storage}/logs {storage}/logs/laravel.log") == before
    assert foreign(f"cat {storage}/logs/laravel.log").strip() == "kept"
    assert staging_host.exists(f"{storage}/framework/views") and staging_host.exists(f"{app}/releases/r1/storage/logs")


def test_shared_names_the_folder_it_cannot_write_and_how_to_fix_it(build_host, staging_host, repository):
    app = f"{staging_host.base}/app"
    assert build(build_host, repository, "v1.0.0", "r1").code == 0
    up = deliver(build_host, staging_host, "r1")
    assert staging_host.run("release", "--deploy-path", app, "--release", "r1", "--artifact", up).code == 0
    storage = f"{app}/shared/storage"
    foreign(f"mkdir -p {storage} && chown www-data:www-data {storage} && chmod 0755 {storage}")
    r = staging_host.run("shared", "--deploy-path", app, "--release", "r1")
    assert r.code == 3, r.stderr
    assert f"cannot create {storage}/" in r.json["error"] and "writable for deploy" in r.json["error"]
    assert foreign(f"stat -c '%U %a' {storage}").strip() == "www-data 755"
