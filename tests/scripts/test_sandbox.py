"""The sandbox itself: the app's tagged versions, and a target that starts idempotently."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = ROOT / "include" / "sandbox"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("repo") / "zenamanage.git"
    subprocess.run([str(SANDBOX / "make-repo.sh"), str(dest)], check=True, capture_output=True)
    return dest


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_every_tag_reports_its_own_version(repo):
    tags = git(repo, "tag", "--sort=v:refname").split()
    assert tags == ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"]
    for tag in tags:
        assert git(repo, "show", f"{tag}:VERSION").strip() == tag


def test_v1_1_0_adds_a_migration_and_v1_3_0_needs_a_setting_no_server_has(repo):
    added = git(repo, "diff", "--name-only", "v1.0.0", "v1.1.0")
    assert "database/migrations/2025_02_01_000000_add_status_to_projects_table.php" in added
    assert "search" in git(repo, "show", "v1.3.0:app/Http/Controllers/HealthController.php")
    assert "ZENA_SEARCH_URL" in git(repo, "show", "v1.3.0:phpunit.xml")


def test_the_app_tests_run_for_real_with_debians_phpunit(tmp_path, repo):
    work = tmp_path / "app"
    work.mkdir()
    subprocess.run(f"git -C {repo} archive v1.1.0 | tar -x -C {work}", shell=True, check=True)
    env = {
        "COMPOSER_ALLOW_SUPERUSER": "1",
        "COMPOSER_DISABLE_NETWORK": "1",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    subprocess.run(["composer", "install", "--quiet", "--no-interaction"], cwd=work, env=env, check=True)
    result = subprocess.run(["phpunit", "--colors=never"], cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "OK (8 tests" in result.stdout


def test_start_is_idempotent_and_status_lists_every_process(sandbox):
    target = str(SANDBOX / "target.sh")
    subprocess.run([target, "start"], check=True, capture_output=True)
    status = subprocess.run([target, "status"], check=True, capture_output=True, text=True).stdout.splitlines()
    assert len(status) == 1 + 1 + 1 + 4 * 3  # mariadb, lb, build sshd, 4 web hosts x (sshd, php-fpm, nginx)
    assert all(line.startswith("running ") for line in status), status
    # the connections file holds the probe user's password: the owner's alone
    assert oct((sandbox / "airflow.env").stat().st_mode & 0o777) == "0o600"


def test_a_pid_file_of_a_gone_zombie_or_foreign_process_counts_as_stopped(tmp_path):
    # A machine that was switched off leaves stale pid files behind, whose numbers other processes may hold
    # by now; a stopped daemon stays a zombie until init reaps it (every second or two on some machines).
    # None of them may pass for a running daemon, or `start` would leave that daemon stopped.
    gone = subprocess.Popen(["true"])
    gone.wait()
    zombie = subprocess.Popen(["true"])  # exits at once and stays a zombie: nobody waits for it yet
    try:
        for _ in range(200):
            if "State:\tZ" in Path(f"/proc/{zombie.pid}/status").read_text():
                break
            subprocess.run(["sleep", "0.01"])
        pidfiles = {
            "mariadb/run/mariadb.pid": gone.pid,
            "hosts/lb/run/nginx.pid": zombie.pid,
            "hosts/staging-1/run/sshd.pid": "",
            "hosts/uat-1/run/sshd.pid": "not-a-pid",
            "hosts/uat-1/run/nginx.pid": os.getpid(),  # a number taken since by another process
        }
        for name, pid in pidfiles.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(f"{pid}\n")
        env = {"PATH": "/usr/bin:/bin", "SANDBOX_ROOT": str(tmp_path)}
        status = subprocess.run([str(SANDBOX / "target.sh"), "status"], env=env, capture_output=True, text=True)
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        for name in pidfiles:
            assert f"stopped {name}" in lines
    finally:
        zombie.wait()
