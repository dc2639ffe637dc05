"""Listener TLS policies (config/sslpolicy.py): the predefined policies as the model documents
them, Custom and CustomV2, and the rules of a file — each expectation a literal from the model's
SSL policy overview, never recomputed with the code under test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme

from probegate.config.compile import compile_plan
from probegate.config.load import load_document, validate_document
from probegate.config.sslpolicy import OPENSSL_NAMES, PREDEFINED, listener_tls

V12, V13 = "TLSv1_2", "TLSv1_3"


@pytest.mark.parametrize(
    ("name", "versions", "count", "first", "retired"),
    [
        pytest.param("AppGwSslPolicy20150501", ("TLSv1_0", "TLSv1_1", V12), 28,
                     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", True, id="20150501"),
        pytest.param("AppGwSslPolicy20170401", ("TLSv1_1", V12), 16,
                     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", True, id="20170401"),
        pytest.param("AppGwSslPolicy20170401S", (V12,), 16,
                     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", False, id="20170401S"),
        pytest.param("AppGwSslPolicy20220101", (V12, V13), 10, "TLS_AES_128_GCM_SHA256", False,
                     id="20220101"),
        pytest.param("AppGwSslPolicy20220101S", (V12, V13), 6, "TLS_AES_128_GCM_SHA256", False,
                     id="20220101S"),
    ],
)  # fmt: skip
def test_predefined_policies(
    name: str, versions: tuple[str, ...], count: int, first: str, retired: bool
) -> None:
    tls = listener_tls({"policyType": "Predefined", "policyName": name}, "gateway")
    assert tls.versions == versions
    assert (len(tls.suites), tls.suites[0]) == (count, first)
    assert bool(PREDEFINED[name].retired) is retired
    assert ("retired" in tls.rule) is retired


def test_every_suite_maps_to_an_openssl_name() -> None:
    assert len(OPENSSL_NAMES) == 30
    assert OPENSSL_NAMES["TLS_RSA_WITH_AES_128_CBC_SHA"] == "AES128-SHA"
    assert OPENSSL_NAMES["TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"] == "ECDHE-ECDSA-AES256-SHA384"


def test_no_policy_is_the_models_default() -> None:
    tls = listener_tls(None, "gateway")
    assert (tls.versions, len(tls.suites)) == ((V12, V13), 10)
    assert "AppGwSslPolicy20220101" in tls.rule


@pytest.mark.parametrize(
    ("policy", "versions", "suites"),
    [
        pytest.param(
            {"policyType": "Custom", "minProtocolVersion": V12,
             "cipherSuites": ["TLS_RSA_WITH_AES_128_GCM_SHA256"]},
            (V12,), ("TLS_RSA_WITH_AES_128_GCM_SHA256",), id="custom",
        ),
        pytest.param(
            {"policyType": "CustomV2", "minProtocolVersion": V12,
             "cipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]},
            (V12, V13),
            ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
             "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            id="customv2-implies-the-tls13-suites",
        ),
        pytest.param(
            {"policyType": "customv2", "minProtocolVersion": V13}, (V13,),
            ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"), id="customv2-tls13-only",
        ),
    ],
)  # fmt: skip
def test_custom_policies(
    policy: dict[str, Any], versions: tuple[str, ...], suites: tuple[str, ...]
) -> None:
    tls = listener_tls(policy, "gateway")
    assert (tls.versions, tls.suites) == (versions, suites)


def _document(**extra: Any) -> dict[str, Any]:
    return {
        "httpListeners": [
            {"name": "a", "port": 8443, "protocol": "Https", "sslCertificate": "c"},
            {"name": "b", "port": 9443, "protocol": "Https", "sslCertificate": "c"},
        ],
        "sslCertificates": [{"name": "c", "certFile": "x.pem", "keyFile": "x.key"}],
        **extra,
    }


def _issues(document: dict[str, Any]) -> list[tuple[str, str]]:
    _, issues = validate_document(document, Path.cwd())
    return [(i.path, i.message) for i in issues if not i.path.startswith("sslCertificates")]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            {"sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy2022010"}},
            [("sslPolicy.policyName", "'AppGwSslPolicy2022010' is not a predefined policy; did "
              "you mean 'AppGwSslPolicy20220101'?")],
            id="policy-name-with-a-suggestion",
        ),
        pytest.param(
            {"sslPolicy": {"policyType": "Custom", "minProtocolVersion": V12,
                           "cipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265"]}},
            [("sslPolicy.cipherSuites[0]", "'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265' is not a "
              "cipher suite the model offers; did you mean 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'?")],
            id="cipher-with-a-suggestion",
        ),
        pytest.param(
            {"sslPolicy": {"policyType": "Custom", "minProtocolVersion": V12,
                           "cipherSuites": ["TLS_AES_128_GCM_SHA256"]}},
            [("sslPolicy.cipherSuites[0]",
              "TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite: only CustomV2 has it")],
            id="tls13-suite-in-custom",
        ),
        pytest.param(
            {"sslPolicy": {"policyType": "Custom", "minProtocolVersion": V13,
                           "cipherSuites": ["TLS_RSA_WITH_AES_128_GCM_SHA256"]}},
            [("sslPolicy.minProtocolVersion", "a Custom policy takes TLSv1_0 or TLSv1_1 or "
              "TLSv1_2, got 'TLSv1_3'; TLS 1.3 needs CustomV2")],
            id="tls13-minimum-in-custom",
        ),
        pytest.param(
            {"sku": "Standard",
             "sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101"}},
            [("sslPolicy.policyName", "AppGwSslPolicy20220101 needs a v2 SKU (sku is 'Standard')")],
            id="2022-policy-on-v1",
        ),
        pytest.param(
            {"sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20170401S"},
             "sslProfiles": [{"name": "p", "sslPolicy": {"policyName": "AppGwSslPolicy20220101S"}}]},
            [("sslProfiles[0].sslPolicy", "a 2022 or CustomV2 policy cannot be used beside an "
              "older one (sslPolicy) on one gateway, as in the model: move every policy to the "
              "2022 family, or none")],
            id="families-mixed",
        ),
    ],
)  # fmt: skip
def test_policy_rules(extra: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert _issues(_document(**extra)) == expected


def test_a_profile_reference_must_resolve_and_sockets_share_a_policy() -> None:
    document = _document(sslProfiles=[{"name": "strict", "sslPolicy": {"policyName":
                         "AppGwSslPolicy20220101S"}}])  # fmt: skip
    document["httpListeners"][0]["sslProfile"] = "strikt"
    document["httpListeners"][1] |= {"port": 8443, "hostNames": ["b.test"], "sslProfile": "strict"}
    assert _issues(document) == [
        ("httpListeners[0].sslProfile", "no item of 'sslProfiles' is named 'strikt'; did you mean "
         "'strict'?"),
        ("httpListeners[1].sslProfile", "shares its address and port with httpListeners[0] but "
         "not its TLS policy; probegate applies one policy per socket (give them the same "
         "profile, or another port)"),
    ]  # fmt: skip


def test_the_plan_carries_each_listeners_policy(tmp_path: Path) -> None:
    """A profile's policy replaces the gateway's for its listener; others keep the gateway's."""
    issued = trustme.CA().issue_cert("gw.test")
    (tmp_path / "x.pem").write_bytes(b"".join(b.bytes() for b in issued.cert_chain_pems))
    (tmp_path / "x.key").write_bytes(issued.private_key_pem.bytes())
    document = _document(
        sslPolicy={"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101"},
        sslProfiles=[{"name": "s", "sslPolicy": {"policyName": "AppGwSslPolicy20220101S"}}],
    )
    document["httpListeners"][1]["sslProfile"] = "s"
    plan = compile_plan(load_document(document, "test", tmp_path))
    a, b = plan.listeners
    assert a.tls is not None
    assert b.tls is not None
    assert (len(a.tls.suites), "gateway's sslPolicy" in a.tls.rule) == (10, True)
    assert (len(b.tls.suites), "sslProfiles 's'" in b.tls.rule) == (6, True)
