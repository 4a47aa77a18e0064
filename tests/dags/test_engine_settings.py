"""dev/env.sh, the embedded default's settings: the fork server's preload list is real.

multiprocessing skips a preloaded module that fails to import without a word, so a typo or a
broken import there would only make every task slower again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings(tmp_path: Path, **caller: str) -> dict[str, str]:
    """The environment dev/env.sh gives, from a caller's environment without Airflow settings but ``caller``'s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(AIRFLOW_HOME=str(tmp_path), SANDBOX_ROOT=str(tmp_path / "no-sandbox"), **caller)
    out = subprocess.run(
        ["bash", "-c", f". {ROOT}/dev/env.sh && env -0"], env=env, capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.split("\0") if "=" in line)


def test_the_local_executor_starts_its_workers_from_a_fork_server_with_the_project_preloaded(tmp_path):
    env = settings(tmp_path)
    assert env["AIRFLOW__SCHEDULER__MP_START_METHOD"] == "forkserver"
    modules = env["AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD"].split(",")
    assert {"laravel_release.dag_factory", "airflow.sdk.execution_time.task_runner"} <= set(modules)
    check = (
        "import importlib, sys\n"
        "failed = []\n"
        "for m in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except Exception as e:\n"
        "        failed.append(f'{m}: {e!r}')\n"
        "print('NOT IMPORTED: ' + '; '.join(failed) if failed else 'ALL IMPORTED')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, *modules], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    said = result.stdout.strip().splitlines()  # Airflow's warnings may come first, on stdout too
    assert said and said[-1] == "ALL IMPORTED", result.stdout


def test_a_project_override_wins(tmp_path):
    assert (
        settings(tmp_path, AIRFLOW__SCHEDULER__MP_START_METHOD="fork")["AIRFLOW__SCHEDULER__MP_START_METHOD"] == "fork"
    )
