"""The pure core of rewrites (proxy/rewrite.py): conditions, captures, values and the edits they
make, table-driven; and the guard that keeps a hostile header from making a pattern spin."""

from __future__ import annotations

import time
from typing import Any

import pytest

from probegate.config import rewrite as rw
from probegate.proxy.rewrite import (
    Facts,
    RequestEdits,
    apply_to_head,
    apply_to_lines,
    matches,
    on_request,
    on_response,
    render,
)

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath


def condition(
    variable: str, pattern: str, *, negate: bool = False, ignore_case: bool = True
) -> rw.Condition:
    parsed = rw.parse_variable(variable)
    regex = rw.compile_pattern(pattern, ignore_case)
    assert not isinstance(parsed, str)
    assert not isinstance(regex, str)
    return rw.Condition(parsed, pattern, regex, negate, ignore_case)


def rule(
    *conditions: rw.Condition, name: str = "r", sequence: int = 100, **actions: Any
) -> rw.RewriteRule:
    return rw.RewriteRule(
        name,
        sequence,
        conditions,
        actions.get("request_headers", ()),
        actions.get("response_headers", ()),
        actions.get("url"),
    )


def template(text: str, *conditions: rw.Condition) -> rw.Template:
    captured = {rw.condition_key(c.variable): c.variable for c in conditions}
    parsed = rw.parse_template(text, captured)
    assert not isinstance(parsed, str)
    return parsed


FACTS = Facts(
    request={"user-agent": "Mozilla/5.0 (iPhone)", "x-forwarded-for": "10.0.0.1:5555",
             "cookie": "a=1; session=abc; b=2", "host": "App.test:8080"},
    server={"uri_path": "/shop/item/42", "query_string": "lang=en&id=7", "client_ip": "127.0.0.1",
            "http_method": "GET", "host": "app.test"},
    response={"location": "http://backend.internal:8080/login?next=/", "server": "Kestrel"},
)  # fmt: skip

CONDITIONS = [
    pytest.param(condition("http_req_User-Agent", "iphone"), True, id="ignore-case-default"),
    pytest.param(condition("http_req_User-Agent", "iphone", ignore_case=False), False, id="case-sensitive"),
    pytest.param(condition("http_req_User-Agent", "iphone", negate=True), False, id="negate-a-match"),
    pytest.param(condition("http_req_Accept", "json", negate=True), True, id="negate-absent-header"),
    pytest.param(condition("http_req_Accept", "^$"), True, id="absent-header-is-empty"),
    pytest.param(condition("http_req_Accept", "."), False, id="absent-header-needs-empty-match"),
    pytest.param(condition("http_req_X_Forwarded_For", ":5555$"), True, id="underscores-name-dashes"),
    pytest.param(condition("var_uri_path", r"^/shop/"), True, id="server-variable"),
    pytest.param(condition("var_cookie_session", "^abc$"), True, id="cookie"),
    pytest.param(condition("var_cookie_none", "."), False, id="absent-cookie"),
    pytest.param(condition("var_query_string", "id=7"), True, id="query-string"),
    pytest.param(condition("http_resp_Server", "^kestrel$"), True, id="response-header"),
]  # fmt: skip


@pytest.mark.parametrize(("cond", "holds"), CONDITIONS)
def test_one_condition(cond: rw.Condition, holds: bool) -> None:
    assert (matches(rule(cond), FACTS) is not None) is holds


def test_conditions_of_one_rule_are_anded() -> None:
    yes, no = condition("var_http_method", "GET"), condition("var_uri_path", "^/admin")
    assert matches(rule(yes), FACTS) is not None
    assert matches(rule(yes, no), FACTS) is None


VALUES = [
    pytest.param("{http_resp_Location_1}://{var_host}{http_resp_Location_2}",
                 [condition("http_resp_Location", r"(https?)://[^/]+(.*)")],
                 "http://app.test/login?next=/", id="location-captures"),
    pytest.param("{var_uri_path_1}-{var_uri_path_2}", [condition("var_uri_path", r"^/(\w+)/item/(\d+)")],
                 "shop-42", id="two-groups"),
    pytest.param("{var_uri_path_0}", [condition("var_uri_path", r"item/\d+")], "item/42", id="group-0"),
    pytest.param("{var_uri_path_7}", [condition("var_uri_path", r"(item)")], "", id="missing-group"),
    pytest.param("{http_req_User-Agent}", [], "Mozilla/5.0 (iPhone)", id="whole-header"),
    pytest.param("[{http_req_Missing}]", [], "[]", id="absent-header-empty"),
    pytest.param("{var_client_ip}", [], "127.0.0.1", id="server-var"),
    pytest.param("max-age=31536000; includeSubDomains", [], "max-age=31536000; includeSubDomains",
                 id="literal"),
    pytest.param("{not a token}", [], "{not a token}", id="braces-stay"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "conditions", "expected"), VALUES)
def test_values(text: str, conditions: list[rw.Condition], expected: str) -> None:
    captures = matches(rule(*conditions), FACTS)
    assert captures is not None
    assert render(template(text, *conditions), FACTS, captures) == expected


def test_a_negated_condition_captures_nothing() -> None:
    cond = condition("var_uri_path", r"^/(admin)", negate=True)
    captures = matches(rule(cond), FACTS)
    assert captures == {}
    assert render(template("[{var_uri_path_1}]", cond), FACTS, captures) == "[]"


def test_request_edits_in_rule_order_later_wins() -> None:
    first = rule(name="a", sequence=1, request_headers=(rw.HeaderAction("X-Who", template("one")),))
    second = rule(
        name="b", sequence=2, request_headers=(rw.HeaderAction("x-who", template("two")),)
    )
    deleting = rule(name="c", sequence=3, request_headers=(rw.HeaderAction("User-Agent", None),))
    edits = RequestEdits()
    on_request(rw.make_set("s", [deleting, second, first]), FACTS, edits)
    assert edits.headers == [("X-Who", "one"), ("x-who", "two"), ("User-Agent", None)]
    assert edits.matched == ["s/a", "s/b", "s/c"]
    lines = [b"X-Who", b": ", b"zero", b"\r\n", b"User-Agent", b": ", b"curl", b"\r\n"]
    assert apply_to_lines(lines, edits.headers) == [b"x-who", b": ", b"two", b"\r\n"]


def test_url_edits_keep_what_is_not_given_and_reroute() -> None:
    cond = condition("var_query_string", r"category=(\w+)")
    url = rw.UrlAction(template("/{var_query_string_1}/list", cond), None, True)
    facts = Facts({}, {"query_string": "category=shoes&page=2", "uri_path": "/list"})
    edits = RequestEdits()
    on_request(rw.make_set("s", [rule(cond, url=url)]), facts, edits)
    assert (edits.path, edits.query, edits.reroute) == ("/shoes/list", None, True)


def test_url_edits_are_made_safe_for_the_request_line() -> None:
    url = rw.UrlAction(template("a b/{http_req_X}"), template("?q=1 2"), False)
    edits = RequestEdits()
    on_request(rw.make_set("s", [rule(url=url)]), Facts({"x": "c\td"}, {}), edits)
    assert (edits.path, edits.query) == ("/a%20b/cd", "q=1%202")


def test_rules_reading_the_response_wait_for_it() -> None:
    cond = condition("var_http_status", "^5")
    hide = rule(cond, response_headers=(rw.HeaderAction("Server", None),))
    rules = rw.make_set("s", [hide])
    edits = RequestEdits()
    on_request(rules, FACTS, edits)
    assert edits.matched == []
    facts = Facts({}, {"http_status": "503"}, {"server": "Kestrel"})
    matched: list[str] = []
    assert on_response(rules, facts, matched) == [("Server", None)]
    assert matched == ["s/r"]
    facts.server["http_status"] = "200"
    assert on_response(rules, facts, []) == []


def test_request_head_edits_replace_every_line_of_the_name() -> None:
    head = (
        b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 10.0.0.1:5555, 127.0.0.1:40000\r\n"
        b"Accept: */*\r\nX-Forwarded-For: again\r\n\r\n"
    )
    edited = apply_to_head(head, [("X-Forwarded-For", "10.0.0.1, 127.0.0.1"), ("Accept", None)])
    assert edited == (
        b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n\r\n"
    )


def test_a_hostile_header_cannot_make_a_pattern_spin() -> None:
    """`(a+)+$` backtracks exponentially in a backtracking engine on `aaaa...!`; RE2 is linear."""
    cond = condition("http_req_X", r"^(a+)+$")
    facts = Facts({"x": "a" * 50_000 + "!"}, {})
    started = time.perf_counter()
    assert matches(rule(cond), facts) is None
    assert time.perf_counter() - started < 1.0
