"""Build once: the tagged version is archived, built and tested on the build host."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import task

from laravel_release.remote import RemoteScript

log = logging.getLogger(__name__)


def build_release(plan: Any) -> tuple[Any, Any]:
    """``build_release`` (git archive, build commands, tests, pack) and ``write_release_notes``."""
    build = RemoteScript(task_id="build_release", step="build", target=plan["build"], retries=1)
    notes = write_release_notes(build.output)  # type: ignore[arg-type]  # an XCom, resolved at run time
    return build, notes


def build_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    """build.sh's closing JSON line among the results of ``build_release``."""
    return next(r for r in results if r.get("verb") == "build")


@task
def write_release_notes(results: list[dict[str, Any]]) -> str:
    """Release notes from the commits since the version live in production."""
    build = build_result(results)
    since = build.get("since") or "the first commit"
    tests = "; ".join(line.strip() for line in str(build["tests"]).splitlines())  # one summary per command
    text = f"## {build['version']} (since {since})\n\n{build['notes']}\n\nTests: {tests}\n"
    log.info("release notes:\n%s", text)
    return text
