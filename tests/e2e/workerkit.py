"""What the worker-process tests share: backends that say which worker sent each request, a
gateway file with `workers`, and clients that record every answer with its time.

A worker is told apart by its trace ids: `X-AppGW-Trace-Id` (which the gateway adds to every
request it forwards) starts with 16 hex digits chosen once per process; the backends here echo
it back in the body, as `name trace`."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from probegate.demo.backends import unused_port


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        backend: Backend = self.server.backend  # type: ignore[attr-defined]
        if self.path == "/health":
            status = 200 if backend.healthy.is_set() else 500
            body = b"health"
        else:
            if backend.delay:
                time.sleep(backend.delay)
            status = 500 if backend.failing else 200
            body = f"{backend.name} {self.headers.get('X-AppGW-Trace-Id', '')}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client cut by a killed worker: expected here


class Backend:
    """A loopback HTTP server answering `name trace` (its /health answers 500 when unhealthy)."""

    def __init__(
        self, name: str, *, delay: float = 0.0, healthy: bool = True, failing: bool = False
    ) -> None:
        self.name = name
        self.delay = delay
        self.failing = failing  # live requests (not /health) answered 500
        self.healthy = threading.Event()
        if healthy:
            self.healthy.set()
        self.server = _QuietServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.backend = self  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def backends(*made: Backend) -> Iterator[tuple[Backend, ...]]:
    try:
        yield made
    finally:
        for backend in made:
            backend.close()


def document(
    members: list[Backend],
    *,
    workers: int | str = 2,
    affinity: bool = False,
    passive: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "workers": workers,
        "httpListeners": [{"name": "front", "port": unused_port(), "protocol": "Http"}],
        "backendAddressPools": [
            {
                "name": "app",
                "backendAddresses": [{"ipAddress": "127.0.0.1", "port": b.port} for b in members],
            }
        ],
        "backendHttpSettingsCollection": [
            {
                "name": "web",
                "port": 80,
                "protocol": "Http",
                "probe": "health",
                "cookieBasedAffinity": "Enabled" if affinity else "Disabled",
                "passiveHealth": passive or {"enabled": False},
            }
        ],
        "probes": [
            {
                "name": "health",
                "protocol": "Http",
                "host": "app.test",
                "path": "/health",
                "interval": 1,
                "timeout": 1,
                "unhealthyThreshold": 1,
            }
        ],
        "requestRoutingRules": [
            {
                "name": "all",
                "ruleType": "Basic",
                "priority": 10,
                "httpListener": "front",
                "backendAddressPool": "app",
                "backendHttpSettings": "web",
            }
        ],
        "admin": {"port": 0},
        **extra,
    }


class Running:
    """`probegate run` in a subprocess, with its standard output gathered in the background."""

    def __init__(self, path: Path, doc: dict[str, Any], *options: str) -> None:
        path.write_text(json.dumps(doc), encoding="utf-8")
        self.path = path
        self.port = doc["httpListeners"][0]["port"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "probegate", "run", "-c", str(path), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        first = self.process.stdout.readline()
        assert "admin API at " in first, first + self.process.stderr.read()
        self.admin = first.rsplit("admin API at ", 1)[1].strip()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def get_json(self, path: str) -> Any:
        return json.loads(self._call("GET", path)[1])

    def post_json(self, path: str, body: object) -> tuple[int, Any]:
        status, text = self._call("POST", path, json.dumps(body).encode())
        return status, json.loads(text)

    def text(self, path: str) -> str:
        return self._call("GET", path)[1]

    def _call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection(self.admin.removeprefix("http://"), timeout=10)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        reply = connection.getresponse()
        text = reply.read().decode()
        connection.close()
        return reply.status, text

    def workers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get_json("/healthz").get("workers", [])
        return found

    def routable(self) -> set[str]:
        report = self.get_json("/backendhealth")
        return {
            server["address"]
            for pool in report["backendAddressPools"]
            for item in pool["backendHttpSettingsCollection"]
            for server in item["servers"]
            if server["routable"]
        }

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        assert self.process.stderr is not None
        assert self.process.stdout is not None
        self.stderr = self.process.stderr.read()
        self._reader.join(5)
        self.process.stderr.close()
        self.process.stdout.close()
        return code


@contextmanager
def running(path: Path, doc: dict[str, Any], *options: str) -> Iterator[Running]:
    gateway = Running(path, doc, *options)
    try:
        yield gateway
    finally:
        gateway.stop()


@dataclass(slots=True)
class Answer:
    at: float  # wall clock when the answer (or the failure) arrived
    client: int
    status: int  # 0: the request failed without an answer
    backend: str = ""
    worker: str = ""  # the trace-id prefix of the worker that forwarded it
    detail: str = ""


def request(
    port: int,
    path: str = "/",
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[Answer, http.client.HTTPResponse | None]:
    """One GET (on `connection`, else a new one, closed after); failures are answers too."""
    own = connection is None
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "app.test", **(headers or {})})
        reply = conn.getresponse()
        body = reply.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        return Answer(time.time(), 0, 0, detail=f"{type(exc).__name__}: {exc}"), None
    finally:
        if own:
            conn.close()
    name, _, trace = body.partition(" ")
    answer = Answer(time.time(), 0, reply.status, name, trace[:16], body[:200])
    return answer, reply


@dataclass
class Load:
    """Client threads sending GETs until stopped (`keep_alive` of them on one connection each,
    the others on a new connection per request); every answer is recorded with its time."""

    port: int
    clients: int = 8
    keep_alive: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True)
            for i in range(self.clients)
        ]

    def _client(self, index: int) -> None:
        connection = None
        while not self._stop.is_set():
            if index < self.keep_alive and connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            answer, _ = request(self.port, headers=self.headers, connection=connection)
            if answer.status == 0:
                connection = None
            answer.client = index
            with self._lock:
                self.answers.append(answer)
        if connection is not None:
            connection.close()

    def ok(self) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.status == 200]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


def wait_until(predicate: Callable[[], object], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
