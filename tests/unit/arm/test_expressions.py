"""ARM import: the template-expression subset, its errors, and which fields are evaluated."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probegate.config.arm import convert_arm
from probegate.config.arm.expr import ExpressionError
from probegate.config.arm.params import build_scope
from probegate.errors import ConfigIssue
from tests.unit.arm.templates import (
    GATEWAY,
    SUBSCRIPTION,
    issues_of,
    probe_template,
)

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
    gateway["properties"]["autoscaleConfiguration"] = "[variables('undefined')]"
    result = convert_arm(doc)
    assert result.config == {
        "probes": [{"name": "p", "protocol": "Http", "host": "health.shop.example"}]
    }
    assert (
        'resources[0].location: "[resourceGroup().location]" '
        "(the Azure region does not apply to a self-hosted gateway)"
    ) in result.ignored
