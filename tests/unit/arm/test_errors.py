"""ARM import: conversion errors, each at its JSON path, and every problem reported at once."""

from __future__ import annotations

from typing import Any

import pytest

from probegate.config.arm import convert_arm
from probegate.errors import ConfigError, ConfigIssue
from tests.unit.arm.templates import (
    GATEWAY,
    PATH,
    issues_of,
    template,
)

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
