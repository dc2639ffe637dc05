"""ARM import of what compiled Bicep produces: copy loops with a count known at import, if(),
contains(), copyIndex(), json(), replace(), split() and the other functions of conditions and
defaults; `//` comments; parameters asked for only when a converted field reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from probegate.config.arm import convert_arm
from probegate.config.arm_params import build_scope
from probegate.config.source import parse_text
from probegate.errors import ConfigError
from tests.unit.test_arm import GATEWAY, template

FIXTURE = Path(__file__).parent.parent / "fixtures" / "arm" / "bicep-compiled.json"


def compiled() -> Any:
    return parse_text(FIXTURE.read_text(encoding="utf-8"), str(FIXTURE))  # holds // comments


def test_a_compiled_bicep_template_converts() -> None:
    result = convert_arm(compiled())  # the securestring password feeds nothing converted
    config = result.config
    assert config["backendAddressPools"] == [
        {"name": "web", "backendAddresses": [{"ipAddress": f"127.0.0.1{i}"} for i in (1, 2, 3)]}
    ]
    assert config["httpListeners"] == [
        {"name": "site-1", "port": 80, "protocol": "Http", "hostNames": ["shop.example"]},
        {"name": "site-2", "port": 80, "protocol": "Http", "hostNames": ["admin.example"]},
    ]
    assert [
        (r["name"], r["priority"], r["httpListener"]) for r in config["requestRoutingRules"]
    ] == [
        ("rule-1", 100, "site-1"),
        ("rule-2", 101, "site-2"),
    ]
    assert config["probes"] == [
        {"name": "health", "protocol": "Http", "host": "shop.internal.example",
         "path": "/healthz", "interval": 15, "timeout": 5, "unhealthyThreshold": 3}
    ]  # fmt: skip
    assert config["backendHttpSettingsCollection"] == [
        {"name": "web-http", "port": 8080, "protocol": "Http", "probe": "health"}
    ]
    assert not any("copy" in line for line in result.ignored)
    flipped = convert_arm(compiled(), {"enableHttps": True}).config
    assert flipped["backendHttpSettingsCollection"][0]["port"] == 443


def scope_value(expression: str, parameters: dict[str, Any] | None = None) -> object:
    declared = {name: {"type": "string"} for name in parameters or {}}
    scope, issues = build_scope(declared, {}, parameters or {}, "parameters")
    assert issues == []
    return scope.evaluate_string(expression)


# fmt: off
FUNCTIONS = [
    pytest.param("[if(equals('a', 'a'), 'yes', 'no')]", "yes", id="if-equals"),
    pytest.param("[if(true(), 'taken', parameters('nope'))]", "taken", id="if-skips-the-other-branch"),
    pytest.param("[contains('web-http', 'http')]", True, id="contains-text"),
    pytest.param("[contains(createArray(1, 2), 3)]", False, id="contains-array"),
    pytest.param("[contains(json('{\"Path\": 1}'), 'path')]", True, id="contains-key-any-case"),
    pytest.param("[json('[1, \"a\", null]')]", [1, "a", None], id="json"),
    pytest.param("[replace('a.b.c', '.', '-')]", "a-b-c", id="replace"),
    pytest.param("[split('a, b;c', createArray(', ', ';'))]", ["a", "b", "c"], id="split-many"),
    pytest.param("[length(split('a,b,c', ','))]", 3, id="length"),
    pytest.param("[empty('')]", True, id="empty"),
    pytest.param("[not(empty(createObject('a', 1)))]", True, id="not-createObject"),
    pytest.param("[and(true(), or(false(), true()))]", True, id="and-or"),
    pytest.param("[coalesce(null(), '', 'x')]", "", id="coalesce"),
    pytest.param("[union(createObject('a', 1), createObject('b', 2)).b]", 2, id="union"),
    pytest.param("[add(mul(2, 3), sub(10, div(9, 2)))]", 12, id="arithmetic"),
    pytest.param("[greater(length('abc'), 2)]", True, id="greater"),
    pytest.param("[string(8080)]", "8080", id="string"),
    pytest.param("[int('8443')]", 8443, id="int"),
    pytest.param("[toUpper(first(split('web.example', '.')))]", "WEB", id="first-toUpper"),
    pytest.param("[last(range(5, 3))]", 7, id="range-last"),
    pytest.param("[startsWith('Https', 'http')]", True, id="startsWith-any-case"),
    pytest.param("[skip(take('abcdef', 4), 1)]", "bcd", id="take-skip"),
]
# fmt: on


@pytest.mark.parametrize(("expression", "expected"), FUNCTIONS)
def test_functions_of_compiled_bicep(expression: str, expected: object) -> None:
    assert scope_value(expression) == expected


def test_a_variable_copy_loop_and_copy_index_with_an_offset() -> None:
    variables = {"copy": [{"name": "ports", "count": 3, "input": "[add(8080, copyIndex('ports', 10))]"}]}  # fmt: skip
    scope, _ = build_scope({}, variables, {}, "parameters")
    assert scope.evaluate_string("[variables('ports')]") == [8090, 8091, 8092]


def test_copy_index_outside_its_loop_says_so() -> None:
    with pytest.raises(Exception, match="outside of that copy loop"):
        scope_value("[copyIndex('nothing')]")


def test_a_missing_parameter_that_feeds_only_ignored_fields_is_not_asked_for() -> None:
    doc = template(
        {"probes": [{"name": "p", "properties": {"protocol": "Http", "host": "a.example"}}]},
        parameters={"location": {"type": "string"}, "adminPassword": {"type": "securestring"}},
    )
    doc["resources"][0]["location"] = "[parameters('location')]"
    result = convert_arm(doc)
    assert result.config["probes"][0]["host"] == "a.example"
    doc["resources"][0]["properties"]["probes"][0]["properties"]["host"] = (
        "[parameters('location')]"
    )
    with pytest.raises(ConfigError) as caught:
        convert_arm(doc)
    [issue] = caught.value.issues
    assert issue.path == "parameters.location"
    assert issue.message.endswith("resources[0].properties.probes[0].properties.host uses it")


def test_the_gateway_type_is_still_found_with_comments_around_it() -> None:
    text = '{\n  // a gateway\n  "resources": [/* one */ {"type": "GW", "properties": {}}]\n}'
    text = text.replace("GW", GATEWAY)
    assert convert_arm(parse_text(text, "t.json")).config == {}
