"""The admin API attacked from outside over real loopback sockets (issue 10): DNS rebinding (foreign
`Host`), cross-site writes (foreign `Origin`, non-JSON POSTs), bad bodies, control characters,
enum values, the headers of every answer, methods uvicorn cannot parse, and faults of ours.

Every request is written byte for byte on a raw socket, so what is asserted is what a browser or
an attacker's script would get, with no client library in between.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.proxykit import (
    RecordingBackend,
    Reply,
    RunningGateway,
    config,
    free_port,
    send_raw,
)

TOKEN = "s3cret-token-0123456789"
ONDEMAND = {"backendAddressPool": "web", "backendHttpSettings": "s"}


@pytest.fixture(scope="module")
def backend() -> Iterator[RecordingBackend]:
    with RecordingBackend("web") as server:
        yield server


def start(folder: Path, backend: RecordingBackend, admin: dict[str, Any]) -> RunningGateway:
    document = config(free_port(), {"web": [backend]}, extra={"admin": {"port": 0, **admin}})
    return RunningGateway(folder, document).start()


@pytest.fixture(scope="module")
def open_gateway(
    tmp_path_factory: pytest.TempPathFactory, backend: RecordingBackend
) -> Iterator[RunningGateway]:
    """No token (the default): the Host check applies; `admin.allowedHosts` adds one name."""
    gateway = start(tmp_path_factory.mktemp("open"), backend, {"allowedHosts": ["Admin.Test"]})
    try:
        gateway.wait_routable("web", 1)
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def token_gateway(
    tmp_path_factory: pytest.TempPathFactory, backend: RecordingBackend
) -> Iterator[RunningGateway]:
    gateway = start(tmp_path_factory.mktemp("token"), backend, {"token": TOKEN})
    try:
        yield gateway
    finally:
        gateway.stop()


def port_of(gateway: RunningGateway) -> int:
    assert gateway.admin_url is not None
    port = urlsplit(gateway.admin_url).port
    assert port is not None
    return port


def call(
    gateway: RunningGateway,
    method: str,
    path: str,
    *,
    host: str | None = "127.0.0.1",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    content_type: str | None = "application/json",
) -> Reply:
    lines = [f"{method} {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    if body is not None:
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("Connection: close")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
    found = send_raw(port_of(gateway), raw, wait_close=False)
    assert found.replies, f"no answer to {method} {path}: {found.raw!r}"
    return found.replies[0]


def post(gateway: RunningGateway, path: str, document: object, **options: Any) -> Reply:
    return call(gateway, "POST", path, body=json.dumps(document).encode(), **options)


def error_of(reply: Reply) -> dict[str, str]:
    assert (reply.header("content-type") or "").startswith("application/json"), reply
    error: dict[str, str] = json.loads(reply.body)["error"]
    return error


def assert_safe(reply: Reply) -> None:
    """The headers every JSON answer carries, and no CORS header ever."""
    assert reply.header("x-content-type-options") == "nosniff", reply.headers
    assert reply.header("cache-control") == "no-store", reply.headers
    assert not [k for k, _ in reply.headers if k.lower().startswith("access-control-")]
    for words in ("Traceback", "Error:", "Exception", "codec", "line 1 column"):
        assert words not in reply.body.decode("utf-8", "replace")


# ------------------------------------------------------------------------ DNS rebinding

ROUTES = [
    ("GET", "/backendhealth"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/"),
    ("GET", "/dashboard/app.js"),
    ("POST", "/reload"),
    ("POST", "/backendhealth/ondemand"),
]


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("rebind.attacker.example", id="name"),
        pytest.param("rebind.attacker.example:9090", id="name-port"),
        pytest.param("127.0.0.1.attacker.example", id="loopback-prefix"),
        pytest.param("localhost.attacker.example", id="localhost-prefix"),
        pytest.param("10.0.0.5", id="other-address"),
        pytest.param("127.0.0.1:notaport", id="bad-port"),
        pytest.param("", id="empty"),
    ],
)
def test_a_foreign_host_is_refused_on_every_route(open_gateway: RunningGateway, host: str) -> None:
    for method, path in ROUTES:
        body = b"{}" if method == "POST" else None
        reply = call(open_gateway, method, path, host=host, body=body)
        assert reply.status == 421, (method, path, reply)
        assert error_of(reply)["code"] == "HostNotAllowed"
        assert_safe(reply)
    assert open_gateway.gateway is not None
    assert open_gateway.gateway.scheduler.completed > 0  # it kept probing; nothing reloaded


def test_a_request_without_host_is_refused(open_gateway: RunningGateway) -> None:
    """HTTP/1.1 requires Host (h11 answers 400); HTTP/1.0 may omit it, and is refused too."""
    assert call(open_gateway, "GET", "/backendhealth", host=None).status == 400
    found = send_raw(port_of(open_gateway), b"GET /backendhealth HTTP/1.0\r\n\r\n")
    assert found.replies[0].status == 421
    assert "no Host header" in error_of(found.replies[0])["message"]
    twice = b"GET /backendhealth HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"
    assert send_raw(port_of(open_gateway), twice).replies[0].status in (400, 421)


def test_healthz_answers_any_host(open_gateway: RunningGateway) -> None:
    reply = call(open_gateway, "GET", "/healthz", host="rebind.attacker.example")
    assert reply.status == 200
    assert json.loads(reply.body)["status"] == "ok"
    assert_safe(reply)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:{port}",
        "LOCALHOST",
        "localhost:{port}",
        "localhost.:8080",
        "[::1]:{port}",
        "[::1]",
        "127.0.0.42",
        "admin.test",
        "Admin.Test:{port}",
    ],
)
def test_the_admin_address_and_allowed_hosts_pass(open_gateway: RunningGateway, host: str) -> None:
    reply = call(
        open_gateway, "GET", "/backendhealth", host=host.format(port=port_of(open_gateway))
    )
    assert reply.status == 200, reply
    assert_safe(reply)


def test_with_a_token_the_token_is_the_guard(token_gateway: RunningGateway) -> None:
    """A rebinding page cannot send the token, so any Host may ask; without the token, 401."""
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    reply = call(token_gateway, "GET", "/backendhealth", host="gateway.example", headers=bearer)
    assert reply.status == 200
    reply = call(token_gateway, "GET", "/backendhealth", host="gateway.example")
    assert reply.status == 401
    assert reply.header("www-authenticate") == 'Bearer realm="probegate"'
    assert_safe(reply)
    wrong = {"Authorization": f"Bearer {TOKEN}x"}
    assert call(token_gateway, "GET", "/metrics", headers=wrong).status == 401
    assert call(token_gateway, "GET", "/", host="gateway.example").status == 200  # the page
    document = json.loads(call(token_gateway, "GET", "/openapi.json", headers=bearer).body)
    assert document["security"] == [{"bearer": []}]


# ------------------------------------------------------------------------ cross-site writes


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("text/plain", id="text"),
        pytest.param("application/x-www-form-urlencoded", id="form"),
        pytest.param("multipart/form-data; boundary=x", id="multipart"),
        pytest.param("application/json; charset=latin-1", id="latin-1"),
        pytest.param("application/jsonx", id="lookalike"),
        pytest.param(None, id="none"),
    ],
)
def test_a_post_must_be_json(open_gateway: RunningGateway, content_type: str | None) -> None:
    for path, document in (("/reload", {}), ("/backendhealth/ondemand", ONDEMAND)):
        reply = post(open_gateway, path, document, content_type=content_type)
        assert reply.status == 415, (path, reply)
        assert error_of(reply)["code"] == "UnsupportedMediaType"
        assert_safe(reply)


def test_json_with_utf8_charset_is_fine(open_gateway: RunningGateway) -> None:
    reply = post(
        open_gateway,
        "/backendhealth/ondemand",
        ONDEMAND,
        content_type="Application/JSON; charset=UTF-8",
    )
    assert reply.status == 200, reply


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("http://attacker.example", id="other-site"),
        pytest.param("http://127.0.0.1:1", id="other-port"),
        pytest.param("null", id="null"),
        pytest.param("file://", id="file"),
        pytest.param("http://127.0.0.1:{port}@attacker.example", id="userinfo"),
    ],
)
def test_a_foreign_origin_is_refused(open_gateway: RunningGateway, origin: str) -> None:
    headers = {"Origin": origin.format(port=port_of(open_gateway))}
    for path, document in (("/reload", {}), ("/backendhealth/ondemand", ONDEMAND)):
        reply = post(open_gateway, path, document, headers=headers)
        assert reply.status == 403, (path, reply)
        assert error_of(reply)["code"] == "ForeignOrigin"
        assert_safe(reply)


def test_the_api_own_origin_may_post(open_gateway: RunningGateway) -> None:
    port = port_of(open_gateway)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        headers = {"Origin": f"http://{host}"}
        reply = post(open_gateway, "/backendhealth/ondemand", ONDEMAND, host=host, headers=headers)
        assert reply.status == 200, reply


def test_a_preflight_gets_no_cors_answer(open_gateway: RunningGateway) -> None:
    preflight = {
        "Origin": "http://attacker.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    reply = call(open_gateway, "OPTIONS", "/reload", headers=preflight)
    assert reply.status == 405
    assert error_of(reply)["code"] == "MethodNotAllowed"
    assert_safe(reply)


# ------------------------------------------------------------------------ bodies and fields


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        pytest.param(b'{"backendAddressPool": "\xff\xfe"}', 400, "not UTF-8", id="bad-utf8"),
        pytest.param(b"\xed\xa0\x80", 400, "not UTF-8", id="surrogate"),
        pytest.param(b'{"timeout": ', 400, "not valid JSON (line 1, column 13)", id="cut"),
        pytest.param(b'{"timeout": NaN}', 400, "NaN", id="nan"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, 413, "larger than", id="deep-and-big"),
        pytest.param(b"[" * 5000 + b"]" * 5000, 400, "nested too deeply", id="deep"),
        pytest.param(b"", 400, "empty", id="empty"),
        pytest.param(b"[]", 400, "JSON object", id="not-an-object"),
        pytest.param(b"{}" + b" " * 70_000, 413, "larger than 65536 bytes", id="too-large"),
    ],
)
def test_bad_bodies_get_a_clean_400(
    open_gateway: RunningGateway, body: bytes, status: int, words: str
) -> None:
    reply = call(open_gateway, "POST", "/backendhealth/ondemand", body=body)
    assert reply.status == status, reply
    assert words in error_of(reply)["message"]
    assert_safe(reply)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        pytest.param({"path": "/a\x00b"}, "U+0000", id="nul"),
        pytest.param({"path": "/a\x7f"}, "U+007F", id="del"),
        pytest.param({"path": "/a\r\nX-Injected: yes"}, "U+000D", id="crlf"),
        pytest.param({"path": "/é"}, "percent-encoded: '/%C3%A9'", id="non-latin"),
        pytest.param({"path": "/" + "a" * 40_000}, "at most 2048 characters", id="long-path"),
        pytest.param({"host": "app\x00.test"}, "U+0000", id="host-nul"),
        pytest.param({"host": "a" * 300}, "not a valid host name", id="long-host"),
        pytest.param({"timeout": 86400}, "between 1 and 1", id="timeout-over-cap"),
        pytest.param({"protocol": "gopher"}, "Http or Https", id="protocol"),
        pytest.param({"match": {"statusCodes": ["599-100"]}}, "low end first", id="backwards"),
        pytest.param({"match": {"body": "x" * 5000}}, "at most 4090", id="match-body"),
        pytest.param({"backendAddressPool": "x" * 5000}, "at most 1024", id="long-name"),
    ],
)
def test_bad_fields_are_refused_before_any_probe(
    open_gateway: RunningGateway, backend: RecordingBackend, overrides: dict[str, Any], words: str
) -> None:
    seen = len(backend.requests)
    reply = post(open_gateway, "/backendhealth/ondemand", {**ONDEMAND, **overrides})
    assert reply.status == 400, reply
    message = error_of(reply)["message"]
    assert words in message
    assert len(message) < 400  # the value is not echoed back in full
    assert_safe(reply)
    assert len(backend.requests) == seen  # nothing reached the backend


def test_unknown_names_and_conflicts(open_gateway: RunningGateway) -> None:
    reply = post(open_gateway, "/backendhealth/ondemand", {**ONDEMAND, "backendAddressPool": "x"})
    assert (reply.status, error_of(reply)["code"]) == (404, "NotFound")
    conflict = {**ONDEMAND, "pickHostNameFromBackendHttpSettings": True}
    reply = post(open_gateway, "/backendhealth/ondemand", conflict)
    assert (reply.status, error_of(reply)["code"]) == (409, "Conflict")


@pytest.mark.parametrize(
    "query", ["lang=AAA", "lang=", "lang=KO", "expand=", "expand=all", "lang=ko&expand=x"]
)
def test_enum_values_outside_the_document_are_refused(
    open_gateway: RunningGateway, query: str
) -> None:
    reply = call(open_gateway, "GET", f"/backendhealth?{query}")
    assert reply.status == 400, reply
    assert error_of(reply)["code"] == "InvalidQuery"


def test_the_enum_values_work(open_gateway: RunningGateway) -> None:
    for query in ("lang=ko", "lang=en&expand=history", "expand=history"):
        assert call(open_gateway, "GET", f"/backendhealth?{query}").status == 200


def test_reload_takes_an_empty_object(open_gateway: RunningGateway) -> None:
    reply = post(open_gateway, "/reload", {"force": True})
    assert reply.status == 400
    reply = post(open_gateway, "/reload", {})
    assert reply.status == 200, reply
    assert json.loads(reply.body)["status"] == "reloaded"
    assert_safe(reply)


# ------------------------------------------------------------------------ methods and faults


@pytest.mark.parametrize(
    ("request_line", "status", "code"),
    [
        pytest.param("FOO /backendhealth HTTP/1.1", 405, "MethodNotAllowed", id="unknown-method"),
        pytest.param("PROPFIND / HTTP/1.1", 405, "MethodNotAllowed", id="webdav"),
        pytest.param("G@T / HTTP/1.1", 400, "BadRequest", id="not-a-token"),
        pytest.param("GET / HTTP/1.1\r\nno colon", 400, "BadRequest", id="header-line"),
        pytest.param("\x00\x01\x02", 400, "BadRequest", id="garbage"),
    ],
)
def test_what_the_server_cannot_parse_is_answered_in_json(
    open_gateway: RunningGateway, request_line: str, status: int, code: str
) -> None:
    raw = f"{request_line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode("latin-1")
    found = send_raw(port_of(open_gateway), raw)
    assert found.replies, found.raw
    reply = found.replies[0]
    assert reply.status == status, found.raw
    assert error_of(reply)["code"] == code
    assert_safe(reply)
    if status == 405:
        assert reply.header("allow")


def test_every_answer_is_json_even_near_a_route(open_gateway: RunningGateway) -> None:
    for method, path in (("GET", "/backendhealth/"), ("POST", "/reload/"), ("GET", "/nope")):
        reply = call(open_gateway, method, path, body=b"{}" if method == "POST" else None)
        assert reply.status == 404, (path, reply)
        assert error_of(reply)["code"] == "NotFound"
        assert_safe(reply)
    reply = call(open_gateway, "HEAD", "/backendhealth")
    assert reply.status == 200
    assert reply.header("cache-control") == "no-store"


def test_a_fault_of_ours_is_logged_not_shown(
    open_gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = open_gateway.gateway
    assert gateway is not None

    async def broken() -> bytes:
        raise RuntimeError("secret internal detail /etc/probegate")

    gateway.metrics = broken  # type: ignore[method-assign]
    try:
        with caplog.at_level("ERROR", logger="probegate.admin"):
            reply = call(open_gateway, "GET", "/metrics")
    finally:
        del gateway.metrics
    assert reply.status == 500
    assert error_of(reply) == {
        "code": "InternalError",
        "message": "the request failed inside the gateway",
    }
    assert b"secret" not in reply.body
    assert_safe(reply)
    assert "secret internal detail" in caplog.text  # the operator sees it in the log


# It patches the scheduler's `stalled`, which the compiled Scheduler does not allow: scripts/test
# runs it in the interpreted pass.
@pytest.mark.interpreted
def test_healthz_fails_while_the_prober_is_stalled(
    open_gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = open_gateway.gateway
    assert gateway is not None
    with monkeypatch.context() as patch:
        patch.setattr(
            gateway.scheduler, "stalled", lambda _now=None: "a probe due 12 s ago has not started"
        )
        reply = call(open_gateway, "GET", "/healthz", host="lb.example")
    assert reply.status == 503
    body = json.loads(reply.body)
    assert (body["status"], body["problem"]) == ("failing", "a probe due 12 s ago has not started")
    assert_safe(reply)
    assert call(open_gateway, "GET", "/healthz").status == 200
