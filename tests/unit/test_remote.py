"""Quoting, result parsing and error reporting of the remote bridge."""

from __future__ import annotations

import shlex

import pytest

from laravel_release import remote


def test_command_quotes_every_word():
    cmd = remote.command("/srv/app/.deploy/bin", "switch", "--reload", 'kill -USR2 "$(cat /run/fpm.pid)"')
    assert shlex.split(cmd) == ["/srv/app/.deploy/bin/switch.sh", "--reload", 'kill -USR2 "$(cat /run/fpm.pid)"']


@pytest.mark.parametrize("hostile", ["v1; rm -rf /", "$(reboot)", "`id`", "a'b", "x\ny"])
def test_hostile_values_stay_one_argument(hostile):
    cmd = remote.command("/t", "build", extra=remote.options(tag=hostile))
    assert shlex.split(cmd) == ["/t/build.sh", "--tag", hostile]


def test_options_skip_unset_values_and_repeat_lists():
    assert remote.options(since="", database=True, keep=5, test=["a", "b"], none=None, off=False) == [
        "--database",
        "--keep",
        "5",
        "--test",
        "a",
        "--test",
        "b",
    ]


def test_chain_drops_empty_commands():
    assert remote.chain("a", "", "b") == "a && b"


def test_parse_results_reads_the_closing_json_lines():
    out = b'noise\n{"ok": true, "verb": "release"}\nmore\n{"ok": true, "verb": "shared", "n": 2}\n{not json "verb"\n'
    assert remote.parse_results(out) == [{"ok": True, "verb": "release"}, {"ok": True, "verb": "shared", "n": 2}]


def test_error_reason_prefers_the_scripts_error_line():
    err = b"12:00:00 migrate: Migrating: x\n12:00:01 migrate: error: migration x failed on web1\ntrailing noise\n"
    assert remote.error_reason(err) == "migration x failed on web1"
    assert remote.error_reason(b"just this\n") == "just this"
    assert remote.error_reason(b"") == "no output"


def test_remote_script_failure_names_the_host_and_the_reason():
    op = remote.RemoteScript(task_id="t", step="switch")
    op.host = "production-2"
    with pytest.raises(remote.RemoteError, match=r"production-2: switch failed with exit 3: release x is not complete"):
        op.raise_for_status(3, b"10:00:00 switch: error: release x is not complete\n")


def test_remote_script_targets_the_first_host_of_a_list():
    targets = [
        {"host": "a", "ssh_conn_id": "ca", "commands": {"migrate": "m"}, "timeouts": {"migrate": 9}},
        {"host": "b", "ssh_conn_id": "cb", "commands": {"migrate": "m"}, "timeouts": {"migrate": 9}},
    ]
    op = remote.RemoteScript(task_id="t", step="migrate", target=targets)
    op._aim()
    assert (op.host, op.ssh_conn_id, op.command, op.cmd_timeout) == ("a", "ca", "m", 9)


class FakeClient:
    """What connect() needs of paramiko's SSHClient: a transport that may be closed, and close()."""

    def __init__(self) -> None:
        self.active, self.closed = True, False

    def get_transport(self) -> FakeClient:
        return self

    def is_active(self) -> bool:
        return self.active and not self.closed

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def opened(monkeypatch) -> list[FakeClient]:
    clients: list[FakeClient] = []

    class Hook:
        def __init__(self, ssh_conn_id: str, **kwargs: object) -> None:
            pass

        def get_conn(self) -> FakeClient:
            clients.append(FakeClient())
            return clients[-1]

    monkeypatch.setattr(remote, "SSHHook", Hook)
    return clients


def ask(host: str) -> None:
    """A question to a host, as run() and read_file() ask it: the client closed by its ``with`` block."""
    _, client = remote.connect("conn", host)
    with client:
        pass


def test_each_question_opens_its_own_connection_by_default(opened):
    ask("a"), ask("a")
    assert len(opened) == 2 and all(c.closed for c in opened)


def test_shared_connections_ask_each_host_over_one_connection_and_close_them_at_the_end(opened):
    with remote.shared_connections():
        ask("a"), ask("b"), ask("a")
        with remote.shared_connections():  # inside another: the outer one keeps them
            ask("a")
        assert len(opened) == 2 and not any(c.closed for c in opened)
        opened[0].active = False  # the connection to a dropped: the next question opens a new one
        ask("a")
        assert len(opened) == 3 and opened[0].closed
    assert all(c.closed for c in opened)
    ask("a")  # after it, each question has its own again
    assert len(opened) == 4


def test_a_task_decorated_with_shared_connections_closes_them_when_it_fails(opened):
    @remote.shared_connections()
    def task() -> None:
        ask("a"), ask("a")
        raise remote.RemoteError("a: refused")

    with pytest.raises(remote.RemoteError):
        task()
    assert len(opened) == 1 and opened[0].closed
