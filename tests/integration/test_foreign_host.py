"""Adoption: releases and rollbacks on a host another tool deployed (the sandbox's foreign profile).

target.sh foreign-reset leaves the VM as Deployer would: releases/1 live through an absolute
link, no metadata of ours, storage owned by www-data, health at /up and the version at /about
without its "v"; only include/sandbox/foreign.yaml and the connection foreign_vm point at it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.envfile import load_env_file
from tests.integration.conftest import ROOT, sql

pytestmark = pytest.mark.integration

SITES = {"staging": 8085, "production": 8086}


@pytest.fixture(scope="module")
def foreign(sandbox, tmp_path_factory):
    """The foreign VM as another tool left it, and its environment file in force for this module."""
    subprocess.run([str(ROOT / "include/sandbox/target.sh"), "foreign-reset"], check=True, capture_output=True)
    os.environ.update(load_env_file(sandbox / "airflow.env"))
    path = tmp_path_factory.mktemp("foreign") / "foreign.yaml"
    path.write_text((ROOT / "include/sandbox/foreign.yaml").read_text())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LARAVEL_RELEASE_CONFIG", str(path))
        yield path


def site(sandbox: Path, name: str) -> Path:
    return sandbox / f"hosts/vm/srv/zenamanage-{name}"


def live(sandbox: Path, name: str) -> str:
    return Path(os.readlink(site(sandbox, name) / "current")).name


def reported(name: str) -> str | None:
    """The release the site's /about page reports (the app's own words: no "v")."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{SITES[name]}/about", timeout=5) as r:
            return json.load(r)["app"]["release"]
    except OSError:
        return None


def preflight(environment: str = "production") -> tuple[int, str]:
    """The preflight's exit code and its table, with its columns' padding collapsed to one space."""
    from laravel_release import preflight as pf

    out = io.StringIO()
    code = pf.run(environment, out)
    return code, "\n".join(" ".join(line.split()) for line in out.getvalue().splitlines())


def edit(path: Path, change) -> str:
    """Change the module's environment file; returns the text to put back."""
    text = path.read_text()
    data = yaml.safe_load(text)
    change(data)
    path.write_text(yaml.safe_dump(data))
    return text


def test_preflight_is_all_green_on_a_host_another_tool_deployed(foreign):
    code, table = preflight()
    assert code == 0, table
    assert table.startswith("preflight of production: all green")
    assert "vm releases to adopt ok 1 left by another tool (1); live: 1 (the first release's rollback target)" in table
    assert "vm version /about ok reports 1.0.0" in table and "the version endpoint follows current (1)" in table


def test_preflight_names_each_problem_and_how_to_fix_it(foreign, sandbox):
    prod = site(sandbox, "production")
    saved = edit(
        foreign,
        lambda d: (
            d["environments"]["production"]["hosts"][0].update(reload_command="sudo systemctl reload php8.2-fpm")
            or d["defaults"].update(endpoints={"health": "/api/health"})
        ),
    )
    os.rename(prod / "shared/.env", prod / "shared/.env.off")
    try:
        code, table = preflight()
    finally:
        os.rename(prod / "shared/.env.off", prod / "shared/.env")
        foreign.write_text(saved)
    assert code == 1, table
    assert table.startswith("preflight of production: 4 to fix")
    assert f"vm shared/.env FAIL {prod}/shared/.env is missing" in table
    assert "fix: put the app's .env there (it is linked into every release)" in table
    assert "vm reload FAIL sudo asks deploy for a password (or refuses)" in table
    assert "NOPASSWD: /usr/bin/systemctl reload php8.2-fpm" in table
    assert "vm health /api/health FAIL health: http://127.0.0.1:8086/api/health answered 404" in table
    assert "vm version /api/version FAIL http://127.0.0.1:8086/api/version answered 404 without a version" in table
    # a host that does not answer: exit 4, and the rest is not guessed at
    saved_conn = os.environ["AIRFLOW_CONN_FOREIGN_VM"]
    os.environ["AIRFLOW_CONN_FOREIGN_VM"] = saved_conn.replace('"port": 2226', '"port": 2299')
    try:
        code, table = preflight()
    finally:
        os.environ["AIRFLOW_CONN_FOREIGN_VM"] = saved_conn
    assert code == 4 and "vm: cannot connect over SSH (connection 'foreign_vm')" in table


def test_a_bad_first_release_is_rolled_back_automatically_to_the_adopted_release(foreign, sandbox, run_dag):
    run = run_dag("release_hotfix", {"version": "v1.3.0", "reason": "the broken release, on a foreign host"})
    assert run.state == "failed"
    assert run.failed_tasks() == ["staging.rollback.record_rollback"]
    assert "VERIFICATION FAILED health: http://127.0.0.1:8085/up answered 503" in run.log
    assert "ROLLBACK of staging: v1.3.0-" in run.log and "-> 1 (v1.0.0)" in run.log
    assert "staging: the release was rolled back to v1.0.0" in run.log
    assert live(sandbox, "staging") == "1" and reported("staging") == "1.0.0"
    adopted = json.loads((site(sandbox, "staging") / ".deploy/adopted/1.json").read_text())
    assert adopted["version"] == "v1.0.0" and not (site(sandbox, "staging") / "releases/1/.release.json").exists()
    # the host is named as the file names it, in the scripts' own words
    assert "vm: " in run.log
    # no test suite here, and the file says so: the gate passes and says why
    assert "not required: no test commands configured (quality.tests_required: false)" in run.log
    assert live(sandbox, "production") == "1" and reported("production") == "1.0.0"  # never reached


def test_a_first_hotfix_goes_live_and_keeps_the_foreign_storage_as_it_was(foreign, sandbox, run_dag):
    storage = site(sandbox, "production") / "shared/storage"
    owner = (storage.stat().st_uid, storage.stat().st_gid, oct(storage.stat().st_mode))
    run = run_dag("release_hotfix", {"version": "v1.1.0", "reason": "the status column, on a foreign host"})
    assert run.state == "success", run.failed_tasks()
    assert reported("staging") == "1.1.0" and reported("production") == "1.1.0"
    assert (storage.stat().st_uid, storage.stat().st_gid, oct(storage.stat().st_mode)) == owner
    status = json.loads(
        subprocess.run(
            [
                "runuser",
                "-u",
                "deploy",
                "--",
                str(site(sandbox, "production") / ".deploy/bin/status.sh"),
                "--deploy-path",
                str(site(sandbox, "production")),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[-1]
    )
    assert status["previous_good"] == "1"
    assert [(r["release"], r["origin"]) for r in status["releases"]][-1] == ("1", "adopted")
    assert sql(sandbox, "SHOW COLUMNS FROM zena_foreign_production.projects LIKE 'status'").startswith("status")


def test_the_rollback_dag_goes_back_to_the_adopted_release_undoing_the_migrations(foreign, sandbox, run_dag):
    sql(
        sandbox,
        "INSERT INTO zena_foreign_production.projects (name, status, created_at, updated_at) "
        "VALUES ('Written after the hotfix', 'active', NOW(), NOW())",
    )
    rows = sql(sandbox, "SELECT COUNT(*) FROM zena_foreign_production.projects")
    run = run_dag(
        "rollback",
        {"environment": "production", "target": "1", "mode": "migrations", "reason": "INC-77 on the adopted host"},
    )
    assert run.state == "success", run.failed_tasks()
    assert "ROLLBACK of production: v1.1.0-" in run.log and "-> 1 (v1.0.0), mode migrations" in run.log
    assert live(sandbox, "production") == "1" and reported("production") == "1.0.0"
    assert sql(sandbox, "SHOW COLUMNS FROM zena_foreign_production.projects LIKE 'status'") == ""
    assert sql(sandbox, "SELECT COUNT(*) FROM zena_foreign_production.projects") == rows
    assert (
        sql(sandbox, "SELECT COUNT(*) FROM zena_foreign_production.projects WHERE name = 'Written after the hotfix'")
        == "1"
    )
