"""`probegate.fleet.fetch` against real loopback servers that answer badly: every way an
instance can fail to give its backend health becomes a Problem with its code, never an
exception; a good answer is handed over as it is, with the token and language sent."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from probegate.demo.backends import unused_port
from probegate.fleet.fetch import ask, ask_all
from probegate.fleet.instances import Instance
from probegate.i18n import Lang

DOCUMENT = {
    "backendAddressPools": [
        {
            "backendAddressPool": {"name": "web"},
            "backendHttpSettingsCollection": [
                {
                    "backendHttpSettings": {"name": "web-http"},
                    "servers": [
                        {"address": "10.0.0.1:80", "health": "Healthy", "reason": "success"}
                    ],
                }
            ],
        }
    ]
}


class Answer(BaseHTTPRequestHandler):
    status = 200
    body: ClassVar[bytes] = json.dumps(DOCUMENT).encode()
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


def answering(status: int, body: bytes) -> type[Answer]:
    return type("Custom", (Answer,), {"status": status, "body": body, "seen": []})


@contextmanager
def server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def instance(url: str, token: str | None = None) -> Instance:
    return Instance("x", url, token)


def test_a_good_answer_is_handed_over_with_the_token_and_language_sent() -> None:
    handler = answering(200, json.dumps(DOCUMENT).encode())
    with server(handler) as url:
        report = ask(instance(url, "secret"), Lang.KO)
    assert (report.document, report.problem) == (DOCUMENT, None)
    assert handler.seen == [("/backendhealth?lang=ko", "Bearer secret")]


@pytest.mark.parametrize(
    ("status", "body", "code", "http_status", "words"),
    [
        pytest.param(401, b'{"error": {"code": "Unauthorized", "message": "x"}}', "unauthorized", 401, "PROBEGATE_TOKEN", id="401"),
        pytest.param(421, b'{"error": {"code": "HostNotAllowed", "message": "answers only to its own address"}}', "http-error", 421, "421: answers only to its own address", id="421-with-its-message"),
        pytest.param(500, b"<html>oops</html>", "http-error", 500, "500: Internal Server Error", id="500-not-json"),
        pytest.param(200, b"<html>a web page</html>", "not-json", None, "not a backend-health document", id="html"),
        pytest.param(200, b'{"status": "ok"}', "not-json", None, "not a backend-health document", id="other-json"),
        pytest.param(200, b'{"backendAddressPools": [{"backendAddressPool": {"name": "w"}, "backendHttpSettingsCollection": [{"backendHttpSettings": {"name": "s"}, "servers": [{"address": "a"}]}]}]}', "not-json", None, "not a backend-health document", id="server-without-health"),
    ],
)  # fmt: skip
def test_bad_answers_become_problems(
    status: int, body: bytes, code: str, http_status: int | None, words: str
) -> None:
    with server(answering(status, body)) as url:
        report = ask(instance(url))
    assert report.document is None
    assert report.problem is not None
    assert (report.problem.code, report.problem.status) == (code, http_status)
    assert words in report.problem.message


def test_nothing_listening_is_connection_refused_in_either_language() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    english, korean = ask(instance(url)), ask(instance(url), Lang.KO)
    assert english.problem is not None
    assert korean.problem is not None
    assert english.problem.code == korean.problem.code == "connection-refused"
    assert "연결 거부됨" in korean.problem.message


def test_an_instance_that_never_answers_is_a_timeout() -> None:
    with closing(socket.create_server(("127.0.0.1", 0))) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        report = ask(instance(url), timeout=0.5)
    assert report.problem is not None
    assert (report.problem.code, report.problem.message) == ("timeout", "no answer within 0.5 s")


def test_an_instance_that_is_not_http_is_said_so() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def garbage() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=garbage, daemon=True).start()
    with closing(listener):
        report = ask(instance(f"http://127.0.0.1:{listener.getsockname()[1]}"))
    assert report.problem is not None
    assert report.problem.code == "not-json"


def test_ask_all_keeps_the_order_and_one_failure_hides_nothing() -> None:
    with server(answering(200, json.dumps(DOCUMENT).encode())) as good:
        dead = f"http://127.0.0.1:{unused_port()}"
        reports = ask_all([Instance("a", good, None), Instance("b", dead, None), Instance("c", good, None)])  # fmt: skip
    assert [(r.name, r.document is not None) for r in reports] == [("a", True), ("b", False), ("c", True)]  # fmt: skip
    assert ask_all([]) == []
