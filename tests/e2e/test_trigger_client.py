"""The command line a CI pipeline runs, against the real api-server and scheduler of tests/e2e/conftest.py.

Runs after test_release_in_airflow.py and test_release_on_celery.py: production serves v1.2.0.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import PORT

pytestmark = pytest.mark.e2e
URL = f"http://127.0.0.1:{PORT}"


def cli(*args: str, token: str | None = None, user: str = "admin", password: str = "admin", timeout: float = 900):
    env = {"AIRFLOW_URL": URL}
    env.update({"AIRFLOW_TOKEN": token} if token else {"AIRFLOW_USERNAME": user, "AIRFLOW_PASSWORD": password})
    return subprocess.run(
        [sys.executable, "-m", "laravel_release", "trigger", *args],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")},
            **env,
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        },
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_invalid_params_get_the_apis_validation_error_plainly_and_exit_2(api):
    result = cli("release_major", "--version", "2.0", "--wait")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "release_major: Airflow refused the request (HTTP 400):" in result.stdout
    assert "does not match" in result.stdout and "Nothing was triggered" in result.stdout
    assert "{" not in result.stdout.splitlines()[1]  # the detail, not the JSON around it


def test_a_wrong_token_or_password_says_so_and_exits_non_zero(api):
    wrong = cli("release_hotfix", "--version", "v1.2.0", "--reason", "a token that is not valid", token="not-a-jwt")
    assert wrong.returncode == 4 and "Airflow refused the credentials" in wrong.stdout
    login = cli("release_hotfix", "--version", "v1.2.0", "--reason", "a wrong password", password="wrong")
    assert login.returncode == 4 and "refused the login of 'admin'" in login.stdout


def test_a_release_that_is_rolled_back_exits_3_and_prints_where_it_failed(api):
    api.unpause("release_hotfix")
    result = cli(
        "release_hotfix",
        "--version",
        "v1.3.0",
        "--reason",
        "the release whose health check fails",
        "--wait",
        "--poll",
        "2",
    )
    out = result.stdout
    assert result.returncode == 3, out + result.stderr
    assert "staging.rollback.switch_back" in out  # the progress shows the rollback
    assert "FAILED staging.rollback.record_rollback:" in out
    assert "staging: the release was rolled back to v1.2.0" in out  # the end of the failed task's log
    assert "because: " in out  # what tripped, with its numbers
    assert out.rstrip().splitlines()[-2].endswith(": ROLLED BACK")
