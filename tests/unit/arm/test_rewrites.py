"""The ARM import converts rewrite rule sets (and their uses by rules and path maps) and custom error
pages, as the quickstart templates write them; a page URL becomes a note asking for a local copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from probegate.config.arm import convert_arm
from tests.unit.arm.templates import template

GW = "[resourceId('Microsoft.Network/applicationGateways', 'gw')]"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"id": f"[concat({GW[1:-1]}, '/{kind}/{name}')]"}


SET = {
    "name": "security",
    "properties": {
        "rewriteRules": [
            {
                "ruleSequence": 100,
                "name": "hsts",
                "conditions": [],
                "actionSet": {
                    "requestHeaderConfigurations": [],
                    "responseHeaderConfigurations": [
                        {"headerName": "Strict-Transport-Security", "headerValue": "max-age=31536000"},
                        {"headerName": "Server", "headerValue": ""},
                    ],
                },
            },
            {
                "ruleSequence": 200,
                "name": "mobile",
                "conditions": [{"variable": "http_req_User-Agent", "pattern": "iphone",
                                "ignoreCase": True, "negate": False}],
                "actionSet": {"urlConfiguration": {"modifiedPath": "/m{var_uri_path}",
                                                   "reroute": True}},
            },
        ]
    },
}  # fmt: skip


def props() -> dict[str, Any]:
    return {
        "sku": {"name": "Standard_v2", "tier": "Standard_v2"},
        "frontendPorts": [{"name": "p80", "properties": {"port": 80}}],
        "httpListeners": [{"name": "l", "properties": {
            "frontendPort": _ref("frontendPorts", "p80"), "protocol": "Http",
            "customErrorConfigurations": [{"statusCode": "HttpStatus403",
                                           "customErrorPageUrl": "http://127.0.0.1:9/403.html"}]}}],
        "backendAddressPools": [{"name": "pool", "properties": {"backendAddresses": [{"ipAddress": "127.0.0.2"}]}}],
        "backendHttpSettingsCollection": [{"name": "s", "properties": {"port": 80, "protocol": "Http"}}],
        "urlPathMaps": [{"name": "map", "properties": {
            "defaultBackendAddressPool": _ref("backendAddressPools", "pool"),
            "defaultBackendHttpSettings": _ref("backendHttpSettingsCollection", "s"),
            "defaultRewriteRuleSet": _ref("rewriteRuleSets", "security"),
            "pathRules": [{"name": "m", "properties": {
                "paths": ["/m/*"], "backendAddressPool": _ref("backendAddressPools", "pool"),
                "backendHttpSettings": _ref("backendHttpSettingsCollection", "s"),
                "rewriteRuleSet": _ref("rewriteRuleSets", "security")}}]}}],
        "requestRoutingRules": [{"name": "r", "properties": {
            "ruleType": "PathBasedRouting", "priority": 100,
            "httpListener": _ref("httpListeners", "l"), "urlPathMap": _ref("urlPathMaps", "map")}}],
        "rewriteRuleSets": [SET],
        "customErrorConfigurations": [{"statusCode": "HttpStatus502",
                                       "customErrorPageUrl": "http://127.0.0.1:9/502.html"}],
    }  # fmt: skip


def test_rewrite_sets_and_their_uses_are_converted() -> None:
    result = convert_arm(template(props()))
    config = result.config
    assert config["rewriteRuleSets"] == [
        {
            "name": "security",
            "rewriteRules": [
                {"name": "hsts", "ruleSequence": 100, "actionSet": {"responseHeaderConfigurations": [
                    {"headerName": "Strict-Transport-Security", "headerValue": "max-age=31536000"},
                    {"headerName": "Server"},  # no value: the header is deleted
                ]}},
                {"name": "mobile", "ruleSequence": 200,
                 "conditions": [{"variable": "http_req_User-Agent", "pattern": "iphone",
                                 "ignoreCase": True, "negate": False}],
                 "actionSet": {"urlConfiguration": {"modifiedPath": "/m{var_uri_path}", "reroute": True}}},
            ],
        }
    ]  # fmt: skip
    path_map = config["urlPathMaps"][0]
    assert path_map["defaultRewriteRuleSet"] == "security"
    assert path_map["pathRules"][0]["rewriteRuleSet"] == "security"
    assert not [line for line in result.ignored if "rewrite" in line.lower()]


def test_error_pages_are_converted_and_a_local_copy_is_asked_for() -> None:
    result = convert_arm(template(props()))
    assert result.config["customErrorConfigurations"] == [
        {"statusCode": "HttpStatus502", "customErrorPageUrl": "http://127.0.0.1:9/502.html"}
    ]
    listener = result.config["httpListeners"][0]
    assert listener["customErrorConfigurations"][0]["statusCode"] == "HttpStatus403"
    notes = [n for n in result.notes if "customErrorPageFile" in n]
    assert len(notes) == 2
    assert "save a copy" in notes[0]
    assert not [line for line in result.ignored if "customerror" in line.lower()]


def test_the_converted_template_loads() -> None:
    from probegate.config.load import load_document  # noqa: PLC0415 - the loader's view

    loaded = load_document(template(props()), "t.json", Path("."))
    assert [s.name for s in loaded.model.rewrite_rule_sets] == ["security"]
