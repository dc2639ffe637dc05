"""The compiled plan: probe targets (SPEC section 2), rule order, resolved references, files."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    load_pem_private_key,
    pkcs12,
)

from probegate.config.compile import compile_plan
from probegate.config.load import load_document
from probegate.config.plan import Backend, GatewayPlan, PathMap, Redirect, Tier
from probegate.errors import ConfigError


def plan_of(document: dict[str, Any], base_dir: Path) -> GatewayPlan:
    return compile_plan(load_document(document, "test.yaml", base_dir))


def two_settings_one_pool() -> dict[str, Any]:
    return {
        "httpListeners": [
            {"name": "a", "port": 8080, "protocol": "Http"},
            {"name": "b", "port": 8090, "protocol": "Http"},
        ],
        "backendAddressPools": [
            {
                "name": "web",
                "backendAddresses": [{"ipAddress": "127.0.0.11"}, {"fqdn": "Web-2.Example.Test."}],
            },
            {"name": "idle", "backendAddresses": [{"ipAddress": "127.0.0.99"}]},
        ],
        "backendHttpSettingsCollection": [
            {"name": "plain", "port": 8081, "protocol": "Http"},
            {"name": "alt", "port": 8082, "protocol": "Http"},
            {"name": "unused", "port": 8083, "protocol": "Http"},
        ],
        "requestRoutingRules": [
            {"name": "second", "ruleType": "Basic", "priority": 20, "httpListener": "a",
             "backendAddressPool": "web", "backendHttpSettings": "plain"},
            {"name": "first", "ruleType": "Basic", "priority": 10, "httpListener": "b",
             "backendAddressPool": "web", "backendHttpSettings": "alt"},
        ],
    }  # fmt: skip


def test_two_settings_on_one_pool_make_two_targets_per_server(tmp_path: Path) -> None:
    plan = plan_of(two_settings_one_pool(), tmp_path)
    assert [str(t.key) for t in plan.targets] == [
        "web~plain~127.0.0.11:8081",
        "web~plain~web-2.example.test:8081",
        "web~alt~127.0.0.11:8082",
        "web~alt~web-2.example.test:8082",
    ]


def test_unbound_settings_and_pools_are_not_probed_and_say_so(tmp_path: Path) -> None:
    loaded = load_document(two_settings_one_pool(), "test.yaml", tmp_path)
    plan = compile_plan(loaded)
    assert {t.key.settings for t in plan.targets} == {"plain", "alt"}
    assert all(t.key.pool == "web" for t in plan.targets)
    assert (
        "backendHttpSettingsCollection[2]: no rule uses settings 'unused'; nothing is probed"
        in loaded.warnings
    )


def test_v2_rules_match_by_priority_v1_by_order(tmp_path: Path) -> None:
    document = two_settings_one_pool()
    assert [r.name for r in plan_of(document, tmp_path).rules] == ["first", "second"]
    document["sku"] = "Standard"
    for rule in document["requestRoutingRules"]:
        del rule["priority"]
    v1 = plan_of(document, tmp_path)
    assert v1.tier is Tier.V1
    assert [r.name for r in v1.rules] == ["second", "first"]


def test_path_maps_bind_their_defaults_and_rules(tmp_path: Path) -> None:
    document = two_settings_one_pool()
    document["requestRoutingRules"][1] = {
        "name": "first", "ruleType": "PathBasedRouting", "priority": 10, "httpListener": "b",
        "urlPathMap": "paths",
    }  # fmt: skip
    document["urlPathMaps"] = [
        {
            "name": "paths",
            "defaultRedirectConfiguration": "away",
            "pathRules": [
                {"name": "idle", "paths": ["/idle/*"], "backendAddressPool": "idle",
                 "backendHttpSettings": "unused"},
            ],
        }
    ]  # fmt: skip
    document["redirectConfigurations"] = [
        {"name": "away", "redirectType": "SeeOther", "targetUrl": "https://elsewhere.example.test/"}
    ]
    plan = plan_of(document, tmp_path)
    assert [str(t.key) for t in plan.targets] == [
        "web~plain~127.0.0.11:8081",
        "web~plain~web-2.example.test:8081",
        "idle~unused~127.0.0.99:8083",
    ]
    path_map = plan.rules[0].destination
    assert isinstance(path_map, PathMap)
    assert isinstance(path_map.default, Redirect)
    assert path_map.default.status == 303
    assert isinstance(path_map.rules[0].destination, Backend)
    assert path_map.rules[0].paths == ("/idle/*",)


def test_member_port_and_ipv6_addresses(tmp_path: Path) -> None:
    document = two_settings_one_pool()
    document["backendAddressPools"][0]["backendAddresses"] = [
        {"ipAddress": "::1", "port": 9001},
        {"ipAddress": "127.0.0.11", "port": 9002},
    ]
    keys = [t.key.server for t in plan_of(document, tmp_path).targets]
    assert keys == ["[::1]:9001", "127.0.0.11:9002", "[::1]:9001", "127.0.0.11:9002"]


def test_certificates_are_read_relative_to_the_file(tmp_path: Path, ca: trustme.CA) -> None:
    leaf = ca.issue_cert("gw.example.test")
    (tmp_path / "certs").mkdir()
    ca.cert_pem.write_to_path(str(tmp_path / "certs" / "root.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "certs" / "gw.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "certs" / "gw.key"))
    document = two_settings_one_pool()
    document["httpListeners"][0].update(protocol="Https", sslCertificate="gw")
    document["sslCertificates"] = [
        {"name": "gw", "certFile": "certs/gw.pem", "keyFile": "certs/gw.key"}
    ]
    document["trustedRootCertificates"] = [{"name": "root", "certFile": "certs/root.pem"}]
    document["backendHttpSettingsCollection"][0].update(
        protocol="Https", trustedRootCertificates=["root"]
    )
    plan = plan_of(document, tmp_path)
    listener = plan.listeners[0]
    assert listener.certificate is not None
    assert listener.certificate.key_pem == leaf.private_key_pem.bytes()
    assert listener.certificate.source == str(tmp_path / "certs" / "gw.pem")
    roots = plan.settings[0].trusted_roots
    assert [r.name for r in roots] == ["root"]
    assert roots[0].ders[0].startswith(b"\x30")  # DER: an ASN.1 SEQUENCE


def test_frontend_key_must_belong_to_its_certificate(tmp_path: Path, ca: trustme.CA) -> None:
    one, other = ca.issue_cert("one.example.test"), ca.issue_cert("other.example.test")
    one.cert_chain_pems[0].write_to_path(str(tmp_path / "one.pem"))
    other.private_key_pem.write_to_path(str(tmp_path / "other.key"))
    document = two_settings_one_pool()
    document["httpListeners"][0].update(protocol="Https", sslCertificate="gw")
    document["sslCertificates"] = [{"name": "gw", "certFile": "one.pem", "keyFile": "other.key"}]
    with pytest.raises(ConfigError) as caught:
        load_document(document, "test.yaml", tmp_path)
    assert [str(i) for i in caught.value.issues] == [
        f"sslCertificates[0].keyFile: '{tmp_path}/other.key' is not the key of the certificate "
        f"in '{tmp_path}/one.pem'"
    ]


def _pfx(ca: trustme.CA, password: bytes) -> str:
    leaf = ca.issue_cert("gw.example.test")
    key = load_pem_private_key(leaf.private_key_pem.bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    blob = pkcs12.serialize_key_and_certificates(
        b"gw",
        key,
        cert,
        None,
        BestAvailableEncryption(password),
    )
    return base64.b64encode(blob).decode()


def test_frontend_certificate_from_arm_pfx_data(tmp_path: Path, ca: trustme.CA) -> None:
    document = two_settings_one_pool()
    document["httpListeners"][0].update(protocol="Https", sslCertificate="gw")
    document["sslCertificates"] = [
        {"name": "gw", "data": _pfx(ca, b"s3cret"), "password": "s3cret"}
    ]
    listener = plan_of(document, tmp_path).listeners[0]
    assert listener.certificate is not None
    assert listener.certificate.chain_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" in listener.certificate.key_pem


def test_pfx_with_the_wrong_password_is_refused(tmp_path: Path, ca: trustme.CA) -> None:
    document = two_settings_one_pool()
    document["httpListeners"][0].update(protocol="Https", sslCertificate="gw")
    document["sslCertificates"] = [{"name": "gw", "data": _pfx(ca, b"s3cret"), "password": "wrong"}]
    with pytest.raises(ConfigError) as caught:
        load_document(document, "test.yaml", tmp_path)
    assert [str(i) for i in caught.value.issues] == [
        "sslCertificates[0].data: cannot be opened as a PFX (PKCS#12) file with the given password"
    ]


@pytest.mark.parametrize(
    ("certificate", "message"),
    [
        pytest.param(
            {"name": "gw"}, "give 'certFile' and 'keyFile' (PEM), or 'data' (base64 PFX)", id="none"
        ),
        pytest.param({"name": "gw", "certFile": "a.pem"}, "'keyFile' is required too", id="no-key"),
        pytest.param(
            {"name": "gw", "certFile": "a.pem", "keyFile": "a.key", "data": "AAAA"},
            "give 'certFile' and 'keyFile', or 'data', not both",
            id="both",
        ),
    ],
)
def test_frontend_certificate_sources(
    tmp_path: Path, certificate: dict[str, str], message: str
) -> None:
    document = two_settings_one_pool()
    document["httpListeners"][0].update(protocol="Https", sslCertificate="gw")
    document["sslCertificates"] = [certificate]
    with pytest.raises(ConfigError) as caught:
        load_document(document, "test.yaml", tmp_path)
    assert str(caught.value.issues[0]) == f"sslCertificates[0]: {message}"
