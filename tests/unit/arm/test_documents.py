"""ARM import: what counts as an ARM document, any-case names, symbolic names, CLI items,
certificates and unknown properties."""

from __future__ import annotations

import pytest

from probegate.config.arm import convert_arm, is_arm_document
from probegate.errors import ConfigIssue
from tests.unit.arm.templates import (
    GATEWAY,
    SCHEMA,
    fixture,
    issues_of,
    template,
)

# fmt: off
DOCUMENTS = [
    pytest.param(fixture("template.json"), True, id="template"),
    pytest.param(fixture("cli-gateway.json"), True, id="cli-show"),
    pytest.param({"$SCHEMA": SCHEMA.upper()}, True, id="schema-only"),
    pytest.param({"Resources": []}, True, id="resources-only"),
    pytest.param({"Type": GATEWAY.lower(), "name": "agw"}, True, id="flattened-cli"),
    pytest.param({"Properties": {"BackendAddressPools": []}}, True, id="properties-only"),
    pytest.param(fixture("template.parameters.json"), False, id="parameters-file"),
    pytest.param({"httpListeners": [], "backendAddressPools": []}, False, id="probegate"),
    pytest.param([{"type": GATEWAY}], False, id="a-list"),
    pytest.param(None, False, id="nothing"),
]
# fmt: on


@pytest.mark.parametrize(("doc", "expected"), DOCUMENTS)
def test_is_arm_document(doc: object, expected: bool) -> None:
    assert is_arm_document(doc) is expected


def test_property_names_and_enums_in_any_case() -> None:
    # fmt: off
    props = {
        "SKU": {"Name": "waf_v2", "Tier": "WAF_v2"},
        "FrontendPorts": [{"Name": "fp", "Properties": {"PORT": 8443}}],
        "HttpListeners": [{"NAME": "l", "PROPERTIES": {
            "FrontendPort": {"ID": "/x/frontendports/FP"}, "Protocol": "HTTPS",
            "HostNames": ["a.example"], "SslCertificate": {"Id": "/x/SSLCERTIFICATES/tls"}}}],
        "BackendAddressPools": [{"Name": "p", "Properties": {"BackendAddresses": [
            {"IpAddress": "127.0.0.5"}, {"FQDN": "b.test"}]}}],
        "BackendHttpSettingsCollection": [{"Name": "s", "Properties": {
            "Port": 80, "Protocol": "hTtP", "CookieBasedAffinity": "ENABLED",
            "ConnectionDraining": {"Enabled": True, "DrainTimeoutInSec": 5}}}],
        "RequestRoutingRules": [{"Name": "r", "Properties": {
            "RuleType": "pathbasedrouting", "HttpListener": {"Id": "l"},
            "UrlPathMap": {"Id": "/x/urlPathMaps/m"}}}],
        "UrlPathMaps": [{"Name": "m", "Properties": {"PathRules": [{"Name": "all", "Properties": {
            "Paths": ["/*"], "RedirectConfiguration": {"Id": "/x/redirectConfigurations/d"}}}]}}],
        "RedirectConfigurations": [{"Name": "d", "Properties": {
            "RedirectType": "seeother", "TargetUrl": "https://a.example/"}}],
    }
    # fmt: on
    doc = {"Resources": [{"TYPE": GATEWAY.upper(), "Properties": props}]}
    # fmt: off
    assert convert_arm(doc).config == {
        "sku": "WAF_v2",
        "httpListeners": [{"name": "l", "port": 8443, "protocol": "Https",
                           "hostNames": ["a.example"], "sslCertificate": "tls"}],
        "backendAddressPools": [{"name": "p", "backendAddresses": [{"ipAddress": "127.0.0.5"},
                                                                   {"fqdn": "b.test"}]}],
        "backendHttpSettingsCollection": [{"name": "s", "port": 80, "protocol": "Http",
                                           "cookieBasedAffinity": "Enabled",
                                           "connectionDraining": {"enabled": True,
                                                                  "drainTimeoutInSec": 5}}],
        "requestRoutingRules": [{"name": "r", "ruleType": "PathBasedRouting",
                                 "httpListener": "l", "urlPathMap": "m"}],
        "urlPathMaps": [{"name": "m", "pathRules": [{"name": "all", "paths": ["/*"],
                                                     "redirectConfiguration": "d"}]}],
        "redirectConfigurations": [{"name": "d", "redirectType": "SeeOther",
                                    "targetUrl": "https://a.example/"}],
    }
    # fmt: on


def test_symbolic_name_resources() -> None:
    doc = {
        "languageVersion": "2.0",
        "resources": {
            "vnet": {"type": "Microsoft.Network/virtualNetworks", "name": "vnet-edge"},
            "gateway": {"type": GATEWAY, "properties": {"sku": {"name": "Standard_v2"}}},
        },
    }
    result = convert_arm(doc)
    assert result.config == {"sku": "Standard_v2"}
    assert result.ignored == (
        'resources.vnet: Microsoft.Network/virtualNetworks "vnet-edge" '
        "(only the application gateway is converted)",
    )


def test_flattened_cli_items_without_properties() -> None:
    doc = {
        "name": "agw",
        "type": GATEWAY,
        "id": "/x/applicationGateways/agw",
        "provisioningState": "Succeeded",
        "resourceGroup": "rg",
        "sku": {"name": "Standard_Medium", "tier": "Standard", "capacity": 2},
        "backendAddressPools": [
            {
                "name": "p",
                "etag": 'W/"1"',
                "resourceGroup": "rg",
                "backendAddresses": [{"ipAddress": None, "fqdn": "a.test"}],
            }
        ],
        "probes": [
            {
                "name": "hp",
                "id": "/x/probes/hp",
                "protocol": "Http",
                "path": "/",
                "host": "a.example",
                "match": None,
                "port": None,
            }
        ],
        "webApplicationFirewallConfiguration": {"enabled": True, "firewallMode": "Prevention"},
    }
    result = convert_arm(doc)
    assert result.config == {
        "sku": "Standard",
        "backendAddressPools": [{"name": "p", "backendAddresses": [{"fqdn": "a.test"}]}],
        "probes": [{"name": "hp", "protocol": "Http", "host": "a.example", "path": "/"}],
    }
    assert result.ignored == (
        'sku.name: "Standard_Medium" (converted to Standard, whose rules it follows; instance '
        "sizes do not apply)",
        'sku.tier: "Standard" (probegate takes the v1 or v2 rules from the sku name)',
        "sku.capacity: 2 (probegate runs as one process; the instance count does not apply)",
        'name: "agw" (a probegate configuration has no gateway name)',
        "webApplicationFirewallConfiguration: object with enabled, firewallMode "
        "(probegate has no web application firewall)",
        "$: 7 read-only fields: etag, id, provisioningState, resourceGroup, type "
        "(Azure status and back-references; probegate keeps its own)",
    )


def test_certificates_keep_only_what_probegate_can_use() -> None:
    props = {
        "sslCertificates": [
            {"name": "tls", "properties": {"data": "MIIK-secret-pfx", "password": "hunter2"}}
        ],
        "authenticationCertificates": [{"name": "auth", "properties": {"data": "MIIC"}}],
        "trustedRootCertificates": [
            {
                "name": "kv-root",
                "properties": {"keyVaultSecretId": "https://kv.vault.example/secrets/root"},
            }
        ],
    }
    result = convert_arm(template(props))
    # probegate reads a listener's PFX data itself, so the PFX and its password are kept as given.
    assert result.config == {
        "sslCertificates": [{"name": "tls", "data": "MIIK-secret-pfx", "password": "hunter2"}],
        "trustedRootCertificates": [{"name": "kv-root"}],
        "authenticationCertificates": [{"name": "auth", "data": "MIIC"}],
    }
    path = "resources[0].properties"
    assert result.ignored[:1] == (
        f"{path}.trustedRootCertificates[0].properties.keyVaultSecretId: "
        '"https://kv.vault.example/secrets/root" (probegate cannot read Key Vault: export the '
        "CA certificate and set data or certFile)",
    )
    assert not any("hunter2" in line or "secret-pfx" in line for line in result.ignored)


def test_a_pfx_password_of_the_wrong_kind_is_reported_without_its_value() -> None:
    props = {"sslCertificates": [{"name": "tls", "properties": {"data": "MIIK", "password": 1234}}]}
    assert issues_of(template(props)) == [
        ConfigIssue(
            "resources[0].properties.sslCertificates[0].properties.password",
            "expected text, got an integer (not shown)",
        )
    ]


def test_unknown_properties_are_reported_not_dropped() -> None:
    props = {
        "probes": [{"name": "p", "properties": {"protocol": "Http", "followRedirects": 1}}],
        "someFutureFeature": {"enabled": True},
    }
    assert convert_arm(template(props)).ignored == (
        "resources[0].properties.probes[0].properties.followRedirects: 1 "
        "(not supported by probegate)",
        "resources[0].properties.someFutureFeature: object with enabled "
        "(not supported by probegate)",
        'resources[0].apiVersion: "2023-09-01" '
        "(probegate reads the properties it knows from any API version)",
    )
