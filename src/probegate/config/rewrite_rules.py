"""Rules for rewrite rule sets and custom error pages that look across items, or into patterns.

Rules: read the raw document through `Doc` (tolerant of bad shapes: what the schema reports is
skipped here); yield ConfigIssue with the JSON path; never raise.
"""

from __future__ import annotations

from typing import Any

from probegate.config import errorpages
from probegate.config import rewrite as rw
from probegate.config.document import PATH_MAPS, REWRITES, RULES, Doc, Issues, folded
from probegate.errors import ConfigIssue

_REDIRECTED = "a redirect is answered by the gateway itself: there is no backend request to rewrite"
V2_ONLY = "header and URL rewrites are for v2 SKUs only (Standard_v2, WAF_v2); sku is '{sku}'"


def problems(doc: Doc) -> Issues:
    sets = doc.items(REWRITES)
    if sets and not doc.is_v2:
        yield ConfigIssue(REWRITES, V2_ONLY.format(sku=doc.sku))
    for path, item in sets:
        rules = item.get("rewriteRules")
        seen: dict[str, str] = {}
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(rule, dict):
                continue
            where = f"{path}.rewriteRules[{i}]"
            name = rule.get("name")
            if isinstance(name, str) and name in seen:
                yield ConfigIssue(f"{where}.name", f"'{name}' is already the name of {seen[name]}")
            elif isinstance(name, str):
                seen[name] = where
            yield from _rule(where, rule)
    yield from _uses(doc)
    yield from errorpages.problems(doc)


# ------------------------------------------------------------------------ one rewrite rule


def _rule(path: str, rule: dict[str, Any]) -> Issues:
    captured: dict[str, rw.Variable] = {}
    reads_response = False
    conditions = rule.get("conditions")
    for i, condition in enumerate(conditions if isinstance(conditions, list) else []):
        if not isinstance(condition, dict):
            continue
        where = f"{path}.conditions[{i}]"
        variable = condition.get("variable")
        if isinstance(variable, str):
            parsed = rw.parse_variable(variable)
            if isinstance(parsed, str):
                yield ConfigIssue(f"{where}.variable", parsed)
            else:
                captured[rw.condition_key(parsed)] = parsed
                reads_response = reads_response or parsed.on_response
        pattern, ignore = condition.get("pattern"), condition.get("ignoreCase", True)
        if isinstance(pattern, str) and isinstance(ignore, bool):
            compiled = rw.compile_pattern(pattern, ignore)
            if isinstance(compiled, str):
                yield ConfigIssue(f"{where}.pattern", compiled)
    actions = rule.get("actionSet")
    if isinstance(actions, dict):
        yield from _actions(f"{path}.actionSet", actions, captured, reads_response)


def _actions(
    path: str, actions: dict[str, Any], captured: dict[str, rw.Variable], reads_response: bool
) -> Issues:
    for key, request in (
        ("requestHeaderConfigurations", True),
        ("responseHeaderConfigurations", False),
    ):
        headers = actions.get(key)
        for i, header in enumerate(headers if isinstance(headers, list) else []):
            if not isinstance(header, dict):
                continue
            where = f"{path}.{key}[{i}]"
            name, value = header.get("headerName"), header.get("headerValue", "")
            if not isinstance(name, str) or not isinstance(value, str):
                continue
            if problem := rw.header_problem(name, value, request=request):
                yield ConfigIssue(f"{where}.headerName", problem)
                continue
            if request and reads_response:
                yield ConfigIssue(
                    where,
                    "a request header cannot be set by a rule whose conditions read the response",
                )
            yield from _template(f"{where}.headerValue", value, captured, response_ok=not request)
    url = actions.get("urlConfiguration")
    if isinstance(url, dict):
        if reads_response:
            yield ConfigIssue(
                f"{path}.urlConfiguration",
                "the URL cannot be rewritten by a rule whose conditions read the response",
            )
        for key in ("modifiedPath", "modifiedQueryString"):
            value = url.get(key)
            if isinstance(value, str):
                yield from _template(
                    f"{path}.urlConfiguration.{key}", value, captured, response_ok=False
                )


def _template(
    path: str, value: str, captured: dict[str, rw.Variable], *, response_ok: bool
) -> Issues:
    parsed = rw.parse_template(value, captured)
    if isinstance(parsed, str):
        yield ConfigIssue(path, parsed)
        return
    for ref in rw.references(parsed):
        if ref.variable.on_response and not response_ok:
            yield ConfigIssue(
                path,
                f"{{{ref.variable.text}}} is known only once the backend answered; a request cannot use it",
            )


# ------------------------------------------------------------------------ where sets are used


def _reroutes(item: dict[str, Any] | None) -> bool:
    rules = item.get("rewriteRules") if item else None
    for rule in rules if isinstance(rules, list) else []:
        actions = rule.get("actionSet") if isinstance(rule, dict) else None
        url = actions.get("urlConfiguration") if isinstance(actions, dict) else None
        if isinstance(url, dict) and url.get("reroute") is True:
            return True
    return False


def _uses(doc: Doc) -> Issues:
    if not doc.is_v2:
        for path, _ in _users(doc):
            yield ConfigIssue(path, V2_ONLY.format(sku=doc.sku))
        return
    for path, rule in doc.items(RULES):
        name = rule.get("rewriteRuleSet")
        if name is None:
            continue
        kind = folded(rule, "ruleType")
        if kind == "pathbasedrouting":
            yield ConfigIssue(
                f"{path}.rewriteRuleSet",
                "a PathBasedRouting rule names its rewrite sets in its path map (pathRules[].rewriteRuleSet, defaultRewriteRuleSet)",
            )
        elif "redirectConfiguration" in rule:
            yield ConfigIssue(f"{path}.rewriteRuleSet", _REDIRECTED)
        elif _reroutes(doc.by_name(REWRITES, name)):
            yield ConfigIssue(
                f"{path}.rewriteRuleSet",
                f"rewrite set '{name}' reroutes, and a Basic rule has no path map to re-evaluate",
            )
    for path, path_map in doc.items(PATH_MAPS):
        if "defaultRewriteRuleSet" in path_map and "defaultRedirectConfiguration" in path_map:
            yield ConfigIssue(f"{path}.defaultRewriteRuleSet", _REDIRECTED)
        rules = path_map.get("pathRules")
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            if (
                isinstance(rule, dict)
                and "rewriteRuleSet" in rule
                and "redirectConfiguration" in rule
            ):
                yield ConfigIssue(f"{path}.pathRules[{i}].rewriteRuleSet", _REDIRECTED)


def _users(doc: Doc) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"{p}.rewriteRuleSet", r) for p, r in doc.items(RULES) if "rewriteRuleSet" in r]
    for path, path_map in doc.items(PATH_MAPS):
        if "defaultRewriteRuleSet" in path_map:
            found.append((f"{path}.defaultRewriteRuleSet", path_map))
        rules = path_map.get("pathRules")
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, dict) and "rewriteRuleSet" in rule:
                found.append((f"{path}.pathRules[{i}].rewriteRuleSet", rule))
    return found
