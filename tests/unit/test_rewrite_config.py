"""Rewrite rule sets and custom error pages in the configuration: what validation refuses (path and
message), and what the plan holds for a valid file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from probegate.config.compile import compile_plan
from probegate.config.load import load_document, validate_document
from probegate.config.plan import PathMap
from probegate.config.rewrite import Kind, Ref
from probegate.config.rules import advice
from tests.unit.test_config_invalid import DELETE, Edit, apply, base_document, issues_of

SET = "rewriteRuleSets[0]"
RULE = f"{SET}.rewriteRules[0]"


def a_set(**rule: Any) -> dict[str, Any]:
    return {"name": "rw", "rewriteRules": [{"name": "one", **rule}]}


def header(name: str, value: str) -> dict[str, str]:
    return {"headerName": name, "headerValue": value}


def with_set(rule: dict[str, Any], *more: Edit) -> list[Edit]:
    return [
        ("rewriteRuleSets", [a_set(**rule)]),
        ("requestRoutingRules[0].rewriteRuleSet", "rw"),
        *more,
    ]


PATH_BASED: list[Edit] = [
    (
        "requestRoutingRules[0]",
        {"name": "r1", "ruleType": "PathBasedRouting", "priority": 10, "httpListener": "front",
         "urlPathMap": "paths"},
    ),
    (
        "urlPathMaps",
        [{"name": "paths", "defaultBackendAddressPool": "pool1", "defaultBackendHttpSettings": "s1",
          "pathRules": [{"name": "api", "paths": ["/api/*"], "backendAddressPool": "pool1",
                         "backendHttpSettings": "s1", "rewriteRuleSet": "rw"}]}],
    ),
]  # fmt: skip

REFUSED = [
    pytest.param(
        with_set({}, ("sku", "Standard"), ("requestRoutingRules[0].priority", DELETE)),
        [
            ("rewriteRuleSets", "header and URL rewrites are for v2 SKUs only (Standard_v2, "
             "WAF_v2); sku is 'Standard'"),
            ("requestRoutingRules[0].rewriteRuleSet", "header and URL rewrites are for v2 SKUs "
             "only (Standard_v2, WAF_v2); sku is 'Standard'"),
        ],
        id="v1-sku",
    ),
    pytest.param(
        with_set({"actionSet": {"urlConfiguration": {"modifiedPath": "/x", "reroute": True}}}),
        [("requestRoutingRules[0].rewriteRuleSet",
          "rewrite set 'rw' reroutes, and a Basic rule has no path map to re-evaluate")],
        id="reroute-on-basic",
    ),
    pytest.param(
        with_set({"actionSet": {"requestHeaderConfigurations": [header("Connection", "close")]}}),
        [(f"{RULE}.actionSet.requestHeaderConfigurations[0].headerName",
          "the Connection header cannot be rewritten: the gateway owns the connection and framing")],
        id="connection-header",
    ),
    pytest.param(
        with_set({"actionSet": {"responseHeaderConfigurations": [header("upgrade", "h2c")]}}),
        [(f"{RULE}.actionSet.responseHeaderConfigurations[0].headerName",
          "the upgrade header cannot be rewritten: the gateway owns the connection and framing")],
        id="upgrade-header",
    ),
    pytest.param(
        with_set({"actionSet": {"requestHeaderConfigurations": [header("Host", "")]}}),
        [(f"{RULE}.actionSet.requestHeaderConfigurations[0].headerName",
          "the Host header cannot be deleted (give it a value to replace it)")],
        id="host-deletion",
    ),
    pytest.param(
        with_set({"conditions": [{"variable": "http_req_X", "pattern": r"(a)\1"}]}),
        [(f"{RULE}.conditions[0].pattern",
          "pattern '(a)\\\\1' cannot be matched in linear time (invalid escape sequence: \\1); "
          "probegate matches with RE2, which has no backreferences, lookahead/lookbehind or "
          "atomic groups: write it without them")],
        id="backreference",
    ),
    pytest.param(
        with_set({"conditions": [{"variable": "var_uri_path", "pattern": "^/(?!admin)"}]}),
        [(f"{RULE}.conditions[0].pattern",
          "pattern '^/(?!admin)' cannot be matched in linear time (invalid perl operator: (?!); "
          "probegate matches with RE2, which has no backreferences, lookahead/lookbehind or "
          "atomic groups: write it without them")],
        id="lookahead",
    ),
    pytest.param(
        with_set({"conditions": [{"variable": "var_client_address", "pattern": "x"}]}),
        [(f"{RULE}.conditions[0].variable", "'client_address' is not a server variable")],
        id="unknown-server-variable",
    ),
    pytest.param(
        with_set({"conditions": [{"variable": "request_uri", "pattern": "x"}]}),
        [(f"{RULE}.conditions[0].variable", "'request_uri' is not a variable: use "
          "http_req_<Header>, http_resp_<Header> or var_<server variable>")],
        id="no-prefix",
    ),
    pytest.param(
        with_set({"actionSet": {"requestHeaderConfigurations": [header("X-A", "{var_nope}")]}}),
        [(f"{RULE}.actionSet.requestHeaderConfigurations[0].headerValue",
          "{var_nope}: 'nope' is not a server variable")],
        id="unknown-variable-in-value",
    ),
    pytest.param(
        with_set({"conditions": [{"variable": "http_resp_Server", "pattern": "."}],
                  "actionSet": {"requestHeaderConfigurations": [header("X-A", "1")]}}),
        [(f"{RULE}.actionSet.requestHeaderConfigurations[0]",
          "a request header cannot be set by a rule whose conditions read the response")],
        id="request-action-on-response-condition",
    ),
    pytest.param(
        with_set({"actionSet": {"requestHeaderConfigurations": [header("X-A", "{var_http_status}")]}}),
        [(f"{RULE}.actionSet.requestHeaderConfigurations[0].headerValue",
          "{var_http_status} is known only once the backend answered; a request cannot use it")],
        id="response-variable-in-request",
    ),
    pytest.param(
        [("rewriteRuleSets", [{"name": "rw", "rewriteRules": [{"name": "a"}, {"name": "a"}]}])],
        [(f"{SET}.rewriteRules[1].name", f"'a' is already the name of {SET}.rewriteRules[0]")],
        id="rule-name-twice",
    ),
    pytest.param(
        with_set({"actionSet": {"urlConfig": {}}}),
        [(f"{RULE}.actionSet.urlConfig", "unknown key; did you mean 'urlConfiguration'?")],
        id="unknown-key",
    ),
    pytest.param(
        [("rewriteRuleSets", [a_set()]), ("requestRoutingRules[0].rewriteRuleSet", "rws")],
        [("requestRoutingRules[0].rewriteRuleSet",
          "no item of 'rewriteRuleSets' is named 'rws'; did you mean 'rw'?")],
        id="unknown-reference",
    ),
    pytest.param(
        [*PATH_BASED, ("rewriteRuleSets", [a_set()]), ("requestRoutingRules[0].rewriteRuleSet", "rw")],
        [("requestRoutingRules[0].rewriteRuleSet",
          "a PathBasedRouting rule names its rewrite sets in its path map "
          "(pathRules[].rewriteRuleSet, defaultRewriteRuleSet)")],
        id="set-on-path-based-rule",
    ),
    pytest.param(
        [("customErrorConfigurations", [{"statusCode": "HttpStatus502", "customErrorPageFile": "502.html"},
                                        {"statusCode": "HttpStatus502", "customErrorPageFile": "502.html"}])],
        [("customErrorConfigurations[1].statusCode", "HttpStatus502 already has a page at "
          "customErrorConfigurations[0]")],
        id="page-twice",
    ),
    pytest.param(
        [("httpListeners[0].customErrorConfigurations",
          [{"statusCode": "HttpStatus403", "customErrorPageFile": "403.txt"}])],
        [("httpListeners[0].customErrorConfigurations[0].customErrorPageFile",
          "'{dir}/403.txt' must be an .htm or .html file (as the model requires)")],
        id="page-not-html",
    ),
    pytest.param(
        [("customErrorConfigurations", [{"statusCode": "HttpStatus404", "customErrorPageFile": "502.html"}])],
        [("customErrorConfigurations[0].statusCode", "must be one of 'HttpStatus400', "
          "'HttpStatus403', 'HttpStatus405', 'HttpStatus408', 'HttpStatus500', 'HttpStatus502', "
          "'HttpStatus503', 'HttpStatus504', got 'HttpStatus404'")],
        id="page-for-404",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("edits", "expected"), REFUSED)
def test_refused(edits: list[Edit], expected: list[tuple[str, str]], tmp_path: Path) -> None:
    (tmp_path / "502.html").write_text("<h1>down</h1>")
    (tmp_path / "403.txt").write_text("no")
    found = issues_of(apply(base_document(), copy.deepcopy(edits, {id(DELETE): DELETE})), tmp_path)
    wanted = [(p, m.replace("{dir}", str(tmp_path))) for p, m in expected]
    for path, message in wanted:
        assert any(p == path and m.startswith(message) for p, m in found), (path, message, found)
    assert len(found) == len(wanted), found


def test_a_page_over_one_megabyte_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.html").write_bytes(b"x" * (1024 * 1024 + 1))
    edits = [
        (
            "customErrorConfigurations",
            [{"statusCode": "HttpStatus502", "customErrorPageFile": "big.html"}],
        )
    ]
    assert issues_of(apply(base_document(), edits), tmp_path) == [
        ("customErrorConfigurations[0].customErrorPageFile",
         f"'{tmp_path}/big.html' is 1048577 bytes; a custom error page is at most 1048576 bytes (1 MB)")
    ]  # fmt: skip


def _plan(edits: list[Edit], base_dir: Path) -> Any:
    document = apply(base_document(), copy.deepcopy(edits, {id(DELETE): DELETE}))
    return compile_plan(load_document(document, "test.yaml", base_dir))


def test_rules_run_by_sequence_ties_in_listed_order(tmp_path: Path) -> None:
    rules = [
        {"name": "late", "ruleSequence": 200},
        {"name": "first-of-tie", "ruleSequence": 50},
        {"name": "default-100"},
        {"name": "second-of-tie", "ruleSequence": 50},
    ]
    plan = _plan([("rewriteRuleSets", [{"name": "rw", "rewriteRules": rules}]),
                  ("requestRoutingRules[0].rewriteRuleSet", "rw")], tmp_path)  # fmt: skip
    assert plan.rules[0].rewrite is not None
    names = [r.name for r in plan.rules[0].rewrite.rules]
    assert names == ["first-of-tie", "second-of-tie", "default-100", "late"]


def test_captures_and_whole_values_in_a_value(tmp_path: Path) -> None:
    rule = {
        "conditions": [{"variable": "http_resp_Location", "pattern": "(https?)://[^/]+(.*)"}],
        "actionSet": {"responseHeaderConfigurations": [
            header("Location", "{http_resp_Location_1}://{var_host}{http_resp_Location_2}")
        ]},
    }  # fmt: skip
    plan = _plan(with_set(rule), tmp_path)
    action = plan.rules[0].rewrite.rules[0].response_headers[0]
    assert action.value is not None
    refs = [p for p in action.value if isinstance(p, Ref)]
    assert [(r.variable.kind, r.variable.name, r.group) for r in refs] == [
        (Kind.RESPONSE, "location", 1),
        (Kind.SERVER, "host", None),
        (Kind.RESPONSE, "location", 2),
    ]
    assert action.value[1] == "://"


def test_path_map_sets_and_error_pages_reach_the_plan(tmp_path: Path) -> None:
    (tmp_path / "g502.html").write_text("gateway")
    (tmp_path / "l403.html").write_text("listener")
    edits = [
        *PATH_BASED,
        ("urlPathMaps[0].defaultRewriteRuleSet", "rw"),
        ("rewriteRuleSets", [a_set()]),
        ("customErrorConfigurations", [{"statusCode": "HttpStatus502", "customErrorPageFile": "g502.html"}]),
        ("httpListeners[1]", {"name": "other", "port": 8090, "protocol": "Http",
                              "customErrorConfigurations": [
                                  {"statusCode": "httpstatus403", "customErrorPageFile": "l403.html"}]}),
    ]  # fmt: skip
    plan = _plan(edits, tmp_path)
    path_map = plan.rules[0].destination
    assert isinstance(path_map, PathMap)
    assert path_map.rules[0].rewrite is not None
    assert path_map.default_rewrite is not None
    front, other = plan.listeners
    assert {k: v.body for k, v in front.error_pages.items()} == {502: b"gateway"}
    assert {k: v.body for k, v in other.error_pages.items()} == {403: b"listener"}  # replaces


def test_a_page_given_by_url_only_is_a_warning(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/502.html"  # never fetched
    doc = apply(base_document(), [("customErrorConfigurations",
                                   [{"statusCode": "HttpStatus502", "customErrorPageUrl": url}])])  # fmt: skip
    model, issues = validate_document(doc, tmp_path)
    assert issues == []
    assert model is not None
    assert any("customErrorPageFile" in n and url in n for n in advice(model))
