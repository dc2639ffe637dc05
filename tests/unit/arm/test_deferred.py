"""ARM import: values only Azure knows at deployment, traced to their source and reported."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probegate.config.arm import convert_arm
from probegate.config.arm.expr import ExpressionError
from probegate.config.arm.params import build_scope
from probegate.errors import ConfigIssue
from tests.unit.arm.templates import (
    GATEWAY,
    PATH,
    issues_of,
    probe_template,
    template,
)

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
