"""ARM import of the fixtures in tests/fixtures/arm: a deployment template (with its parameters
file) and the output of `az network application-gateway show`, converted whole; every address in
them is loopback or under `.test` / `.example`."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from probegate.config.arm import convert_arm, load_parameters_file
from probegate.config.compile import compile_plan
from probegate.config.load import load_document
from probegate.config.sslpolicy import PREDEFINED
from tests.unit.arm.templates import (
    FIXTURES,
    PFX_DATA,
    ca_data,
    fixture,
)

# fmt: off
_POLICY = {"sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101"}}
TEMPLATE_CONFIG: dict[str, Any] = _POLICY | {
    "sku": "Standard_v2",
    "httpListeners": [
        {"name": "listener-http", "port": 80, "protocol": "Http"},
        {"name": "listener-shop-https", "port": 443, "protocol": "Https",
         "hostNames": ["www.shop.example", "shop.example"], "sslCertificate": "shop-tls",
         "requireServerNameIndication": True},
        {"name": "listener-api-https", "port": 443, "protocol": "Https",
         "hostNames": ["api.shop.example"], "sslCertificate": "shop-tls"},
    ],
    "sslCertificates": [{"name": "shop-tls", "data": PFX_DATA, "password": "fixture-only-password"}],
    "backendAddressPools": [
        {"name": "pool-web",
         "backendAddresses": [{"ipAddress": "127.0.0.11"}, {"ipAddress": "127.0.0.12"}]},
        {"name": "pool-api", "backendAddresses": [{"fqdn": "api-backend.shop.test"}]},
    ],
    "backendHttpSettingsCollection": [
        {"name": "settings-web", "port": 8080, "protocol": "Http", "requestTimeout": 30,
         "pickHostNameFromBackendAddress": False, "probe": "probe-web",
         "cookieBasedAffinity": "Disabled",
         "connectionDraining": {"enabled": True, "drainTimeoutInSec": 60}},
        {"name": "settings-api", "port": 443, "protocol": "Https", "requestTimeout": 20,
         "hostName": "api.shop.example", "path": "/v1/", "cookieBasedAffinity": "Enabled",
         "affinityCookieName": "ShopApiAffinity", "trustedRootCertificates": ["shop-internal-ca"]},
    ],
    "probes": [
        {"name": "probe-web", "protocol": "Http", "host": "www.shop.example", "path": "/healthz",
         "interval": 30, "timeout": 10, "unhealthyThreshold": 3,
         "pickHostNameFromBackendHttpSettings": False, "minServers": 1,
         "match": {"statusCodes": ["200-299", "401"], "body": '"status":"ok"'}},
    ],
    "trustedRootCertificates": [{"name": "shop-internal-ca", "data": "<CA>"}],
    "requestRoutingRules": [
        {"name": "rule-shop", "ruleType": "PathBasedRouting", "priority": 100,
         "httpListener": "listener-shop-https", "urlPathMap": "pathmap-shop"},
        {"name": "rule-api", "ruleType": "Basic", "priority": 110,
         "httpListener": "listener-api-https", "backendAddressPool": "pool-api",
         "backendHttpSettings": "settings-api"},
        {"name": "rule-http-to-https", "ruleType": "Basic", "priority": 200,
         "httpListener": "listener-http", "redirectConfiguration": "redirect-http-to-https"},
    ],
    "urlPathMaps": [
        {"name": "pathmap-shop", "defaultBackendAddressPool": "pool-web",
         "defaultBackendHttpSettings": "settings-web",
         "pathRules": [
             {"name": "api", "paths": ["/api/*"], "backendAddressPool": "pool-api",
              "backendHttpSettings": "settings-api"},
             {"name": "static", "paths": ["/static/*", "/images/*"],
              "backendAddressPool": "pool-web", "backendHttpSettings": "settings-web"},
         ]},
    ],
    "redirectConfigurations": [
        {"name": "redirect-http-to-https", "redirectType": "Permanent",
         "targetListener": "listener-shop-https", "includePath": True,
         "includeQueryString": True},
    ],
}

CLI_CONFIG: dict[str, Any] = _POLICY | {
    "sku": "WAF_v2",
    "httpListeners": [
        {"name": "listener-orders-http", "port": 80, "protocol": "Http"},
        {"name": "listener-orders-https", "port": 443, "protocol": "Https",
         "hostNames": ["orders.example", "*.orders.example"], "sslCertificate": "orders-tls"},
        {"name": "listener-admin-https", "port": 443, "protocol": "Https",
         "hostNames": ["admin.orders.example"], "sslCertificate": "orders-tls"},
    ],
    "sslCertificates": [{"name": "orders-tls"}],
    "backendAddressPools": [
        {"name": "pool-orders",
         "backendAddresses": [{"ipAddress": "127.0.0.21"}, {"ipAddress": "127.0.0.22"}]},
        {"name": "pool-reports", "backendAddresses": [{"fqdn": "reports.orders.test"}]},
    ],
    "backendHttpSettingsCollection": [
        {"name": "settings-orders", "port": 8443, "protocol": "Https", "requestTimeout": 30,
         "hostName": "orders.internal.test", "pickHostNameFromBackendAddress": False,
         "probe": "probe-orders", "cookieBasedAffinity": "Disabled",
         "connectionDraining": {"enabled": False, "drainTimeoutInSec": 1},
         "trustedRootCertificates": ["orders-root"]},
        {"name": "settings-reports", "port": 80, "protocol": "Http", "requestTimeout": 60,
         "pickHostNameFromBackendAddress": True, "path": "/reports/",
         "cookieBasedAffinity": "Enabled", "affinityCookieName": "ApplicationGatewayAffinity",
         "connectionDraining": {"enabled": True, "drainTimeoutInSec": 120}},
    ],
    "probes": [
        {"name": "probe-orders", "protocol": "Https", "path": "/health/ready", "port": 8443,
         "interval": 20, "timeout": 15, "unhealthyThreshold": 2,
         "pickHostNameFromBackendHttpSettings": True, "minServers": 0,
         "match": {"statusCodes": ["200-399"]}},
    ],
    "trustedRootCertificates": [{"name": "orders-root", "data": "<CA>"}],
    "requestRoutingRules": [
        {"name": "rule-orders-redirect", "ruleType": "Basic", "priority": 10,
         "httpListener": "listener-orders-http", "redirectConfiguration": "redirect-orders-https"},
        {"name": "rule-orders", "ruleType": "PathBasedRouting", "priority": 20,
         "httpListener": "listener-orders-https", "urlPathMap": "pathmap-orders"},
        {"name": "rule-admin", "ruleType": "Basic", "priority": 30,
         "httpListener": "listener-admin-https", "backendAddressPool": "pool-orders",
         "backendHttpSettings": "settings-orders"},
    ],
    "urlPathMaps": [
        {"name": "pathmap-orders", "defaultBackendAddressPool": "pool-orders",
         "defaultBackendHttpSettings": "settings-orders",
         "pathRules": [
             {"name": "orders-api", "paths": ["/api/orders/*", "/api/carts/*"],
              "backendAddressPool": "pool-orders", "backendHttpSettings": "settings-orders"},
             {"name": "reports", "paths": ["/reports/*"], "backendAddressPool": "pool-reports",
              "backendHttpSettings": "settings-reports"},
         ]},
    ],
    "redirectConfigurations": [
        {"name": "redirect-orders-https", "redirectType": "Permanent",
         "targetListener": "listener-orders-https", "includePath": True,
         "includeQueryString": True},
    ],
}


# fmt: on


def with_ca(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with the fixtures' CA in place of the "<CA>" marker (too long to repeat here)."""
    replaced: dict[str, Any] = json.loads(
        json.dumps(config).replace('"<CA>"', json.dumps(ca_data()))
    )
    return replaced


def convert_fixture(name: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    if name == "template.json":
        parameters = load_parameters_file(fixture("template.parameters.json"))
        result = convert_arm(fixture(name), parameters)
    else:
        result = convert_arm(fixture(name))
    return result.config, result.ignored


# fmt: off
FIXTURE_CONFIGS = [
    pytest.param("template.json", TEMPLATE_CONFIG, id="deployment-template"),
    pytest.param("cli-gateway.json", CLI_CONFIG, id="azure-cli-show"),
]
# fmt: on


@pytest.mark.parametrize(("name", "expected"), FIXTURE_CONFIGS)
def test_fixture_converts_to_the_expected_config(name: str, expected: dict[str, Any]) -> None:
    config, _ = convert_fixture(name)
    assert config == with_ca(expected)


TEMPLATE_IGNORED = [
    "resources[0]: Microsoft.Network/virtualNetworks \"[variables('vnetName')]\" "
    "(only the application gateway is converted)",
    "resources[1]: Microsoft.Network/publicIPAddresses \"[variables('publicIpName')]\" "
    "(only the application gateway is converted)",
    "resources[2].properties.gatewayIPConfigurations: 1 item: appGatewayIpConfig "
    "(the gateway's subnet does not apply to a self-hosted gateway)",
    "resources[2].properties.frontendIPConfigurations: 1 item: appGwPublicFrontendIp "
    "(listeners bind to 127.0.0.1; set bindAddress to expose them)",
    "resources[2].properties.sku.capacity: \"[parameters('capacity')]\" "
    "(probegate runs as one process; the instance count does not apply)",
    "resources[2].properties.backendHttpSettingsCollection[0].properties.probeEnabled: true "
    "(probegate probes every server a rule uses; pick a custom probe with probe)",
    "resources[2].properties.enableHttp2: true (probegate serves clients over HTTP/1.1)",
    "resources[2].location: \"[parameters('location')]\" "
    "(the Azure region does not apply to a self-hosted gateway)",
    "resources[2].tags: object with workload, costCenter "
    "(Azure tags are not part of a probegate configuration)",
    'resources[2].zones: ["1", "2", "3"] (availability zones do not apply to a self-hosted gateway)',
    "outputs: object with applicationGatewayId (deployment outputs do not apply)",
]
CLI_IGNORED = [
    "properties.gatewayIPConfigurations: 1 item: appGatewayIpConfig "
    "(the gateway's subnet does not apply to a self-hosted gateway)",
    "properties.frontendIPConfigurations: 1 item: appGwPublicFrontendIp "
    "(listeners bind to 127.0.0.1; set bindAddress to expose them)",
    "properties.autoscaleConfiguration: object with minCapacity, maxCapacity "
    "(probegate runs as one process; autoscaling does not apply)",
    "properties.firewallPolicy: reference to "
    "ApplicationGatewayWebApplicationFirewallPolicies/waf-orders "
    "(probegate has no web application firewall)",
    "properties.httpListeners[2].properties.firewallPolicy: reference to "
    "ApplicationGatewayWebApplicationFirewallPolicies/waf-orders-admin "
    "(probegate has no web application firewall)",
    "properties.sslCertificates[0].properties.publicCertData: "
    '"MIIDOgYJKoZIhvcNAQcCoIIDKzCCAycCAQExADALBgkqhkiG9w0BBwGgggMPMIIDCzCCAfOgAwIBAgIQ" '
    "(only the public half of the uploaded PFX: export the certificate and its key to PEM and "
    "set certFile and keyFile)",
    "identity: object with type, userAssignedIdentities "
    "(the managed identity only serves Key Vault, which probegate cannot read)",
    "$: 98 read-only fields: backendHttpSettings, backendIPConfigurations, "
    "defaultPredefinedSslPolicy, etag, httpListeners, id, operationalState, pathRules, "
    "provisioningState, requestRoutingRules, resourceGroup, resourceGuid, type, urlPathMaps "
    "(Azure status and back-references; probegate keeps its own)",
]


# fmt: off
FIXTURE_IGNORED = [
    pytest.param("template.json", TEMPLATE_IGNORED, id="deployment-template"),
    pytest.param("cli-gateway.json", CLI_IGNORED, id="azure-cli-show"),
]
# fmt: on


@pytest.mark.parametrize(("name", "expected"), FIXTURE_IGNORED)
def test_fixture_reports_what_it_ignores(name: str, expected: list[str]) -> None:
    _, ignored = convert_fixture(name)
    missing = [line for line in expected if line not in ignored]
    assert missing == [], "\n".join(ignored)
    assert all(re.fullmatch(r"\S+: .+ \(.+\)", line) for line in ignored)
    assert len(set(ignored)) == len(ignored)


def test_the_fixture_trusted_root_is_a_real_self_signed_ca() -> None:
    cert = x509.load_der_x509_certificate(base64.b64decode(ca_data()))
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Shop Internal Root CA"
    )
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_fixture_addresses_are_loopback_or_reserved_names() -> None:
    for name in ("template.json", "cli-gateway.json"):
        config, _ = convert_fixture(name)
        for pool in config["backendAddressPools"]:
            for member in pool["backendAddresses"]:
                address = member.get("ipAddress") or member["fqdn"]
                assert address.startswith("127.") or address.endswith((".test", ".example"))


# The scale-set fixture is written the way published templates are: names derived per resource
# group, ids built with a trailing '/' or under the gateway's id, members joining from elsewhere.
SCALE_SET_PARAMETERS = {"siteCertificate": "MIIK-ticket-sites", "siteCertificatePassword": "s3cret"}

# fmt: off
SCALE_SET_CONFIG: dict[str, Any] = {
    "sku": "Standard_v2",
    "httpListeners": [
        {"name": "tickets", "port": 443, "protocol": "Https",
         "hostNames": ["tickets.ticketoffice.example"], "sslCertificate": "ticket-sites"},
        {"name": "box-office", "port": 443, "protocol": "Https",
         "hostNames": ["box-office.ticketoffice.example"], "sslCertificate": "ticket-sites"},
    ],
    "sslCertificates": [{"name": "ticket-sites", "data": "MIIK-ticket-sites",
                         "password": "s3cret"}],
    "backendAddressPools": [{"name": "ticketoff-scaleset", "backendAddresses": []},
                            {"name": "jump-hosts", "backendAddresses": []}],
    "backendHttpSettingsCollection": [
        {"name": "tickets-http", "port": 8080, "protocol": "Http", "probe": "tickets-ready",
         "cookieBasedAffinity": "Disabled"},
    ],
    "probes": [{"name": "tickets-ready", "protocol": "Http",
                "host": "tickets.ticketoffice.example", "path": "/ready", "interval": 15,
                "timeout": 5, "unhealthyThreshold": 2}],
    "requestRoutingRules": [
        {"name": "tickets-to-scaleset", "ruleType": "Basic", "priority": 10,
         "httpListener": "tickets", "backendAddressPool": "ticketoff-scaleset",
         "backendHttpSettings": "tickets-http"},
        {"name": "box-office-to-jump-hosts", "ruleType": "Basic", "priority": 20,
         "httpListener": "box-office", "backendAddressPool": "jump-hosts",
         "backendHttpSettings": "tickets-http"},
    ],
}
# fmt: on
SCALE_SET_IGNORED = (
    "resources[1]: Microsoft.Compute/virtualMachineScaleSets \"[concat(variables('prefix'), "
    "'-vmss')]\" (only the application gateway is converted; it adds its addresses to backend "
    "pool ticketoff-scaleset, and Azure assigns them at deployment: list them under "
    "backendAddresses there)",
    'resources[2]: Microsoft.Network/networkInterfaces "jump-host-nic" (only the application '
    "gateway is converted; it adds 127.0.0.41 to backend pool jump-hosts: list it under "
    "backendAddresses there)",
    'resources[3]: Microsoft.Resources/deployments "alerts" (only the application gateway is '
    "converted)",
    'resources[0].properties.sku.tier: "Standard_v2" (probegate takes the v1 or v2 rules from '
    "the sku name)",
    'resources[0].properties.sku.family: "Generation_1" (probegate takes the v1 or v2 rules '
    "from the sku name)",
    "resources[0].properties.autoscaleConfiguration: object with minCapacity, maxCapacity "
    "(probegate runs as one process; autoscaling does not apply)",
    'resources[0].apiVersion: "2023-09-01" (probegate reads the properties it knows from any '
    "API version)",
    "resources[0].name: \"[parameters('gatewayName')]\" (a probegate configuration has no "
    "gateway name)",
    "resources[0].location: \"[parameters('location')]\" (the Azure region does not apply to a "
    "self-hosted gateway)",
    "resources[0].tags: object with logs (Azure tags are not part of a probegate configuration)",
)


def test_a_template_written_like_published_ones_converts() -> None:
    result = convert_arm(fixture("scale-set-template.json"), SCALE_SET_PARAMETERS)
    assert result.config == SCALE_SET_CONFIG
    assert result.ignored == SCALE_SET_IGNORED  # empty functions and outputs say nothing
    assert not any("s3cret" in line or "MIIK" in line for line in result.ignored)


def test_every_address_in_the_fixtures_is_loopback() -> None:
    ipv4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
    for path in sorted(FIXTURES.glob("*.json")):
        data = fixture(path.name)
        data.pop("contentVersion", None)  # "1.0.0.0" is a version, not an address
        addresses = ipv4.findall(json.dumps(data))
        assert all(address.startswith("127.") for address in addresses), path.name


# The TLS fixture: a gateway policy, a profile with its own CustomV2 policy and mutual TLS, and a
# listener that requires SNI; the listeners' effective TLS must be the policies' (issue 16).
TLS_PARAMETERS = {"certData": PFX_DATA, "certPassword": "fixture-only-password"}


def test_tls_policies_profiles_and_mutual_tls_import(tmp_path: Path) -> None:
    result = convert_arm(fixture("ssl-profiles-template.json"), TLS_PARAMETERS)
    assert not [line for line in result.ignored if re.search(r"ssl|ServerName|trusted", line)]
    plan = compile_plan(load_document(result.config, "imported", tmp_path))
    public, partners = plan.listeners
    assert public.tls is not None
    assert partners.tls is not None
    s_policy = PREDEFINED["AppGwSslPolicy20220101S"]
    assert (public.tls.versions, public.tls.suites) == (("TLSv1_2", "TLSv1_3"), s_policy.suites)
    assert partners.tls.versions == ("TLSv1_2", "TLSv1_3")
    assert partners.tls.suites == (
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    )
    assert (
        partners.tls.openssl_ciphers == "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"
    )
    assert (public.require_sni, partners.require_sni) == (False, True)
    assert public.client_auth is None
    assert partners.client_auth is not None
    auth = partners.client_auth
    assert (auth.profile, auth.verify_issuer_dn, auth.ocsp) == ("partners", True, True)
    assert auth.cas == (base64.b64decode(ca_data()),)
