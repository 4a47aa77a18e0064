"""cli.py: the conf it sends, the exit code it gives a finished run, and its answers to bad input."""

from __future__ import annotations

import io
import socket

import pytest

from laravel_release import cli


def args(*argv: str):
    return cli.parser().parse_args(["trigger", "release_feature", *argv])


def test_the_conf_combines_json_params_and_named_options():
    a = args(
        "--conf",
        '{"version": "v1.0.0", "x": 1}',
        "--param",
        "destructive_migrations=drops a column",
        "--param",
        "n=3",
        "--version",
        "v1.4.0",
    )
    assert cli.conf_from(a) == {"version": "v1.4.0", "x": 1, "destructive_migrations": "drops a column", "n": 3}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--param", "novalue"], "write it as key=value"),
        (["--conf", "{not json"], "--conf is not JSON"),
        (["--conf", "[1]"], "must be a JSON object"),
    ],
)
def test_a_malformed_command_line_is_refused_with_exit_2(argv, message):
    out = io.StringIO()
    assert cli.main(["trigger", "release_feature", "--token", "t", *argv], out=out) == cli.INVALID
    assert message in out.getvalue()


def test_no_credentials_is_said_plainly(monkeypatch):
    for name in ("AIRFLOW_TOKEN", "AIRFLOW_USERNAME", "AIRFLOW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    assert cli.main(["trigger", "release_feature", "--version", "v1.4.0"], out=out) == cli.INVALID
    assert "no credentials: set AIRFLOW_TOKEN" in out.getvalue()


def test_an_unreachable_api_is_reported_at_once_with_exit_4():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = io.StringIO()
    code = cli.main(["trigger", "release_feature", "--url", f"http://127.0.0.1:{port}", "--token", "t"], out=out)
    assert code == cli.UNREACHABLE
    assert f"cannot reach Airflow at http://127.0.0.1:{port}" in out.getvalue()


def test_the_exit_code_of_a_finished_run():
    release = {"production.switch_release[production-1]": "success", "finish_release": "success"}
    assert cli.outcome("success", release) == cli.OK
    rolled = {
        "staging.switch_release[staging-1]": "success",
        "staging.rollback.switch_back[staging-1]": "success",
        "staging.rollback.record_rollback": "failed",
    }
    assert cli.outcome("failed", rolled) == cli.ROLLED_BACK
    assert cli.outcome("failed", {"plan_release": "failed"}) == cli.FAILED
    # the rollback DAG itself succeeding is a success
    assert cli.outcome("success", {"rollback.switch_back[production-1]": "success"}) == cli.OK


def test_a_run_is_settled_when_only_an_escalation_still_waits():
    assert cli.settled({"a": "success", "production.rollback.escalate": "deferred"})
    assert not cli.settled({"a": "running", "production.rollback.escalate": "deferred"})


def test_the_apis_validation_detail_is_printed_without_its_json():
    message = (
        'trigger release_major: HTTP 400: {"detail": "Invalid input for param version: \'2.0\' does not match'
        " '^v[0-9]+'\"}"
    )
    assert cli.readable(message) == "Invalid input for param version: '2.0' does not match '^v[0-9]+'"
    listed = 'trigger x: HTTP 422: {"detail": [{"msg": "Field required"}, {"msg": "bad"}]}'
    assert cli.readable(listed) == "Field required; bad"


def test_the_end_of_a_failed_tasks_log_is_printed_without_section_markers():
    log = "\n".join(
        ["start", "::group::Post Execute {...}", "x" * 500, "the release was rolled back", "::endgroup:: {}"]
    )
    assert cli.log_tail(log, lines=2) == ["x" * 400 + " …", "the release was rolled back"]


def test_a_failure_in_a_task_log_reads_as_its_exception():
    from laravel_release.client import log_lines

    content = [
        {"event": "ROLLED BACK staging", "level": "warning"},
        {
            "event": "Task failed with exception",
            "dag_id": "release_hotfix",
            "ti_id": "x" * 300,
            "error_detail": [
                {"exc_type": "AirflowFailException", "exc_value": "staging: rolled back because: ROLLBACK"}
            ],
        },
    ]
    assert log_lines(content) == [
        "ROLLED BACK staging",
        "Task failed with exception: AirflowFailException: staging: rolled back because: ROLLBACK",
    ]
