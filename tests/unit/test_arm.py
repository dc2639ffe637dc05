"""ARM import: templates and Azure CLI output → a probegate config dict, and the expression subset.

The fixtures in tests/fixtures/arm are a deployment template (with its parameters file) and the
output of `az network application-gateway show`; every address in them is loopback or under
`.test` / `.example`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from probegate.config.arm import convert_arm, is_arm_document, load_parameters_file
from probegate.config.arm_expr import ExpressionError
from probegate.config.arm_params import build_scope
from probegate.config.source import parse_text
from probegate.errors import ConfigError, ConfigIssue

FIXTURES = Path(__file__).parent.parent / "fixtures" / "arm"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
GATEWAY = "Microsoft.Network/applicationGateways"
SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/resource-group"


def fixture(name: str) -> Any:
    return parse_text((FIXTURES / name).read_text(encoding="utf-8"), name)  # may hold comments


def ca_data() -> str:
    """The base64 DER of the self-signed CA both fixtures carry as a trusted root."""
    data = fixture("cli-gateway.json")["properties"]["trustedRootCertificates"][0]["properties"]
    return str(data["data"])


def template(
    props: dict[str, Any],
    parameters: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The smallest template around one gateway whose properties are `props`."""
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": parameters or {},
        "variables": variables or {},
        "resources": [{"type": GATEWAY, "apiVersion": "2023-09-01", "properties": props}],
    }


def probe_template(host: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return template(
        {"probes": [{"name": "p", "properties": {"protocol": "Http", "host": host}}]},
        parameters=parameters,
    )


def issues_of(doc: object, parameters: Mapping[str, object] | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        convert_arm(doc, parameters)
    return list(caught.value.issues)


# ---------------------------------------------------------------------------------------- fixtures

# The listener certificate the template's parameters file carries (a real PFX, base64).
PFX_DATA = fixture("template.parameters.json")["parameters"]["sslCertificateData"]["value"]

# fmt: off
TEMPLATE_CONFIG: dict[str, Any] = {
    "sku": "Standard_v2",
    "httpListeners": [
        {"name": "listener-http", "port": 80, "protocol": "Http"},
        {"name": "listener-shop-https", "port": 443, "protocol": "Https",
         "hostNames": ["www.shop.example", "shop.example"], "sslCertificate": "shop-tls"},
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

CLI_CONFIG: dict[str, Any] = {
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
    "resources[2].properties.httpListeners[1].properties.requireServerNameIndication: true "
    "(probegate does not refuse TLS clients that send no server name)",
    "resources[2].properties.enableHttp2: true (probegate serves clients over HTTP/1.1)",
    "resources[2].properties.sslPolicy: object with policyType, policyName "
    "(probegate uses its own TLS versions and ciphers)",
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


# ---------------------------------------------------------------------------------------- expressions

VARIABLES: dict[str, Any] = {
    "pool": "pool-web",
    "gatewayId": f"[resourceId('{GATEWAY}', 'agw')]",
    "portRef": "[concat(variables('gatewayId'), '/frontendPorts/', 'port_80')]",
    "settings": {"host": "[concat('www.', 'shop.example')]", "ports": [80, 443]},
    "codes": ["200-299"],
}
PARAMETERS: dict[str, Any] = {
    "port": {"type": "int", "defaultValue": 8080},
    "name": {"type": "string", "defaultValue": "[format('{0}-{1}', variables('pool'), 2)]"},
}


# fmt: off
EXPRESSIONS = [
    pytest.param("[parameters('port')]", 8080, id="parameters"),
    pytest.param("[PARAMETERS('Port')]", 8080, id="names-in-any-case"),
    pytest.param("[parameters('name')]", "pool-web-2", id="default-value-is-evaluated"),
    pytest.param("[variables('pool')]", "pool-web", id="variables"),
    pytest.param("[variables('settings').host]", "www.shop.example", id="member-of-variable"),
    pytest.param("[variables('settings')['ports'][1]]", 443, id="index-by-key-and-number"),
    pytest.param("[variables('settings').ports[-1]]", 443, id="negative-index"),
    pytest.param(f"[resourceId('{GATEWAY}', 'agw')]",
                 f"{SUBSCRIPTION}/providers/{GATEWAY}/agw", id="resourceId"),
    pytest.param(f"[resourceId('{GATEWAY}/frontendPorts', 'agw', 'port_80')]",
                 f"{SUBSCRIPTION}/providers/{GATEWAY}/agw/frontendPorts/port_80",
                 id="resourceId-child"),
    pytest.param(f"[resourceId('rg-edge', '{GATEWAY}', 'agw')]",
                 "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-edge/"
                 f"providers/{GATEWAY}/agw", id="resourceId-resource-group"),
    pytest.param(f"[resourceId('sub-1', 'rg-edge', '{GATEWAY}', 'agw')]",
                 f"/subscriptions/sub-1/resourceGroups/rg-edge/providers/{GATEWAY}/agw",
                 id="resourceId-subscription"),
    pytest.param("[variables('portRef')]",
                 f"{SUBSCRIPTION}/providers/{GATEWAY}/agw/frontendPorts/port_80",
                 id="concat-of-resourceId-variable"),
    pytest.param("[concat('pool-', 7, '-a')]", "pool-7-a", id="concat-strings"),
    pytest.param("[concat(variables('codes'), variables('settings').ports)]",
                 ["200-299", 80, 443], id="concat-arrays"),
    pytest.param("[format('{1}.{0}', 'example', 'shop')]", "shop.example", id="format"),
    pytest.param("[format('{{0}} is {0}', true())]", "{0} is True", id="format-escapes"),
    pytest.param("[true()]", True, id="true"),
    pytest.param("[false()]", False, id="false"),
    pytest.param("[concat('it''s', ' fine')]", "it's fine", id="quote-escape"),
    pytest.param("[  concat ( 'a' ,'b' )  ]", "ab", id="whitespace"),
    pytest.param(f"[resourceId('{GATEWAY}/frontendPorts/', 'agw', 'port_80')]",
                 f"{SUBSCRIPTION}/providers/{GATEWAY}/agw/frontendPorts/port_80",
                 id="resourceId-type-with-trailing-slash"),
    pytest.param("[resourceId(variables('gatewayId'), '/sslCertificates/shop-tls')]",
                 f"{SUBSCRIPTION}/providers/{GATEWAY}/agw/sslCertificates/shop-tls",
                 id="resourceId-under-an-id"),
    pytest.param("[resourceId(variables('gatewayId'), 'probes', 'web-ready')]",
                 f"{SUBSCRIPTION}/providers/{GATEWAY}/agw/probes/web-ready",
                 id="resourceId-under-an-id-by-parts"),
    pytest.param("[toLower('Shop-WEB.Example')]", "shop-web.example", id="toLower"),
    pytest.param("[substring('gateway-east', 8)]", "east", id="substring-to-the-end"),
    pytest.param("[substring('gateway-east', 0, 7)]", "gateway", id="substring"),
    pytest.param("[toLower(substring(concat('ShopFront', uniqueString(resourceGroup().id)), 0, 4))]",
                 "shop", id="substring-of-the-known-prefix"),
    pytest.param("[[not an expression]", "[not an expression]", id="double-bracket-escape"),
    pytest.param("[[", "[[", id="double-bracket-without-closing-bracket"),
    pytest.param("plain text", "plain text", id="plain-string"),
]
# fmt: on


@pytest.mark.parametrize(("expression", "expected"), EXPRESSIONS)
def test_expression_evaluates(expression: str, expected: object) -> None:
    scope, issues = build_scope(PARAMETERS, VARIABLES, {}, "parameters")
    assert issues == []
    assert scope.evaluate_string(expression) == expected


# fmt: off
EXPRESSION_ERRORS = [
    pytest.param("[pickZones('x')]", "unsupported template function 'pickZones'",
                 id="unsupported-function"),
    pytest.param("[ns.shout('x')]", "unsupported template function 'ns.shout'",
                 id="user-defined-function"),
    pytest.param("[concat('a', ]", "the expression ends too early", id="truncated"),
    pytest.param("[concat('a') 'b']", "unexpected \"'b'\" at position 14", id="trailing"),
    pytest.param("['open]", "a string literal is not closed: add the closing quote (')",
                 id="open-string"),
    pytest.param("[concat('a'; 'b')]", "unexpected character ';' at position 12",
                 id="bad-character"),
    pytest.param("[concat]", "'concat' is not a function call: write concat(...)",
                 id="bare-name"),
    pytest.param("[]", "the expression is empty", id="empty"),
    pytest.param("[variables('loopA')]", "these values refer to each other in a cycle: "
                 "variables('loopA') → variables('loopB') → variables('loopA')", id="cycle"),
    pytest.param("[variables('nope')]", "variable 'nope' is not defined (defined: loopA, "
                 "loopB, pool)", id="unknown-variable"),
    pytest.param("[parameters('nope')]", "parameter 'nope' is not declared (declared: none)",
                 id="unknown-parameter"),
    pytest.param("[concat('a', dataUri('x'))]", "unsupported template function "
                 "'dataUri'", id="unsupported-inner-function"),
    pytest.param("[concat('a', true())]",
                 "concat() joins either strings or arrays, not a mix of them", id="concat-mix"),
    pytest.param("[format('{0:D2}', 1)]",
                 "format() placeholder '{0:D2}' is not supported: use {0}", id="format-spec"),
    pytest.param("[format('{1}', 'a')]", "format() has no argument for {1} (1 given)",
                 id="format-missing-argument"),
    pytest.param("[resourceId('agw')]", "resourceId() needs a resource type such as "
                 "'Microsoft.Network/applicationGateways'", id="resourceId-without-type"),
    pytest.param(f"[resourceId('{GATEWAY}/probes', 'agw')]", "resourceId() for type "
                 f"'{GATEWAY}/probes' needs 2 name(s), got 1", id="resourceId-names"),
    pytest.param("[variables('pool').name]", "cannot read property 'name' of a string",
                 id="member-of-string"),
    pytest.param("[variables('pool')[3]]", "cannot index a string with an integer",
                 id="index-of-string"),
    pytest.param("[true(1)]", "true() takes no arguments", id="arguments-to-true"),
    pytest.param("[parameters(1)]", "parameters() takes strings, got an integer",
                 id="parameter-name-not-text"),
    pytest.param("[toLower(80)]", "toLower() takes strings, got an integer", id="toLower-number"),
    pytest.param("[substring('pool')]",
                 "substring() takes a string, a start index and an optional length",
                 id="substring-without-start"),
    pytest.param("[substring('pool', 2, 5)]",
                 "substring() from 2 to 7 is outside the string of 4 characters",
                 id="substring-past-the-end"),
    pytest.param("[resourceGroup('rg-edge')]", "resourceGroup() takes no arguments here",
                 id="resourceGroup-with-argument"),
    pytest.param("[uniqueString()]", "uniqueString() takes at least 1 argument(s)",
                 id="uniqueString-without-argument"),
    pytest.param("[reference()]", "reference() takes 1 to 3 argument(s)",
                 id="reference-without-argument"),
]
# fmt: on


@pytest.mark.parametrize(("expression", "message"), EXPRESSION_ERRORS)
def test_expression_error(expression: str, message: str) -> None:
    variables = {"pool": "web", "loopA": "[variables('loopB')]", "loopB": "[variables('loopA')]"}
    scope, _ = build_scope({}, variables, {}, "parameters")
    with pytest.raises(ExpressionError) as caught:
        scope.evaluate_string(expression)
    assert str(caught.value) == message


@settings(database=None)  # no .hypothesis/ example store in the tree: these run in CI as written
@given(st.text())
def test_any_string_literal_survives_quoting(text: str) -> None:
    scope, _ = build_scope({}, {}, {}, "parameters")
    quoted = text.replace("'", "''")
    assert scope.evaluate_string(f"[concat('{quoted}')]") == text


@settings(database=None)
@given(st.text(alphabet="[]().,' -_09azAZ{}", max_size=40))
def test_the_evaluator_fails_only_with_an_expression_error(text: str) -> None:
    scope, _ = build_scope({}, {"v": {"a": [1, "b"]}}, {}, "parameters")
    message = "a value"
    try:
        scope.evaluate_string(text)
    except ExpressionError as error:
        message = str(error)  # every message is a sentence for the operator, never empty
    assert message


def test_an_expression_error_names_the_json_path_and_the_expression() -> None:
    doc = probe_template("[pickZones(resourceGroup().id)]")
    assert issues_of(doc) == [
        ConfigIssue(
            "resources[0].properties.probes[0].properties.host",
            "unsupported template function 'pickZones' in \"[pickZones(resourceGroup().id)]\"",
        )
    ]


def test_an_error_inside_a_variable_names_the_variable() -> None:
    doc = probe_template("[variables('host')]")
    doc["variables"] = {"host": "[concat(pickZones('x'), '.example')]"}
    assert issues_of(doc) == [
        ConfigIssue(
            "resources[0].properties.probes[0].properties.host",
            "variable 'host': unsupported template function 'pickZones' in \"[variables('host')]\"",
        )
    ]


def test_ignored_fields_are_never_evaluated() -> None:
    doc = probe_template("health.shop.example")
    gateway = doc["resources"][0]
    gateway["location"] = "[resourceGroup().location]"
    gateway["tags"] = {"id": "[uniqueString(resourceGroup().id)]"}
    gateway["properties"]["sslPolicy"] = "[variables('undefined')]"
    result = convert_arm(doc)
    assert result.config == {
        "probes": [{"name": "p", "protocol": "Http", "host": "health.shop.example"}]
    }
    assert (
        'resources[0].location: "[resourceGroup().location]" '
        "(the Azure region does not apply to a self-hosted gateway)"
    ) in result.ignored


# ---------------------------------------------------------------------------------------- deferred

AT_DEPLOYMENT = "which only Azure knows at deployment: write the value itself in the template"


# fmt: off
DEFERRED = [
    pytest.param("[uniqueString(resourceGroup().id)]", "uniqueString(resourceGroup().id)",
                 id="uniqueString"),
    pytest.param("[resourceGroup().location]", "resourceGroup().location",
                 id="resourceGroup-location"),
    pytest.param("[concat('probe.', resourceGroup().name, '.example')]", "resourceGroup().name",
                 id="resourceGroup-name-inside-text"),
    pytest.param("[subscription().subscriptionId]", "subscription().subscriptionId",
                 id="subscription"),
    pytest.param("[reference('web-app').defaultHostName]", "reference('web-app').defaultHostName",
                 id="reference-property"),
    pytest.param("[reference('web-app')['hostNames'][0]]",
                 "reference('web-app')['hostNames'][0]", id="reference-items"),
    pytest.param("[format('{0}.example', utcNow())]", "utcNow()", id="utcNow"),
    pytest.param("[toLower(substring(concat('web', uniqueString('x')), 0, 9))]",
                 "uniqueString('x')", id="substring-reaching-past-the-known-text"),
    pytest.param("[replace(uniqueString('x'), 'a', 'b')]", "uniqueString('x')",
                 id="a-function-given-a-deferred-value"),
    pytest.param("[pickZones(uniqueString('x'))]", None, id="unsupported-function-first"),
]
# fmt: on


@pytest.mark.parametrize(("host", "source"), DEFERRED)
def test_a_converted_value_only_azure_knows_is_reported(host: str, source: str | None) -> None:
    issues = issues_of(probe_template(host))
    issue = issues[-1]
    assert issue.path == "resources[0].properties.probes[0].properties.host"
    if source is None:
        assert issue.message == f"unsupported template function 'pickZones' in \"{host}\""
    elif source.startswith("reference("):  # said once, first, with the route that works
        assert issues[0].path == ""
        assert "az network application-gateway show" in issues[0].message
        assert issue.message == f'"{host}" reads {source} (see the first problem)'
    else:
        assert len(issues) == 1
        assert issue.message == f'"{host}" uses {source}, {AT_DEPLOYMENT}'


_KNOWN_OR_NOT = st.sampled_from(
    ["'web'", "'Shop-01'", "7", "uniqueString('x')", "resourceGroup().name", "utcNow()",
     "reference('app').fqdn", "subscription().subscriptionId"]
)  # fmt: skip


def _composed(parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    cut = st.tuples(parts, st.integers(-1, 12), st.integers(-1, 12))
    return st.one_of(
        st.tuples(parts, parts).map(lambda pair: f"concat({pair[0]}, {pair[1]})"),
        parts.map(lambda part: f"toLower({part})"),
        cut.map(lambda args: f"substring({args[0]}, {args[1]}, {args[2]})"),
        parts.map(lambda part: f"format('{{0}}-x', {part})"),
        parts.map(lambda part: f"resourceId('{GATEWAY}/probes/', 'agw', {part})"),
        parts.map(lambda part: f"equals({part}, 'web')"),
    )


@settings(database=None)
@given(st.recursive(_KNOWN_OR_NOT, _composed, max_leaves=6))
def test_a_value_only_azure_knows_is_always_traced_to_its_source(source: str) -> None:
    scope, _ = build_scope({}, {}, {}, "parameters")
    try:
        value = scope.evaluate_string(f"[{source}]")
    except ExpressionError:
        return  # a wrong argument, said in a sentence
    found = scope.deferred_in(value)
    if found is None:
        assert not re.search("[\ue000-\uf8ff]", json.dumps(value, ensure_ascii=False))
    else:
        assert found.source in source


def test_a_deferred_parameter_default_names_the_parameter_to_give() -> None:
    default = "[concat('probe-', uniqueString(resourceGroup().id), '.shop.example')]"
    doc = probe_template(
        "[parameters('probeHost')]", {"probeHost": {"type": "string", "defaultValue": default}}
    )
    assert issues_of(doc) == [
        ConfigIssue(
            "resources[0].properties.probes[0].properties.host",
            "\"[parameters('probeHost')]\" uses uniqueString(resourceGroup().id) through the "
            "default value of parameter 'probeHost', and only Azure knows it at deployment: "
            "give the parameter a value (--param probeHost=VALUE)",
        )
    ]
    given = convert_arm(doc, {"probeHost": "probe.shop.example"})
    assert given.config["probes"][0]["host"] == "probe.shop.example"


def test_a_gateway_name_only_azure_knows_does_not_matter_to_references() -> None:
    # References need only the name at the end of the id; the gateway's own name is not converted.
    gateway = "[concat('agw-', uniqueString(resourceGroup().id))]"
    ports = f"{GATEWAY}/frontendPorts"
    props = {
        "frontendPorts": [{"name": "port_80", "properties": {"port": 80}}],
        "httpListeners": [
            {
                "name": "web",
                "properties": {
                    "frontendPort": {
                        "id": f"[resourceId('{ports}', parameters('name'), 'port_80')]"
                    },
                    "protocol": "Http",
                },
            }
        ],
    }
    doc = template(props, {"name": {"type": "string", "defaultValue": gateway}})
    doc["resources"][0]["name"] = "[parameters('name')]"
    result = convert_arm(doc)
    assert result.config == {"httpListeners": [{"name": "web", "port": 80, "protocol": "Http"}]}


def test_a_reference_to_an_item_only_azure_can_name_is_reported() -> None:
    pool = "[resourceId('Microsoft.Network/applicationGateways/backendAddressPools', 'agw', "
    pool += "concat('pool-', uniqueString(resourceGroup().id)))]"
    props = {
        "requestRoutingRules": [{"name": "r", "properties": {"backendAddressPool": {"id": pool}}}]
    }
    assert issues_of(template(props)) == [
        ConfigIssue(
            f"{PATH}.requestRoutingRules[0].properties.backendAddressPool.id",
            f'"{pool}" uses uniqueString(resourceGroup().id), {AT_DEPLOYMENT}',
        )
    ]


def test_a_deferred_backend_address_is_one_problem() -> None:
    address = "[reference('shop-web').defaultHostName]"
    pool = {"name": "web", "properties": {"backendAddresses": [{"fqdn": address}]}}
    first, issue = issues_of(template({"backendAddressPools": [pool]}))
    assert first.path == ""
    assert first.message.startswith("this template reads resources Azure has deployed")
    assert issue == ConfigIssue(
        f"{PATH}.backendAddressPools[0].properties.backendAddresses[0].fqdn",
        f"\"{address}\" reads reference('shop-web').defaultHostName (see the first problem)",
    )


def test_a_deferred_default_is_not_checked_against_allowed_values() -> None:
    # Azure checks the region it knows at deployment; here only the port name at the end matters.
    region = {"type": "string", "defaultValue": "[resourceGroup().location]",
              "allowedValues": ["westeurope", "northeurope"]}  # fmt: skip
    port = f"[resourceId('{GATEWAY}/frontendPorts', concat('agw-', parameters('region')), 'p')]"
    props = {
        "frontendPorts": [{"name": "p", "properties": {"port": 8080}}],
        "httpListeners": [{"name": "l", "properties": {"frontendPort": {"id": port}}}],
    }
    result = convert_arm(template(props, {"region": region}))
    assert result.config == {"httpListeners": [{"name": "l", "port": 8080}]}


# ---------------------------------------------------------------------------------------- parameters

TYPED_PARAMETERS: dict[str, Any] = {
    "backendPort": {"type": "int"},
    "pickHost": {"type": "bool"},
    "codes": {"type": "array"},
    "probeSettings": {"type": "object"},
    "protocol": {"type": "string", "defaultValue": "Http", "allowedValues": ["Http", "Https"]},
}


def typed_template() -> dict[str, Any]:
    settings = {
        "port": "[parameters('backendPort')]",
        "protocol": "[parameters('protocol')]",
        "pickHostNameFromBackendAddress": "[parameters('pickHost')]",
    }
    probe = {
        "protocol": "[parameters('protocol')]",
        "path": "[parameters('probeSettings').path]",
        "match": {"statusCodes": "[parameters('codes')]"},
    }
    return template(
        {
            "backendHttpSettingsCollection": [{"name": "s", "properties": settings}],
            "probes": [{"name": "p", "properties": probe}],
        },
        parameters=TYPED_PARAMETERS,
    )


# fmt: off
COERCIBLE_VALUES = [
    pytest.param({"backendPort": "9090", "pickHost": "TRUE", "codes": '["200-204", "301"]',
                  "probeSettings": '{"path": "/ready"}'}, id="strings-from-the-command-line"),
    pytest.param({"backendPort": 9090, "pickHost": True, "codes": ["200-204", "301"],
                  "probeSettings": {"path": "/ready"}}, id="typed-from-a-parameters-file"),
    pytest.param({"BACKENDPORT": " 9090 ", "PickHost": "true", "Codes": '["200-204","301"]',
                  "probesettings": '{"path":"/ready"}'}, id="names-in-any-case"),
]
# fmt: on


@pytest.mark.parametrize("given", COERCIBLE_VALUES)
def test_parameters_are_coerced_by_declared_type(given: dict[str, object]) -> None:
    result = convert_arm(typed_template(), given)
    assert result.config == {
        "backendHttpSettingsCollection": [
            {"name": "s", "port": 9090, "protocol": "Http", "pickHostNameFromBackendAddress": True}
        ],
        "probes": [
            {
                "name": "p",
                "protocol": "Http",
                "path": "/ready",
                "match": {"statusCodes": ["200-204", "301"]},
            }
        ],
    }


GOOD = {"backendPort": "80", "pickHost": "false", "codes": "[]", "probeSettings": '{"path": "/"}'}


# fmt: off
BAD_VALUES = [
    pytest.param({"backendPort": "80x"}, ConfigIssue(
        "parameters.backendPort",
        "parameter 'backendPort': expects a whole number (type int), got \"80x\""),
        id="int"),
    pytest.param({"pickHost": "yes"}, ConfigIssue(
        "parameters.pickHost", "parameter 'pickHost': expects true or false (type bool), "
        "got \"yes\""), id="bool"),
    pytest.param({"codes": "[200,"}, ConfigIssue(
        "parameters.codes", "parameter 'codes': expects JSON (array), which \"[200,\" is not: "
        "Expecting value"), id="array-json"),
    pytest.param({"probeSettings": "[1]"}, ConfigIssue(
        "parameters.probeSettings",
        "parameter 'probeSettings': expects an object (type object), got an array"),
        id="object-of-wrong-shape"),
    pytest.param({"protocol": "Tcp"}, ConfigIssue(
        "parameters.protocol",
        "parameter 'protocol': \"Tcp\" is not one of the allowedValues: \"Http\", \"Https\""),
        id="allowed-values"),
    pytest.param({"backendPort": None}, ConfigIssue(
        "parameters.backendPort",
        "parameter 'backendPort': expects a whole number (type int), got null"),
        id="null"),
    pytest.param({"region": "westeurope"}, ConfigIssue(
        "parameters", "values were given for region, which the template does not declare "
        "(declared: backendPort, pickHost, codes, probeSettings, protocol)"),
        id="undeclared"),
]
# fmt: on


@pytest.mark.parametrize(("override", "expected"), BAD_VALUES)
def test_a_bad_parameter_value_is_an_issue(
    override: dict[str, object], expected: ConfigIssue
) -> None:
    assert issues_of(typed_template(), {**GOOD, **override}) == [expected]


def test_a_parameter_without_value_or_default_is_an_issue() -> None:
    given = {key: value for key, value in GOOD.items() if key != "pickHost"}
    assert issues_of(typed_template(), given) == [
        ConfigIssue(
            "parameters.pickHost",
            "parameter 'pickHost' has no value and no defaultValue: give it in the parameters "
            "file or with --param pickHost=VALUE; resources[0].properties."
            "backendHttpSettingsCollection[0].properties.pickHostNameFromBackendAddress uses it",
        )
    ]


def test_a_default_outside_allowed_values_fails_where_it_is_used() -> None:
    doc = probe_template(
        "[parameters('host')]",
        {"host": {"type": "string", "defaultValue": "a.example", "allowedValues": ["b.example"]}},
    )
    assert issues_of(doc) == [
        ConfigIssue(
            "resources[0].properties.probes[0].properties.host",
            "default value of parameter 'host': \"a.example\" is not one of the "
            'allowedValues: "b.example" in "[parameters(\'host\')]"',
        )
    ]


# fmt: off
PARAMETERS_FILES = [
    pytest.param(fixture("template.parameters.json"),
                 {"applicationGatewayName": "agw-shop-test", "apiHostName": "api.shop.example",
                  "capacity": 3, "sslCertificateData": PFX_DATA,
                  "sslCertificatePassword": "fixture-only-password"}, id="parameters-file"),
    pytest.param({"port": {"value": 80}, "tags": {"Value": {"a": "b"}}},
                 {"port": 80, "tags": {"a": "b"}}, id="bare-mapping"),
    pytest.param({"parameters": {"value": ["x"]}}, {"parameters": ["x"]},
                 id="bare-parameter-called-parameters"),
    pytest.param({"contentVersion": "1.0.0.0", "Parameters": {}}, {}, id="empty-file"),
]
# fmt: on


@pytest.mark.parametrize(("data", "expected"), PARAMETERS_FILES)
def test_load_parameters_file(data: object, expected: dict[str, object]) -> None:
    assert load_parameters_file(data) == expected


# fmt: off
BAD_PARAMETERS_FILES = [
    pytest.param(
        {"parameters": {"secret": {"reference": {"keyVault": {"id": "kv"},
                                                 "secretName": "s"}}}},
        [ConfigIssue("parameters.secret.reference", "parameter 'secret' is a Key Vault "
                     "reference, which probegate cannot read: put the value in the file or "
                     "pass --param secret=VALUE")],
        id="key-vault-reference"),
    pytest.param({"parameters": {"port": 80, "host": {"values": "x"}}}, [
        ConfigIssue("parameters.port", "parameter 'port' needs a value, written as "
                    '{"value": ...}'),
        ConfigIssue("parameters.host", "parameter 'host' needs a value, written as "
                    '{"value": ...}'),
    ], id="no-value"),
    pytest.param(["port=80"], [ConfigIssue("", "a parameters file is a JSON object such as "
                                           '{"parameters": {"name": {"value": ...}}}')],
                 id="not-an-object"),
]
# fmt: on


@pytest.mark.parametrize(("data", "expected"), BAD_PARAMETERS_FILES)
def test_load_parameters_file_errors(data: object, expected: list[ConfigIssue]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_parameters_file(data)
    assert list(caught.value.issues) == expected


# ---------------------------------------------------------------------------------------- documents


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


# ---------------------------------------------------------------------------------------- errors

PATH = "resources[0].properties"


# fmt: off
CONVERSION_ERRORS = [
    pytest.param({"resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "v"}]},
                 [ConfigIssue("resources", "no Microsoft.Network/applicationGateways "
                              "resource in this template")], id="no-gateway"),
    pytest.param({"resources": [{"type": GATEWAY, "name": "agw-a"},
                                {"type": "Microsoft.Network/virtualNetworks", "name": "v",
                                 "resources": [{"type": GATEWAY, "name": "agw-b"}]}]},
                 [ConfigIssue("resources", '2 application gateways (resources[0] "agw-a", '
                              'resources[1].resources[0] "agw-b"); probegate converts one: '
                              "remove the others or split the template")],
                 id="two-gateways"),
    pytest.param(template({"copy": [{"name": "backendAddressPools", "count": "[utcNow()]",
                                     "input": {"name": "[copyIndex('backendAddressPools')]"}}]}),
                 [ConfigIssue(f"{PATH}.copy[0].count",
                              "the copy loop 'backendAddressPools' repeats a number of times "
                              "only Azure knows at deployment: give the count (or the parameter "
                              "it comes from) a value")],
                 id="property-copy-loop-deferred-count"),
    pytest.param({"resources": [{"type": GATEWAY, "copy": {"name": "gw", "count": 2}}]},
                 [ConfigIssue("resources[0].copy",
                              "a copy loop over whole resources makes several of them, and "
                              "probegate converts one gateway: write it out once (loops inside "
                              "properties and variables are expanded)")],
                 id="resource-copy-loop"),
    pytest.param(template({"httpListeners": [{"name": "l", "properties": {
        "frontendPort": {"id": "/x/frontendPorts/p8080"}, "protocol": "Tcp"}}]}),
                 [ConfigIssue(f"{PATH}.httpListeners[0].properties.frontendPort",
                              "refers to frontend port 'p8080', which frontendPorts does not "
                              "define (defined: none)"),
                  ConfigIssue(f"{PATH}.httpListeners[0].properties.protocol",
                              "must be one of Http, Https; got 'Tcp'")],
                 id="unknown-port-and-protocol"),
    pytest.param(template({"requestRoutingRules": [{"name": "r", "properties": {
        "httpListener": {"id": "/x/backendAddressPools/l"}, "priority": "high",
        "backendAddressPool": {"name": "p"}}}]}),
                 [ConfigIssue(f"{PATH}.requestRoutingRules[0].properties.priority",
                              'expected a whole number, got "high"'),
                  ConfigIssue(f"{PATH}.requestRoutingRules[0].properties.httpListener.id",
                              "points at backendAddressPools/l, but this field refers to one "
                              "of the gateway's httpListeners"),
                  ConfigIssue(f"{PATH}.requestRoutingRules[0].properties.backendAddressPool",
                              'a reference needs an id: {"id": ".../backendAddressPools/NAME"}')],
                 id="bad-references"),
    pytest.param(template({"backendAddressPools": [{"properties": {"backendAddresses": [
        {"ipAddress": "127.0.0.1", "fqdn": "a.test"}, {}]}}]}),
                 [ConfigIssue(f"{PATH}.backendAddressPools[0]",
                              "every item of backendAddressPools needs a name: rules refer "
                              "to it"),
                  ConfigIssue(f"{PATH}.backendAddressPools[0].properties.backendAddresses[0]",
                              "a backend address needs exactly one of ipAddress or fqdn"),
                  ConfigIssue(f"{PATH}.backendAddressPools[0].properties.backendAddresses[1]",
                              "a backend address needs exactly one of ipAddress or fqdn")],
                 id="bad-pool"),
    pytest.param(template({"sku": {"name": "Premium_v3"}, "probes": {"name": "p"}}),
                 [ConfigIssue(f"{PATH}.sku.name", "unknown sku 'Premium_v3': use Standard_v2 "
                              "or WAF_v2 (v2 rules), or a Standard_* or WAF_* size (v1 rules)"),
                  ConfigIssue(f"{PATH}.probes", 'expected a list, got {"name": "p"}')],
                 id="bad-sku-and-shape"),
]
# fmt: on


DEPLOYMENTS = "Microsoft.Resources/deployments"
NESTED = {
    "resources": [
        {"type": DEPLOYMENTS, "name": "gateway-module", "properties": {
            "expressionEvaluationOptions": {"scope": "inner"},
            "parameters": {"prefix": {"value": "shop"}},
            "template": {"resources": [
                {"type": "Microsoft.Network/publicIPAddresses", "name": "pip"},
                {"type": GATEWAY, "name": "[concat(parameters('prefix'), '-agw')]"},
            ]},
        }},
    ],
}  # fmt: skip
LINKED = {
    "resources": [
        {"type": DEPLOYMENTS, "name": "edge", "properties": {
            "templateLink": {"uri": "https://templates.shop.example/edge.json"}}},
    ],
}  # fmt: skip


# fmt: off
MORE_CONVERSION_ERRORS = [
    pytest.param(NESTED, [ConfigIssue(
        "resources[0].properties.template.resources[1]",
        'the application gateway is defined in the nested deployment resources[0] '
        '"gateway-module", which probegate does not expand: convert that deployment\'s '
        "properties.template as a template of its own, giving the values its "
        "properties.parameters pass with --param")], id="gateway-in-a-nested-deployment"),
    pytest.param(LINKED, [ConfigIssue(
        "resources", 'no Microsoft.Network/applicationGateways resource in this template '
        '(resources[0] "edge" links a template by URI, which probegate does not fetch: download '
        "it and convert it on its own)")], id="linked-template"),
    pytest.param(template({"probes": [{"name": "p", "properties": {
        "path": "/ready", "Path": "/healthz", "protocol": "Http", "PROTOCOL": "Http"}}]}),
                 [ConfigIssue(f"{PATH}.probes[0].properties.Path", "path and Path are one "
                              "property given twice with different values: keep one")],
                 id="one-property-twice"),
]
# fmt: on


@pytest.mark.parametrize(("doc", "expected"), MORE_CONVERSION_ERRORS)
def test_more_conversion_errors(doc: dict[str, Any], expected: list[ConfigIssue]) -> None:
    assert issues_of(doc) == expected


def test_layer_4_proxying_is_reported_with_its_reason() -> None:
    props = {"listeners": [{"name": "tcp-5432", "properties": {"protocol": "Tcp"}}]}
    assert convert_arm(template(props)).ignored[0] == (
        "resources[0].properties.listeners: 1 item: tcp-5432 (TCP and TLS (layer 4) proxying "
        "is not supported; probegate proxies HTTP)"
    )


@pytest.mark.parametrize(("doc", "expected"), CONVERSION_ERRORS)
def test_conversion_errors(doc: dict[str, Any], expected: list[ConfigIssue]) -> None:
    assert issues_of(doc) == expected


def test_every_problem_is_reported_at_once() -> None:
    props = {
        "probes": [
            {
                "name": "p",
                "properties": {
                    "host": "[pickZones('x')]",
                    "protocol": "Http",
                    "interval": "soon",
                },
            }
        ],
        "backendHttpSettingsCollection": [
            {
                "name": "s",
                "properties": {"port": "[parameters('port')]", "cookieBasedAffinity": "Sticky"},
            }
        ],
        "copy": [{"name": "probes", "count": 2, "input": {}}],
        "requestRoutingRules": [{"name": "r", "properties": {"priority": "[parameters('tier')]"}}],
    }
    doc = template(props, parameters={"port": {"type": "int"}, "tier": {"type": "string"}})
    with pytest.raises(ConfigError) as caught:
        convert_arm(doc, {"port": "eighty"})
    assert [str(issue) for issue in caught.value.issues] == [
        "parameters.port: parameter 'port': expects a whole number (type int), got \"eighty\"",
        f"{PATH}.copy[0]: the copy loop makes 'probes', which is also written out: keep one",
        f"{PATH}.backendHttpSettingsCollection[0].properties.cookieBasedAffinity: must be one "
        "of Enabled, Disabled; got 'Sticky'",
        f"{PATH}.probes[0].properties.host: unsupported template function 'pickZones' in "
        "\"[pickZones('x')]\"",
        f'{PATH}.probes[0].properties.interval: expected a whole number, got "soon"',
        "parameters.tier: parameter 'tier' has no value and no defaultValue: give it in the "
        f"parameters file or with --param tier=VALUE; {PATH}.requestRoutingRules[0].properties."
        "priority uses it",
    ]
    assert str(caught.value).startswith("6 problems\n")


def test_an_empty_cli_gateway_converts_to_an_empty_config() -> None:
    assert convert_arm({"name": "agw", "type": GATEWAY, "properties": {}}).config == {}


def test_parameters_given_for_cli_output_are_an_issue() -> None:
    assert issues_of({"type": GATEWAY, "properties": {}}, {"port": "80"}) == [
        ConfigIssue("", "parameters were given, but Azure CLI output has none to fill in")
    ]


def test_a_document_that_is_not_an_object_is_an_issue() -> None:
    assert issues_of(["not", "a", "gateway"]) == [
        ConfigIssue(
            "",
            "an ARM document is a JSON object: a template or az network application-gateway show",
        )
    ]
