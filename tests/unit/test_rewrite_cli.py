"""`probegate rewrite-test` and the rewrite sets in `explain`: what a request would become, from
the configuration alone (nothing is sent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from probegate.cli import main

CONFIG = {
    "httpListeners": [{"name": "front", "port": 8080, "protocol": "Http"}],
    "backendAddressPools": [
        {"name": "web", "backendAddresses": [{"ipAddress": "127.0.0.2"}]},
        {"name": "shop", "backendAddresses": [{"ipAddress": "127.0.0.3"}]},
    ],
    "backendHttpSettingsCollection": [{"name": "s", "port": 80, "protocol": "Http"}],
    "requestRoutingRules": [
        {"name": "r", "ruleType": "PathBasedRouting", "priority": 10, "httpListener": "front",
         "urlPathMap": "paths"}
    ],
    "urlPathMaps": [
        {"name": "paths", "defaultBackendAddressPool": "web", "defaultBackendHttpSettings": "s",
         "defaultRewriteRuleSet": "site",
         "pathRules": [{"name": "shop", "paths": ["/shop/*"], "backendAddressPool": "shop",
                        "backendHttpSettings": "s"}]}
    ],
    "rewriteRuleSets": [
        {"name": "site", "rewriteRules": [
            {"name": "xff", "ruleSequence": 20, "actionSet": {"requestHeaderConfigurations": [
                {"headerName": "X-Forwarded-For", "headerValue": "{var_add_x_forwarded_for_proxy}"}]}},
            {"name": "category", "ruleSequence": 10,
             "conditions": [{"variable": "var_query_string", "pattern": r"category=(\w+)"}],
             "actionSet": {"urlConfiguration": {"modifiedPath": "/shop/{var_query_string_1}",
                                                "reroute": True}}},
            {"name": "hsts", "actionSet": {"responseHeaderConfigurations": [
                {"headerName": "Strict-Transport-Security", "headerValue": "max-age=31536000"}]}},
        ]}
    ],
}  # fmt: skip


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def test_rewrite_test_shows_the_route_rules_uri_and_headers(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "http://app.test:8080/list?category=shoes"
    code = main(["rewrite-test", "-c", str(config_file), "--url", url,
                 "--header", "X-Forwarded-For: 127.0.0.9", "--json"])  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["route"]["pathRule"] == "shop"
    assert result["route"]["backendAddressPool"] == "shop"
    assert result["matched"] == ["site/category", "site/xff"]
    assert result["uri"] == "/shop/shoes?category=shoes"
    assert result["headers"] == ["X-Forwarded-For: 127.0.0.9, 127.0.0.1"]
    assert result["responseRules"] == ["site/hsts"]


def test_rewrite_test_as_text(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rewrite-test", "-c", str(config_file), "--url", "http://app.test:8080/a"]) == 0
    out = capsys.readouterr().out
    assert "rules that applied: site/xff" in out
    assert "forwarded as: GET /a" in out
    assert "X-Forwarded-For: 127.0.0.1" in out


def test_explain_lists_each_set_with_its_rules_in_order(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "-c", str(config_file), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rewrites"] == [
        {"httpListener": "front", "rule": "r", "pathRule": "(default)", "rewriteRuleSet": "site",
         "rewriteRules": [{"name": "category", "ruleSequence": 10}, {"name": "xff", "ruleSequence": 20},
                          {"name": "hsts", "ruleSequence": 100}]}
    ]  # fmt: skip
