"""The HTTP provider's hooks as the project aims them: at a host's base URL from the environment file (the
probes), and at the approval service (https unless its connection names a scheme).

Imported where a request is made, not at a DAG's parse: the HTTP provider brings requests and aiohttp, a
third of a second that every task's process would pay otherwise (each parses its DAG file).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk import Connection


class BaseUrlHttpHook(HttpHook):
    """The HTTP provider's hook, aimed at a base URL from the environment file instead of a connection."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(method="GET", http_conn_id="", **kwargs)
        self._target = base_url

    def get_connection(self, conn_id: str | None) -> Connection:  # type: ignore[override]
        return Connection(conn_id="environment_file", conn_type="http", host=self._target)


class ApprovalServiceHook(HttpHook):
    """The http provider's hook for the approval service: https unless its connection names a scheme."""

    def get_connection(self, conn_id: str) -> Any:  # type: ignore[override]
        conn = super().get_connection(conn_id)
        if not conn.schema and "://" not in (conn.host or ""):
            conn.schema = "https"
        return conn
