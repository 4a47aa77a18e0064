"""The command line for CI pipelines and operators: trigger a release (or a rollback) and follow it,
and read the audit trail of an environment.

    python -m laravel_release trigger release_feature --version v1.4.0 --wait
    python -m laravel_release trigger rollback --param environment=production --param reason="INC-42: 500s" --wait
    python -m laravel_release history --environment production
    python -m laravel_release preflight --environment production   (before the first release: see preflight.py)

It talks to Airflow's REST API v2 with the official client (``client.py``). The
API is ``--url`` or ``AIRFLOW_URL``; it authenticates with ``--token`` or
``AIRFLOW_TOKEN`` (a JWT from ``POST /auth/token``), or with a user and password
(``AIRFLOW_USERNAME``, ``AIRFLOW_PASSWORD``) it exchanges for one.

Exit codes: 0 the run succeeded; 1 it failed; 2 the request was invalid (the
params, the DAG); 3 the release was rolled back; 4 Airflow cannot be reached or
refused the credentials; 5 the run did not finish within ``--timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from laravel_release.client import Airflow, ApiError, fetch_token

OK, FAILED, INVALID, ROLLED_BACK, UNREACHABLE, TIMED_OUT = 0, 1, 2, 3, 4, 5
TERMINAL = {"success", "failed", "upstream_failed", "skipped", "removed"}
LOG_LINES = 12


class Usage(ValueError):
    """A command line that cannot be run; exit code 2."""


def conf_from(args: argparse.Namespace) -> dict[str, Any]:
    """The run's conf: ``--conf`` JSON, then ``--param key=value`` (a value that is JSON is read as JSON), then
    the named options."""
    conf: dict[str, Any] = {}
    if args.conf:
        try:
            conf = json.loads(args.conf)
        except ValueError as err:
            raise Usage(f"--conf is not JSON: {err}") from None
        if not isinstance(conf, dict):
            raise Usage('--conf must be a JSON object, e.g. \'{"version": "v1.4.0"}\'')
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise Usage(f"--param {item!r}: write it as key=value")
        try:
            conf[key] = json.loads(value)
        except ValueError:
            conf[key] = value
    for key in ("version", "reason", "window_override"):
        if getattr(args, key, None) is not None:
            conf[key] = getattr(args, key)
    return conf


def outcome(run_state: str, tasks: dict[str, str]) -> int:
    """The exit code of a finished run: a rollback that ran counts as rolled back, whatever else."""
    rolled_back = any(".switch_back" in t or t.startswith("rollback.") for t, s in tasks.items() if s == "success")
    is_release = any(t.endswith("switch_release") or ".switch_release[" in t for t in tasks)
    if rolled_back and is_release:
        return ROLLED_BACK
    return OK if run_state == "success" else FAILED


def settled(tasks: dict[str, str]) -> bool:
    """Everything has ended but an incident's escalation (which waits while the incident is open)."""
    return bool(tasks) and all(s in TERMINAL for t, s in tasks.items() if not t.endswith(".escalate"))


def authenticate(args: argparse.Namespace) -> Airflow:
    token = args.token or os.environ.get("AIRFLOW_TOKEN")
    if not token:
        user, password = args.username or os.environ.get("AIRFLOW_USERNAME"), os.environ.get("AIRFLOW_PASSWORD")
        if not user or password is None:
            raise Usage("no credentials: set AIRFLOW_TOKEN (or --token), or AIRFLOW_USERNAME and AIRFLOW_PASSWORD")
        token = fetch_token(args.url, user, password)
    return Airflow(args.url, token)


def _stamp() -> str:
    return datetime.now().strftime("%H:%M:%S")


def explain_failure(api: Airflow, dag_id: str, run_id: str, tasks: dict[str, str], out: TextIO) -> None:
    """Where it failed: each failed task and the end of its log."""
    failed = [t for t, s in tasks.items() if s == "failed"][:3]
    indexes = api.map_indexes(dag_id, run_id) if any("[" in key for key in failed) else {}
    for key in failed:
        task_id = key.partition("[")[0]
        try:
            text = api.task_log(dag_id, run_id, task_id, indexes.get(key, -1))
        except ApiError as err:
            text = f"(log not available: {err})"
        print(f"\nFAILED {key}:", file=out)
        for line in log_tail(text):
            print(f"  {line}", file=out)


def log_tail(text: str, lines: int = LOG_LINES, width: int = 400) -> list[str]:
    """The end of a task's log, without Airflow's section markers, each line cut to ``width``."""
    kept = [
        line if len(line) <= width else line[:width] + " …"
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("::group::", "::endgroup::"))
    ]
    return kept[-lines:]


def trigger(args: argparse.Namespace, out: TextIO, sleep: Callable[[float], None] = time.sleep) -> int:
    conf = conf_from(args)
    api = authenticate(args)
    try:
        run_id = api.trigger(args.dag_id, conf, note=args.note)
    except ApiError as err:
        if err.status in (400, 404, 422):
            print(f"{args.dag_id}: Airflow refused the request (HTTP {err.status}):", file=out)
            print(f"  {readable(str(err))}", file=out)
            print("Nothing was triggered. Fix the params (see the DAG's trigger form) and try again.", file=out)
            return INVALID
        raise
    link = f"{args.url.rstrip('/')}/dags/{args.dag_id}/runs/{run_id}"
    print(f"triggered {args.dag_id} run {run_id}\n  {link}", file=out)
    if not args.wait:
        return OK
    print(f"{_stamp()}  waiting for the run (up to {args.timeout:.0f} s)", file=out, flush=True)

    def progress(changed: dict[str, str]) -> None:
        for task_id, state in sorted(changed.items()):
            if state == "None":  # not scheduled yet
                continue
            print(f"{_stamp()}  {task_id:<45} {state}", file=out, flush=True)

    tasks: dict[str, str] = {}

    def done() -> bool:
        nonlocal tasks
        tasks = api.task_states(args.dag_id, run_id)
        return settled(tasks) and any(s == "failed" for s in tasks.values())

    try:
        state = api.wait(args.dag_id, run_id, timeout=args.timeout, poll=args.poll, on_progress=progress, until=done)
    except ApiError as err:
        if err.status is None and "did not finish" in str(err):
            print(f"{err}; it goes on in Airflow: {link}", file=out)
            return TIMED_OUT
        raise
    tasks = api.task_states(args.dag_id, run_id)
    code = outcome(state, tasks)
    if code == OK:
        print(f"\n{args.dag_id} {run_id}: success", file=out)
        return OK
    explain_failure(api, args.dag_id, run_id, tasks, out)
    verdict = "ROLLED BACK" if code == ROLLED_BACK else "FAILED"
    escalating = [t for t, s in tasks.items() if t.endswith(".escalate") and s not in TERMINAL]
    if escalating:
        print(f"\nthe incident is still open: {', '.join(escalating)} is escalating it", file=out)
    print(f"\n{args.dag_id} {run_id}: {verdict}\n  {link}", file=out)
    return code


def readable(message: str) -> str:
    """The API's validation detail without the JSON around it."""
    _, _, body = message.partition(": HTTP ")
    body = body.split(": ", 1)[-1]
    try:
        detail = json.loads(body).get("detail", body)
    except (ValueError, AttributeError):
        return body or message
    if isinstance(detail, list):
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail)


def history(args: argparse.Namespace, out: TextIO) -> int:
    """Every change to the environment: when, what, which version replaced which, who triggered and
    approved it, on which hosts, the outcome."""
    from laravel_release import evidence
    from laravel_release.history import collect

    api = authenticate(args)
    since = datetime.now(UTC) - timedelta(weeks=args.weeks)
    found = evidence.changes(collect(api, since), args.environment)
    if args.json:
        rows = [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(c).items() if k != "commit_times"}
            for c in found
        ]
        print(json.dumps(rows, indent=2), file=out)
        return OK
    if not found:
        print(f"{args.environment}: no change in the last {args.weeks} weeks", file=out)
        return OK
    print(f"{args.environment}: {len(found)} change(s) in the last {args.weeks} weeks, newest first", file=out)
    for c in reversed(found):
        when = f"{c.started:%Y-%m-%d %H:%M}" if c.started else "?"
        approved = f"; approved by {c.approved_by}" if c.approved_by else ""
        print(
            f"{when}  {c.kind} {c.release_type:<11} {c.replaced or '-'} -> {c.version}  {c.outcome.upper()}",
            file=out,
        )
        print(f"    by {c.triggered_by} ({c.trigger}){approved}; hosts {', '.join(c.hosts) or '-'}", file=out)
        print(f"    run {c.dag_id} {c.run_id}" + (f"; note: {c.note}" if c.note else ""), file=out)
        if c.window_override:
            print(f"    window override: {c.window_override}", file=out)
        if c.quality:
            print(f"    quality: {c.quality}", file=out)
        if c.reason:
            print(f"    reason: {c.reason}", file=out)
        if c.missing:
            print(f"    MISSING DATA: {', '.join(c.missing)}", file=out)
    return OK


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m laravel_release", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=os.environ.get("AIRFLOW_URL", "http://127.0.0.1:8080"), help="Airflow's URL")
    common.add_argument("--token", help="an API token (default: AIRFLOW_TOKEN)")
    common.add_argument("--username", help="exchange AIRFLOW_USERNAME/AIRFLOW_PASSWORD for a token")
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser(
        "trigger", parents=[common], help="trigger a DAG run with validated params, optionally follow it to the end"
    )
    t.add_argument("dag_id", help="release_hotfix, release_feature, release_maintenance, release_major, rollback, ...")
    t.add_argument("--version", help="the git tag to release, e.g. v1.4.0")
    t.add_argument("--reason", help="why (hotfixes and rollbacks need one)")
    t.add_argument("--window-override", dest="window_override", help="go now, outside the window: why")
    t.add_argument("--param", action="append", metavar="KEY=VALUE", help="any other param (repeatable)")
    t.add_argument("--conf", help="the whole conf as a JSON object")
    t.add_argument("--note", help="a note on the run (e.g. the CI job's URL)")
    t.add_argument("--wait", action="store_true", help="print each task's progress and exit with the outcome")
    t.add_argument("--timeout", type=float, default=4 * 3600, help="seconds to wait (default 4 h)")
    t.add_argument("--poll", type=float, default=5, help="seconds between progress checks (default 5)")
    h = sub.add_parser("history", parents=[common], help="the audit trail: every change to an environment")
    h.add_argument("--environment", default="production", choices=["staging", "uat", "production"])
    h.add_argument("--weeks", type=int, default=12, help="how far back (default 12 weeks)")
    h.add_argument("--json", action="store_true", help="print JSON instead of text")
    p = sub.add_parser(
        "preflight", help="check every host of an environment before its first release (SSH and HTTP, no Airflow API)"
    )
    p.add_argument("--environment", default="production", help="staging, uat or production")
    return ap


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if args.command == "preflight":
        from laravel_release import preflight

        return preflight.run(args.environment, out)
    try:
        return history(args, out) if args.command == "history" else trigger(args, out)
    except Usage as err:
        print(f"error: {err}", file=out)
        return INVALID
    except ApiError as err:
        if err.status in (401, 403):
            print(
                f"error: Airflow refused the credentials: {err}. Check AIRFLOW_TOKEN (it may have expired).", file=out
            )
        else:
            print(f"error: {err}", file=out)
        return UNREACHABLE
