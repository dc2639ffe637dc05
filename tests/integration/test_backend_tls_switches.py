"""The model's v2 backend TLS switches on live traffic, over real sockets: `sniName` is the server
name every connection sends, `validateSNI: false` lets a trusted certificate for another name
carry traffic, `validateCertChainAndExpiry: false` lets an untrusted one carry it — exactly what
the probes accept, and nothing the probes would refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trustme

from probegate.demo.backends import TlsBackend, wait_until
from tests.integration.proxykit import RunningGateway, config, free_port, get


def _document(port: int, backend: TlsBackend, root_b64: str, **switches: Any) -> dict[str, Any]:
    settings = {"protocol": "Https", "port": 443, "hostName": "backend.test", **switches}
    if root_b64:
        settings["trustedRootCertificates"] = ["root"]
    document = config(port, {"web": [backend]}, settings=settings)
    if root_b64:
        document["trustedRootCertificates"] = [{"name": "root", "data": root_b64}]
    probe = document["probes"][0]
    probe |= {"protocol": "Https", "pickHostNameFromBackendHttpSettings": True}
    del probe["host"]
    return document


def _backend(issued: trustme.LeafCert, body: bytes) -> TlsBackend:
    chain = [blob.bytes() for blob in issued.cert_chain_pems]
    return TlsBackend(chain, issued.private_key_pem.bytes(), body=body)


def test_sni_name_is_the_server_name_of_every_backend_connection(
    tmp_path: Path, ca: trustme.CA, root_b64: str
) -> None:
    with _backend(ca.issue_cert("sni.test"), b"by sni") as backend:
        port = free_port()
        document = _document(port, backend, root_b64, sniName="sni.test")
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            probes = len(backend.server_names)
            reply = get(port)
    assert (reply.status, reply.body) == (200, b"by sni")
    assert len(backend.server_names) > probes  # the live connection was made too
    assert set(backend.server_names) == {"sni.test"}
    assert backend.requests[-1].header("host") == "backend.test"  # Host still from hostName


def test_validate_sni_false_carries_traffic_to_a_trusted_certificate_of_another_name(
    tmp_path: Path, ca: trustme.CA, root_b64: str
) -> None:
    with _backend(ca.issue_cert("other.test"), b"other name") as backend:
        port = free_port()
        with RunningGateway(tmp_path, _document(port, backend, root_b64, validateSNI=False)) as gw:
            gw.wait_routable("web", 1)
            reply = get(port)
    assert (reply.status, reply.body) == (200, b"other name")
    assert backend.server_names[-1] == "backend.test"


def test_validate_chain_false_carries_traffic_to_an_untrusted_certificate(
    tmp_path: Path,
) -> None:
    stranger = trustme.CA(organization_name="nobody uploaded this")
    with _backend(stranger.issue_cert("backend.test"), b"untrusted") as backend:
        port = free_port()
        document = _document(port, backend, "", validateCertChainAndExpiry=False)
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            reply = get(port)
            # the name is still checked: a reload to another expected name takes it out
            document["backendHttpSettingsCollection"][0]["sniName"] = "elsewhere.test"
            assert gw.reload(document) == []
            # (a new destination: the old target serves through the warm-up, then none is left)
            wait_until(lambda: gw.routable("web") == 0, 10, "the renamed target to be refused")
            refused = get(port)
    assert (reply.status, reply.body) == (200, b"untrusted")
    assert refused.status == 502
