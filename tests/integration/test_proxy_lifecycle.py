"""TLS on both sides, reload, draining and stop, over real sockets."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import trustme

from probegate.demo.backends import TlsBackend, wait_until
from tests.integration.proxykit import (
    RecordingBackend,
    Reply,
    RunningGateway,
    config,
    free_port,
    get,
    send_raw,
)

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath

# ------------------------------------------------------------------ HTTPS listeners


def _listener_cert(folder: Path, ca: trustme.CA, name: str) -> dict[str, str]:
    issued = ca.issue_cert(name)
    chain, key = folder / f"{name}.pem", folder / f"{name}.key"
    chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    key.write_bytes(issued.private_key_pem.bytes())
    return {"name": name, "certFile": str(chain), "keyFile": str(key)}


def _https_get(port: int, server_name: str, ca: trustme.CA) -> tuple[Reply, str]:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with context.wrap_socket(raw, server_hostname=server_name) as tls:
        peer = tls.getpeercert()
        names = dict(peer["subjectAltName"]) if peer else {}  # type: ignore[arg-type]
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    headers = [tuple(line.split(": ", 1)) for line in head.decode().split("\r\n")[1:]]
    return Reply(int(head[9:12]), [(k, v) for k, v in headers], body), str(names["DNS"])


def test_https_listeners_choose_their_certificate_by_sni(tmp_path: Path, ca: trustme.CA) -> None:
    with RecordingBackend("a") as a, RecordingBackend("b") as b:
        port = free_port()
        document = config(port, {"pa": [a], "pb": [b]})
        document["sslCertificates"] = [
            _listener_cert(tmp_path, ca, "a.test"),
            _listener_cert(tmp_path, ca, "b.test"),
        ]
        document["httpListeners"] = [
            {
                "name": "la",
                "port": port,
                "protocol": "Https",
                "hostNames": ["a.test"],
                "sslCertificate": "a.test",
            },
            {
                "name": "lb",
                "port": port,
                "protocol": "Https",
                "hostNames": ["b.test"],
                "sslCertificate": "b.test",
            },
        ]
        document["requestRoutingRules"] = [
            {
                "name": "ra",
                "ruleType": "Basic",
                "priority": 1,
                "httpListener": "la",
                "backendAddressPool": "pa",
                "backendHttpSettings": "s",
            },
            {
                "name": "rb",
                "ruleType": "Basic",
                "priority": 2,
                "httpListener": "lb",
                "backendAddressPool": "pb",
                "backendHttpSettings": "s",
            },
        ]
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("pa", 1)
            gw.wait_routable("pb", 1)
            reply_a, name_a = _https_get(port, "a.test", ca)
            reply_b, name_b = _https_get(port, "b.test", ca)
    assert (reply_a.status, reply_a.body, name_a) == (200, b"a", "a.test")
    assert (reply_b.status, reply_b.body, name_b) == (200, b"b", "b.test")
    assert b.requests[0].header("x-forwarded-proto") == "https"


def test_plain_http_on_an_https_listener_is_a_400_saying_so(tmp_path: Path, ca: trustme.CA) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        document = config(port, {"pa": [a]})
        document["sslCertificates"] = [_listener_cert(tmp_path, ca, "a.test")]
        document["httpListeners"] = [
            {"name": "front", "port": port, "protocol": "Https", "sslCertificate": "a.test"}
        ]
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("pa", 1)
            conversation = send_raw(port, b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            (plain,) = conversation.replies
            reply, _ = _https_get(port, "a.test", ca)  # TLS on the same port still works
            silent = socket.create_connection(("127.0.0.1", port), timeout=5)
            silent.close()  # a client that leaves without a byte costs nothing
            reply_after, _ = _https_get(port, "a.test", ca)
    assert plain.status == 400
    assert b"plain HTTP request reached an HTTPS port" in plain.body
    assert plain.header("connection") == "close"
    assert conversation.closed
    assert (reply.status, reply.body) == (200, b"a")
    assert (reply_after.status, reply_after.body) == (200, b"a")
    assert len(a.requests) == 2  # the plain request never reached the backend


# ------------------------------------------------------------------ backend TLS


def _tls_settings() -> dict[str, Any]:
    return {
        "protocol": "Https",
        "port": 443,
        "hostName": "backend.test",
        "trustedRootCertificates": ["root"],
    }


def _tls_document(port: int, backend: TlsBackend, root_b64: str, probe_port: int) -> dict[str, Any]:
    document = config(port, {"web": [backend]}, settings=_tls_settings())
    document["trustedRootCertificates"] = [{"name": "root", "data": root_b64}]
    document["probes"][0] |= {
        "protocol": "Https",
        "port": probe_port,
        "host": None,
        "pickHostNameFromBackendHttpSettings": True,
    }
    del document["probes"][0]["host"]
    return document


def test_backend_tls_with_the_probes_trust_rules(
    tmp_path: Path, ca: trustme.CA, root_b64: str
) -> None:
    issued = ca.issue_cert("backend.test")
    chain = [blob.bytes() for blob in issued.cert_chain_pems]
    with TlsBackend(chain, issued.private_key_pem.bytes(), body=b"secure") as backend:
        port = free_port()
        with RunningGateway(tmp_path, _tls_document(port, backend, root_b64, backend.port)) as gw:
            gw.wait_routable("web", 1)
            reply = get(port)
    assert (reply.status, reply.body) == (200, b"secure")
    assert backend.server_names[-1] == "backend.test"


def test_live_traffic_refuses_a_certificate_the_probes_would_refuse(
    tmp_path: Path, ca: trustme.CA, root_b64: str
) -> None:
    """The probe passes on a good server; traffic goes to one whose name is wrong: 502."""
    good = ca.issue_cert("backend.test")
    wrong = ca.issue_cert("wrong.test")
    with (
        TlsBackend([b.bytes() for b in good.cert_chain_pems], good.private_key_pem.bytes()) as ok,
        TlsBackend(
            [b.bytes() for b in wrong.cert_chain_pems], wrong.private_key_pem.bytes()
        ) as bad,
    ):
        port = free_port()
        with RunningGateway(tmp_path, _tls_document(port, bad, root_b64, ok.port)) as gw:
            gw.wait_routable("web", 1)
            reply = get(port)
    assert reply.status == 502
    assert b"backend-certificate-invalid-common-name-cn" in reply.body


# ------------------------------------------------------------------ reload and draining


def test_invalid_reload_keeps_the_old_configuration_serving(tmp_path: Path) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        document = config(port, {"web": [a]})
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            broken = {**document, "backendAddressPools": [{"name": "web", "bogus": 1}]}
            problems = gw.reload(broken)
            assert problems
            assert any("bogus" in p for p in problems)
            assert get(port).status == 200


def test_removed_member_drains_pinned_clients_then_stops(tmp_path: Path) -> None:
    a, b = RecordingBackend("a").start(), RecordingBackend("b").start()
    port = free_port()
    settings = {
        "cookieBasedAffinity": "Enabled",
        "connectionDraining": {"enabled": True, "drainTimeoutInSec": 2},
    }
    document = config(port, {"web": [a, b]}, settings=settings)
    try:
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 2)
            cookie = _cookie_for(port, b"b")
            slow: list[Reply] = []
            in_flight = threading.Thread(target=lambda: slow.append(_slow_to(port, cookie)))
            in_flight.start()
            wait_until(lambda: any(s.target == "/slow/1" for s in b.requests), 5, "slow request")
            document["backendAddressPools"][0]["backendAddresses"] = [
                {"ipAddress": a.host, "port": a.port}
            ]
            assert gw.reload(document) == []
            removed_at = time.monotonic()
            assert get(port, headers=cookie).body == b"b"  # pinned: still b while draining
            assert {get(port).body for _ in range(4)} == {b"a"}  # new clients: never b
            wait_until(lambda: get(port, headers=cookie).body == b"a", 10, "the drain to end")
            assert time.monotonic() - removed_at > 1.0
            in_flight.join(10)
    finally:
        a.stop()
        b.stop()
    assert [(r.status, r.body) for r in slow] == [(200, b"slow b")]


def _cookie_for(port: int, body: bytes) -> str:
    for _ in range(10):
        reply = get(port)
        if reply.body == body:
            found = reply.header("set-cookie")
            assert found is not None
            return f"Cookie: {found.split(';')[0]}\r\n"
    raise AssertionError(f"no answer from {body!r}")


def _slow_to(port: int, cookie: str) -> Reply:
    return get(port, "/slow/1", headers=cookie)


def test_stop_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        gw = RunningGateway(tmp_path, config(port, {"web": [a]})).start()
        try:
            gw.wait_routable("web", 1)
            replies: list[Any] = []
            client = threading.Thread(
                target=lambda: replies.append(
                    send_raw(port, b"GET /slow/1 HTTP/1.1\r\nHost: x\r\n\r\n")
                )
            )
            client.start()
            wait_until(lambda: len(a.requests) == 1, 5, "the request to reach the backend")
        finally:
            gw.stop()
        client.join(10)
    conversation = replies[0]
    assert conversation.replies[0].status == 200
    assert conversation.replies[0].header("connection") == "close"
    assert conversation.closed
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    assert refused


def test_reload_moves_listeners_and_switches_protocol_on_a_port(
    tmp_path: Path, ca: trustme.CA
) -> None:
    with RecordingBackend("a") as a:
        port, other = free_port(), free_port()
        document = config(port, {"web": [a]})
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            document["httpListeners"][0]["port"] = other
            assert gw.reload(document) == []
            assert get(other).body == b"a"
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            document["sslCertificates"] = [_listener_cert(tmp_path, ca, "a.test")]
            document["httpListeners"][0] |= {"protocol": "Https", "sslCertificate": "a.test"}
            assert gw.reload(document) == []
            reply, name = _https_get(other, "a.test", ca)
    assert (reply.status, reply.body, name) == (200, b"a", "a.test")
