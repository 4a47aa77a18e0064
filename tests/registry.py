"""A stand-in for a team's own npm registry (named in the project's .npmrc): it knows one critical
advisory, for left-pad before 1.3.0, while ``advisories`` is true. npm audit asks it for real."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Registry(http.server.ThreadingHTTPServer):
    advisories = True


class Handler(http.server.BaseHTTPRequestHandler):
    server: Registry

    def _json(self, value: object) -> None:
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # the bulk advisory endpoint
        self.rfile.read(int(self.headers.get("content-length", 0)))
        advisory = {"id": 1, "url": "https://zm.test/1", "title": "Prototype pollution", "severity": "critical"}
        found = [{**advisory, "vulnerable_versions": "<1.3.0", "cwe": [], "cvss": {"score": 9.8}}]
        self._json({"left-pad": found} if self.server.advisories else {})

    def do_GET(self) -> None:  # the package's document
        def version(v: str) -> dict:
            return {"name": "left-pad", "version": v, "dist": {"tarball": "http://127.0.0.1/x.tgz", "integrity": "x"}}

        self._json(
            {
                "name": "left-pad",
                "dist-tags": {"latest": "1.3.0"},
                "versions": {v: version(v) for v in ("1.1.0", "1.3.0")},
            }
        )

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def npm_registry() -> Iterator[Registry]:
    server = Registry(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()


def npm_project(registry: Registry) -> dict[str, str]:
    """The files of a project that locks left-pad 1.1.0 and asks ``registry`` about it."""
    lock = {
        "name": "zena-assets",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "zena-assets", "version": "1.0.0", "dependencies": {"left-pad": "1.1.0"}},
            "node_modules/left-pad": {"version": "1.1.0", "resolved": "http://127.0.0.1/x.tgz", "integrity": "x"},
        },
    }
    return {
        "package.json": json.dumps({"name": "zena-assets", "version": "1.0.0", "dependencies": {"left-pad": "1.1.0"}}),
        "package-lock.json": json.dumps(lock),
        ".npmrc": f"registry=http://127.0.0.1:{registry.server_port}/\n",  # the team's own registry
    }
