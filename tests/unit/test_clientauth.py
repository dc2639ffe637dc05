"""Mutual TLS without sockets: the configuration rules (config/mutualtls.py), the plan each listener
gets, and the verdict and `client_certificate*` values of a presented chain (proxy/clientauth.py),
kept on the client connection."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rich.console import Console

from probegate.config.compile import compile_plan
from probegate.config.load import load_document, validate_document
from probegate.config.mutualtls import ClientAuth
from probegate.explain import explain_data, render
from probegate.proxy.client import ClientConnection
from probegate.proxy.clientauth import NO_CERTIFICATE, judge
from probegate.proxy.mutual import MutualTlsConnection, refusal
from tests.unit.proxyrig import Rig

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
DER = serialization.Encoding.DER


def _cert(
    name: str,
    issuer: tuple[x509.Certificate, Any] | None = None,
    *,
    ca: bool = False,
    days: int = 30,
) -> tuple[x509.Certificate, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(0x1F2E)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer[1] if issuer else key, hashes.SHA256())
    )
    return cert, key


ROOT = _cert("Root", ca=True)
ISSUING = _cert("Issuing", ROOT, ca=True)
BY_ISSUING = _cert("alice", ISSUING)
BY_ROOT = _cert("bob", ROOT)
OTHER = _cert("mallory", _cert("Other", ca=True))


def _auth(*, issuer_dn: bool = False) -> ClientAuth:
    return ClientAuth(
        profile="p",
        cas=(ISSUING[0].public_bytes(DER), ROOT[0].public_bytes(DER)),
        issuer_names=(ISSUING[0].subject.public_bytes(),),
        verify_issuer_dn=issuer_dn,
        ocsp=False,
    )


@pytest.mark.parametrize(
    ("chain", "issuer_dn", "when", "expected"),
    [
        pytest.param([BY_ISSUING], False, NOW, "SUCCESS", id="chain-to-an-uploaded-root"),
        pytest.param([BY_ROOT], False, NOW, "SUCCESS", id="issued-by-the-root"),
        pytest.param([BY_ROOT], True, NOW, "FAILED:the issuer DN is not that of a trusted client CA", id="issuer-dn"),
        pytest.param([BY_ISSUING], True, NOW, "SUCCESS", id="issuer-dn-matches"),
        pytest.param([OTHER], False, NOW, "FAILED:unable to get local issuer certificate", id="another-ca"),
        pytest.param([BY_ISSUING], False, NOW + dt.timedelta(days=60), "FAILED:certificate has expired", id="expired"),
        pytest.param([], False, NOW, "NONE", id="no-certificate"),
    ],
)  # fmt: skip
def test_verdicts(chain: list[Any], issuer_dn: bool, when: dt.datetime, expected: str) -> None:
    ders = [cert.public_bytes(DER) for cert, _ in chain]
    assert judge(ders, _auth(issuer_dn=issuer_dn), when).certificate.verification == expected


def test_the_values_the_rewrite_rules_read() -> None:
    values = judge([BY_ISSUING[0].public_bytes(DER)], _auth(), NOW).certificate.variables()
    assert values == {
        "client_certificate": BY_ISSUING[0].public_bytes(serialization.Encoding.PEM).decode(),
        "client_certificate_end_date": "Jul  1 12:00:00 2026 GMT",
        "client_certificate_fingerprint": hashlib.sha1(BY_ISSUING[0].public_bytes(DER)).hexdigest(),
        "client_certificate_issuer": "CN=Issuing",
        "client_certificate_serial": "1F2E",
        "client_certificate_start_date": "May 31 12:00:00 2026 GMT",
        "client_certificate_subject": "CN=alice",
        "client_certificate_verification": "SUCCESS",
    }


def test_the_connection_holds_them_and_says_none_without_mutual_tls() -> None:
    # Without mutual TLS every connection holds the one shared NONE value (nothing is judged).
    connection, _ = Rig().client()
    assert type(connection) is ClientConnection
    assert connection.client_certificate is NO_CERTIFICATE
    assert issubclass(MutualTlsConnection, ClientConnection)
    assert NO_CERTIFICATE.variables()["client_certificate_verification"] == "NONE"
    assert refusal(NO_CERTIFICATE) == "mutual TLS: no client certificate was sent"


# ------------------------------------------------------------------------ the file's rules


def _document(**extra: Any) -> dict[str, Any]:
    return {
        "httpListeners": [
            {"name": "a", "port": 8443, "protocol": "Https", "sslCertificate": "c",
             "sslProfile": "m"},
            {"name": "h", "port": 8080, "protocol": "Http"},
        ],
        "sslCertificates": [{"name": "c", "certFile": "x.pem", "keyFile": "x.key"}],
        **extra,
    }  # fmt: skip


def _pem(*certs: tuple[x509.Certificate, Any]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c, _ in certs)


def _issues(document: dict[str, Any]) -> list[tuple[str, str]]:
    _, issues = validate_document(document, Path.cwd())
    return [(i.path, i.message) for i in issues if not i.path.startswith("sslCertificates")]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            {"sslProfiles": [{"name": "m", "trustedClientCertificates": ["clients"]}],
             "trustedClientCertificates": [{"name": "client", "data": _pem(ROOT)}]},
            [("sslProfiles[0].trustedClientCertificates[0]",
              "no item of 'trustedClientCertificates' is named 'clients'; did you mean 'client'?")],
            id="unknown-name",
        ),
        pytest.param(
            {"sslProfiles": [{"name": "m", "clientAuthConfiguration": {"verifyClientRevocation": "OCSP"}}]},
            [("sslProfiles[0].clientAuthConfiguration",
              "the profile lists no trustedClientCertificates: mutual TLS needs the CA "
              "certificates that issue the client certificates")],
            id="client-auth-without-cas",
        ),
        pytest.param(
            {"sslProfiles": [{"name": "m", "trustedClientCertificates": ["t"]}],
             "trustedClientCertificates": [{"name": "t", "data": _pem(BY_ROOT)}]},
            [("trustedClientCertificates[0].data",
              "holds no CA certificate (basic constraints CA:TRUE); upload the CA that issues "
              "the client certificates, with its root, not a client certificate")],
            id="no-ca-in-the-upload",
        ),
        pytest.param(
            {"sslProfiles": [{"name": "m", "trustedClientCertificates": ["t"]}],
             "trustedClientCertificates": [{"name": "t", "data": _pem(ISSUING)}]},
            [("trustedClientCertificates[0].data",
              "holds no root CA certificate: add the self-signed root of the chain to the file")],
            id="no-root-in-the-upload",
        ),
        pytest.param(
            {"sku": "Standard", "sslProfiles": [{"name": "m", "trustedClientCertificates": ["t"]}],
             "trustedClientCertificates": [{"name": "t", "data": _pem(ROOT)}]},
            [("sslProfiles[0].trustedClientCertificates",
              "mutual TLS needs a v2 SKU (sku is 'Standard')")],
            id="v1",
        ),
    ],
)  # fmt: skip
def test_rules(extra: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert _issues(_document(**extra)) == expected


def test_require_sni_is_for_https_listeners() -> None:
    document = _document(sslProfiles=[{"name": "m"}])
    document["httpListeners"][1]["requireServerNameIndication"] = True
    assert _issues(document) == [
        ("httpListeners[1].requireServerNameIndication", "only an Https listener has a server name")
    ]


def test_the_plan_carries_client_auth_and_the_sni_requirement(tmp_path: Path) -> None:
    issued = trustme.CA().issue_cert("gw.test")
    (tmp_path / "x.pem").write_bytes(b"".join(b.bytes() for b in issued.cert_chain_pems))
    (tmp_path / "x.key").write_bytes(issued.private_key_pem.bytes())
    (tmp_path / "clients.pem").write_text(_pem(ISSUING, ROOT))
    config = {"verifyClientCertIssuerDN": True, "verifyClientRevocation": "ocsp"}
    document = _document(
        sslProfiles=[{"name": "m", "trustedClientCertificates": ["t"],
                      "clientAuthConfiguration": config}],
        trustedClientCertificates=[{"name": "t", "certFile": "clients.pem"}],
    )  # fmt: skip
    document["httpListeners"][0]["requireServerNameIndication"] = True
    a, h = compile_plan(load_document(document, "test", tmp_path)).listeners
    assert a.client_auth == ClientAuth(
        profile="m",
        cas=(ISSUING[0].public_bytes(DER), ROOT[0].public_bytes(DER)),
        issuer_names=(ISSUING[0].subject.public_bytes(),),
        verify_issuer_dn=True,
        ocsp=True,
    )
    assert (a.require_sni, h.client_auth, h.require_sni) == (True, None, False)


def test_explain_shows_client_auth_and_the_sni_requirement(tmp_path: Path) -> None:
    issued = trustme.CA().issue_cert("gw.test")
    (tmp_path / "x.pem").write_bytes(b"".join(b.bytes() for b in issued.cert_chain_pems))
    (tmp_path / "x.key").write_bytes(issued.private_key_pem.bytes())
    document = _document(
        sslProfiles=[{"name": "m", "trustedClientCertificates": ["t"],
                      "clientAuthConfiguration": {"verifyClientRevocation": "OCSP"}}],
        trustedClientCertificates=[{"name": "t", "data": _pem(ROOT)}],
    )  # fmt: skip
    document["httpListeners"][0]["requireServerNameIndication"] = True
    plan = compile_plan(load_document(document, "test", tmp_path))
    (listener,) = explain_data(plan, ())["listeners"]
    assert listener["clientAuth"] == {
        "sslProfile": "m",
        "trustedClientCertificates": 1,
        "verifyClientCertIssuerDN": False,
        "verifyClientRevocation": "OCSP",
    }
    assert listener["requireServerNameIndication"] is True
    console = Console(record=True, width=200)
    render(console, plan, ())
    text = console.export_text()
    assert "client certificate │ required (400 without a valid certificate)" in text
    assert "sslProfiles 'm': chain to a trusted client CA, OCSP revocation" in text
    assert "server name (SNI)  │ required" in text
