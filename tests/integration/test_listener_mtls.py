"""Mutual TLS and requireServerNameIndication on HTTPS listeners, over real sockets on loopback:
clients with a good certificate, one from another CA, none, and one revoked as a local
`openssl ocsp` responder (on 127.0.0.1, named in the certificate) says. Needs the `openssl`
command (Debian: openssl)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from tests.integration.proxykit import RecordingBackend, RunningGateway, config, free_port

OPENSSL = shutil.which("openssl")
if OPENSSL is None:  # under CI=true the conftest turns a missing tool into a failure
    pytest.skip("the openssl command is needed", allow_module_level=True)

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        cert, key = folder / f"{name}.pem", folder / f"{name}.key"
        cert.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert, key


def _issue(
    name: str,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    ocsp_url: str | None = None,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if ocsp_url is not None:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


@pytest.fixture
def server_cert(tmp_path: Path) -> tuple[Path, Path]:
    ca = trustme.CA()
    issued = ca.issue_cert("gw.test", "other.test")
    chain, key = tmp_path / "gw.pem", tmp_path / "gw.key"
    chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    key.write_bytes(issued.private_key_pem.bytes())
    return chain, key


@pytest.fixture
def gateway(tmp_path: Path, server_cert: tuple[Path, Path]) -> Iterator[Any]:
    chain, key = server_cert

    def start(profile: dict[str, Any] | None = None, **listener: Any) -> tuple[RunningGateway, int]:
        port = free_port()
        extra: dict[str, Any] = {"accessLog": {"enabled": True, "path": str(tmp_path / "a.jsonl")}}
        if profile is not None:
            extra["sslProfiles"] = [{"name": "mtls"} | profile]
            extra["trustedClientCertificates"] = [
                {"name": "clients", "certFile": str(tmp_path / "client-ca.pem")}
            ]
            listener["sslProfile"] = "mtls"
        document = config(port, {"web": [backend]}, extra=extra)
        document["sslCertificates"] = [{"name": "gw", "certFile": str(chain), "keyFile": str(key)}]
        document["httpListeners"][0] |= {"protocol": "Https", "sslCertificate": "gw"} | listener
        running = RunningGateway(tmp_path, document).start()
        running.wait_routable("web", 1)
        started.append(running)
        return running, port

    started: list[RunningGateway] = []
    with RecordingBackend("a") as backend:
        yield start
        for running in started:
            running.stop()


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Issued]:
    """A client CA (written where the gateway's file reads it), its clients and another CA."""
    ca = _issue("Client Root", ca=True)
    ca.write(tmp_path, "client-ca")
    other = _issue("Other Root", ca=True)
    return {
        "ca": ca,
        "good": _issue("good client", ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH),
        "server-only": _issue("server usage", ca, usage=ExtendedKeyUsageOID.SERVER_AUTH),
        "foreign": _issue("foreign client", other),
    }


def _get(port: int, folder: Path, client: Issued | None, name: str = "gw.test") -> int:
    """One GET over TLS with `client`'s certificate (or none); the answer's status."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if client is not None:
        context.load_cert_chain(*client.write(folder, f"c{id(client)}"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with raw, context.wrap_socket(raw, server_hostname=name) as tls:
        tls.sendall(b"GET /x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def _log(folder: Path, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    path = folder / "a.jsonl"
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} access-log entries")


def test_mutual_tls_lets_in_only_a_valid_client_certificate(
    gateway: Any, pki: dict[str, Issued], tmp_path: Path
) -> None:
    _, port = gateway({"trustedClientCertificates": ["clients"]})
    assert _get(port, tmp_path, pki["good"]) == 200
    assert _get(port, tmp_path, None) == 400
    assert _get(port, tmp_path, pki["foreign"]) == 400
    assert _get(port, tmp_path, pki["server-only"]) == 400
    entries = _log(tmp_path, 4)
    reasons = [e["error_info"] for e in entries]
    assert reasons[0] == ""
    assert reasons[1] == "mutual TLS: no client certificate was sent"
    assert (
        reasons[2] == "mutual TLS: client certificate FAILED:unable to get local issuer certificate"
    )
    assert reasons[3] == "mutual TLS: client certificate FAILED:unsupported certificate purpose"
    assert [e["httpStatus"] for e in entries] == [200, 400, 400, 400]


def test_without_mutual_tls_no_certificate_is_asked_for(
    gateway: Any, pki: dict[str, Issued], tmp_path: Path
) -> None:
    _, port = gateway()
    assert _get(port, tmp_path, None) == 200
    assert _get(port, tmp_path, pki["foreign"]) == 200


def test_issuer_dn_check(gateway: Any, pki: dict[str, Issued], tmp_path: Path) -> None:
    intermediate = _issue("Client Issuing CA", pki["ca"], ca=True)
    (tmp_path / "client-ca.pem").write_bytes(
        intermediate.cert.public_bytes(serialization.Encoding.PEM)
        + pki["ca"].cert.public_bytes(serialization.Encoding.PEM)
    )
    by_intermediate = _issue("via intermediate", intermediate)
    auth = {"verifyClientCertIssuerDN": True}
    _, port = gateway({"trustedClientCertificates": ["clients"], "clientAuthConfiguration": auth})
    assert _get(port, tmp_path, by_intermediate) == 200
    assert _get(port, tmp_path, pki["good"]) == 400  # issued by the root, not the issuing CA
    assert _log(tmp_path, 2)[1]["error_info"].endswith(
        "FAILED:the issuer DN is not that of a trusted client CA"
    )


@pytest.fixture
def responder(tmp_path: Path, pki: dict[str, Issued]) -> Iterator[tuple[str, dict[str, Issued]]]:
    """`openssl ocsp` on 127.0.0.1 for the client CA: one good and one revoked client."""
    assert OPENSSL is not None
    ca = pki["ca"]
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    signer = _issue("OCSP responder", ca, usage=ExtendedKeyUsageOID.OCSP_SIGNING)
    clients = {
        name: _issue(name, ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH, ocsp_url=url)
        for name in ("good", "revoked")
    }
    expiry = (NOW + dt.timedelta(days=30)).strftime("%y%m%d%H%M%SZ")
    revoked_at = (NOW - dt.timedelta(minutes=5)).strftime("%y%m%d%H%M%SZ")
    lines = []
    for name, client in clients.items():
        serial = f"{client.cert.serial_number:X}"
        serial = serial if len(serial) % 2 == 0 else "0" + serial
        state, when = ("R", revoked_at) if name == "revoked" else ("V", "")
        lines.append(f"{state}\t{expiry}\t{when}\t{serial}\tunknown\t/CN={name}\n")
    (tmp_path / "index.txt").write_text("".join(lines))
    ca_pem, _ = ca.write(tmp_path, "ocsp-ca")
    signer_pem, signer_key = signer.write(tmp_path, "ocsp-signer")
    # `openssl ocsp` answers each request (its file mode: -reqin/-respout); a small HTTP front
    # bound to 127.0.0.1 carries them, because the tool's own server mode listens on every
    # interface (OpenSSL 3.0's -port takes no address) and tests stay on loopback.
    answer = [OPENSSL, "ocsp", "-index", str(tmp_path / "index.txt"), "-CA", str(ca_pem),
              "-rsigner", str(signer_pem), "-rkey", str(signer_key), "-nmin", "5"]  # fmt: skip

    class Responder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            (tmp_path / "request.der").write_bytes(request)
            made = subprocess.run(
                [*answer, "-reqin", str(tmp_path / "request.der"),
                 "-respout", str(tmp_path / "response.der")],
                capture_output=True, timeout=20, check=False,
            )  # fmt: skip
            body = (tmp_path / "response.der").read_bytes() if made.returncode == 0 else b""
            self.send_response(200 if body else 500)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Responder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, clients
    finally:
        server.shutdown()
        server.server_close()


def test_ocsp_refuses_a_revoked_client(
    gateway: Any, responder: tuple[str, dict[str, Issued]], tmp_path: Path
) -> None:
    _, clients = responder
    auth = {"verifyClientRevocation": "OCSP"}
    _, port = gateway({"trustedClientCertificates": ["clients"], "clientAuthConfiguration": auth})
    assert _get(port, tmp_path, clients["good"]) == 200
    assert _get(port, tmp_path, clients["revoked"]) == 400
    assert _log(tmp_path, 2)[1]["error_info"] == (
        "mutual TLS: client certificate FAILED:certificate revoked"
    )


def _s_client(port: int, *options: str) -> bool:
    assert OPENSSL is not None
    done = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", *options],
        input=b"",
        capture_output=True,
        timeout=20,
        check=False,
    )
    return done.returncode == 0 and b"Cipher is (NONE)" not in done.stdout


def test_require_sni_refuses_a_handshake_that_names_no_listener(gateway: Any) -> None:
    _, port = gateway(hostNames=["gw.test"], requireServerNameIndication=True)
    assert _s_client(port, "-servername", "gw.test")
    assert not _s_client(port, "-noservername")
    assert not _s_client(port, "-servername", "other.test")


def test_without_require_sni_a_nameless_handshake_is_served(gateway: Any) -> None:
    _, port = gateway(hostNames=["gw.test"])
    assert _s_client(port, "-noservername")
