"""Real local servers standing in for Slack, Atlassian Statuspage and a mail server, recording what they get.

One HTTP server answers Slack's incoming webhooks (``POST /services/...``) and
Statuspage's REST API v1 (``POST``/``PATCH /v1/pages/<page>/incidents[/<id>]``);
``aiosmtpd`` receives mail. ``connections()`` gives the Airflow connections that
point at them, ``notifications()`` the environment file's section that uses them.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

PAGE, COMPONENT = "zenapage", "webapp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.slack: list[dict[str, Any]] = []
        self.statuspage: list[dict[str, Any]] = []
        self.mail: list[dict[str, Any]] = []
        self.fail_requests = 0  # answer this many of the next HTTP requests with 500
        self.changed = threading.Condition()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _receive(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with inbox.changed:
                    if inbox.fail_requests:
                        inbox.fail_requests -= 1
                        self._answer(500, {"error": "down for the test"})
                        return
                    if self.path.startswith("/services/"):
                        inbox.slack.append({"path": self.path, **body})
                        inbox.changed.notify_all()
                        self._answer(200, {"ok": True})
                        return
                    ident = self.path.rsplit("/", 1)[1] if self.command == "PATCH" else f"inc{len(inbox.statuspage)}"
                    auth = self.headers.get("Authorization")
                    inbox.statuspage.append(
                        {"method": self.command, "path": self.path, "auth": auth, "id": ident, **body}
                    )
                    inbox.changed.notify_all()
                self._answer(200, {"id": ident, **body.get("incident", {})})

            do_POST = do_PATCH = _receive  # noqa: N815 (the http.server API)

            def log_message(self, *args: Any) -> None:
                pass

        class Mailbox:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                body = msg.get_body(("html", "plain"))
                with inbox.changed:
                    inbox.mail.append(
                        {
                            "from": envelope.mail_from,
                            "to": list(envelope.rcpt_tos),
                            "subject": str(msg["Subject"]),
                            "html": body.get_content() if body else "",
                        }
                    )
                    inbox.changed.notify_all()
                return "250 OK"

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.smtp_port = free_port()
        self.smtp = Controller(Mailbox(), hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def connections(self) -> dict[str, str]:
        """AIRFLOW_CONN_* variables for zena_slack, zena_smtp and zena_statuspage."""
        return {
            "AIRFLOW_CONN_ZENA_SLACK": json.dumps(
                {"conn_type": "slackwebhook", "host": self.url, "password": "/services/T000/B000/XXXX"}
            ),
            "AIRFLOW_CONN_ZENA_SMTP": json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": self.smtp_port,
                    "extra": {"disable_tls": True, "disable_ssl": True, "retry_limit": 1, "timeout": 10},
                }
            ),
            "AIRFLOW_CONN_ZENA_STATUSPAGE": json.dumps(
                {"conn_type": "http", "host": self.url, "password": "statuspage-api-key"}
            ),
        }

    @staticmethod
    def notifications(**escalation: Any) -> dict[str, Any]:
        """The environment file's ``notifications`` section for these servers."""
        return {
            "slack": {"conn_id": "zena_slack", "alerts_channel": "#alerts", "releases_channel": "#releases"},
            "email": {"conn_id": "zena_smtp", "from": "releases@zenamanage.test"},
            "statuspage": {"conn_id": "zena_statuspage", "page_id": PAGE, "component_id": COMPONENT},
            "attempts": 2,
            "escalation": escalation
            or {
                "poll_seconds": 1,
                "levels": [
                    {"name": "Development team", "after_minutes": 0, "slack": ["@dev-team"], "email": ["dev@zm.test"]},
                    {"name": "Technical lead", "after_minutes": 0.3, "slack": ["@lead"], "email": ["lead@zm.test"]},
                    {"name": "Engineering manager", "after_minutes": 0.5, "email": ["em@zm.test"]},
                    {"name": "CTO", "after_minutes": 1.5, "email": ["cto@zm.test"]},
                ],
            },
        }

    def clear(self) -> None:
        with self.changed:
            self.slack.clear()
            self.statuspage.clear()
            self.mail.clear()

    def wait_for(self, found: Callable[[Inbox], Any], timeout: float = 30) -> Any:
        """Wait until ``found(self)`` is truthy (a message arrives); returns it."""
        with self.changed:
            result = self.changed.wait_for(lambda: found(self), timeout=timeout)
        assert result, f"not received within {timeout} s: slack {self.slack}, mail {self.mail}"
        return result

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.smtp.stop()
