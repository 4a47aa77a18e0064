"""job.sh: a long database verb detached from the session that started it, polled until it ends."""

from __future__ import annotations

import shlex

SLOW = 'echo run >>"$0.count"; sleep 3; echo "some output"; echo "a warning" >&2; echo \'{"done": true}\'; exit 3'


def start(host, app: str, job: str, command: str):
    return host.run("job", "--deploy-path", app, "--id", job, "--start", "--command", command)


def wait(host, app: str, job: str, seconds: int):
    return host.run("job", "--deploy-path", app, "--id", job, "--wait", str(seconds))


def test_a_job_runs_once_apart_from_its_session_and_reports_its_output_and_exit(staging_host):
    app = f"{staging_host.base}/app"
    counter = f"{staging_host.base}/job"
    command = f"bash -c {shlex.quote(SLOW)} {shlex.quote(counter)}"
    started = start(staging_host, app, "migrate-1", command)
    assert started.code == 0 and (started.json["job"], started.json["state"]) == ("migrate-1", "started")
    # the same job asked again (a task retried after its session dropped): attached to, not run twice
    again = start(staging_host, app, "migrate-1", command)
    assert again.code == 0 and again.json["state"] == "attached"
    running = wait(staging_host, app, "migrate-1", 0)
    assert running.code == 75 and running.json["state"] == "running"
    ended = wait(staging_host, app, "migrate-1", 30)
    assert ended.code == 3 and ended.json == {"done": True}  # its own exit code and closing line
    assert "some output" in ended.stdout and "a warning" in ended.stderr
    assert staging_host.ssh(f"cat {counter}.count").stdout.split() == ["run"]
    assert wait(staging_host, app, "migrate-1", 0).code == 3  # asked again once ended: the same answer


def test_a_job_killed_without_an_exit_code_says_so_and_a_bad_request_changes_nothing(staging_host):
    app = f"{staging_host.base}/app"
    assert start(staging_host, app, "backup-1", "sleep 30").code == 0
    pid = staging_host.ssh(f"cat {app}/.deploy/jobs/backup-1/pid").stdout.strip()
    assert staging_host.ssh(f"kill -9 {pid}").code == 0
    killed = wait(staging_host, app, "backup-1", 10)
    assert killed.code == 4 and "without an exit code (killed" in killed.json["error"]
    assert wait(staging_host, app, "no-such-job", 0).code == 3
    bad = start(staging_host, app, "../escape", "true")
    assert bad.code == 2 and "may hold only letters" in bad.json["error"]
    assert not staging_host.exists(f"{app}/.deploy/escape")
