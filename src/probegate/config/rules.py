"""Rules that look across items: names, references, SKU rules, listeners, files (SPEC section 1).

Rules of this module:
- `check` reads the raw document, not the model, so it still runs when the schema found problems
  and `validate` can list everything at once; anything not of the expected shape is skipped here
  (the schema already reports it);
- each rule is a small function yielding ConfigIssue; `check` is only the list of them;
- `advice` reads a valid model and returns warnings: things that work but are probably mistakes.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from probegate.config import checks, errorpages, mutualtls, rewrite_rules, sslpolicy, syntax
from probegate.config import document as doc_mod
from probegate.config.document import (
    COLLECTIONS,
    LISTENERS,
    PATH_MAPS,
    POOLS,
    PROBES,
    REDIRECTS,
    REWRITES,
    RULES,
    SETTINGS,
    SSL_CERTS,
    Doc,
    Issues,
    folded,
    text,
)
from probegate.config.model import BackendHttpSettings, GatewayConfig, Protocol
from probegate.config.model_rewrite import CustomErrorConfiguration
from probegate.errors import ConfigIssue


def check(raw: dict[str, Any], base_dir: Path) -> list[ConfigIssue]:
    doc = Doc(raw, base_dir)
    return [issue for rule in _RULES for issue in rule(doc)]


# ------------------------------------------------------------------------ names and references


def unique_names(doc: Doc) -> Issues:
    for collection in COLLECTIONS:
        first: dict[str, str] = {}
        for path, item in doc.items(collection):
            name = text(item, "name")
            if name is None:
                continue
            if problem := syntax.name_problem(name):
                yield ConfigIssue(f"{path}.name", problem)
            if name in first:
                yield ConfigIssue(f"{path}.name", f"'{name}' is already the name of {first[name]}")
            first.setdefault(name, path)


def _reference(doc: Doc, path: str, value: object, collection: str) -> Issues:
    if not isinstance(value, str) or value in doc.names(collection):
        return
    if not isinstance(doc.raw.get(collection, []), list):
        return  # the schema reports the collection itself
    known = doc.names(collection)
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    if close:
        hint = f"; did you mean '{close[0]}'?"
    elif known:
        hint = f" (defined: {', '.join(known)})"
    else:
        hint = f" ('{collection}' is empty)"
    yield ConfigIssue(path, f"no item of '{collection}' is named '{value}'{hint}")


_ITEM_REFERENCES = {
    LISTENERS: {"sslCertificate": SSL_CERTS},
    SETTINGS: {"probe": PROBES},
    RULES: {
        "httpListener": LISTENERS,
        "backendAddressPool": POOLS,
        "backendHttpSettings": SETTINGS,
        "urlPathMap": PATH_MAPS,
        "redirectConfiguration": REDIRECTS,
        "rewriteRuleSet": REWRITES,
    },
    PATH_MAPS: {
        "defaultBackendAddressPool": POOLS,
        "defaultBackendHttpSettings": SETTINGS,
        "defaultRedirectConfiguration": REDIRECTS,
        "defaultRewriteRuleSet": REWRITES,
    },
    REDIRECTS: {"targetListener": LISTENERS},
}
_PATH_RULE_REFERENCES = {
    "backendAddressPool": POOLS,
    "backendHttpSettings": SETTINGS,
    "redirectConfiguration": REDIRECTS,
    "rewriteRuleSet": REWRITES,
}


def references(doc: Doc) -> Issues:
    for collection, fields in _ITEM_REFERENCES.items():
        for path, item in doc.items(collection):
            for key, target in fields.items():
                yield from _reference(doc, f"{path}.{key}", item.get(key), target)
    for path, item in doc.items(SETTINGS):
        for key in (doc_mod.ROOTS, doc_mod.AUTH_CERTS):
            names = item.get(key)
            for i, name in enumerate(names if isinstance(names, list) else []):
                yield from _reference(doc, f"{path}.{key}[{i}]", name, key)
    for path, rule in _path_rules(doc):
        for key, target in _PATH_RULE_REFERENCES.items():
            yield from _reference(doc, f"{path}.{key}", rule.get(key), target)


def _path_rules(doc: Doc) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, path_map in doc.items(PATH_MAPS):
        rules = path_map.get("pathRules")
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, dict):
                found.append((f"{path}.pathRules[{i}]", rule))
    return found


# ------------------------------------------------------------------------ routing rules


def _target_shape(
    path: str, item: dict[str, Any], pool: str, settings: str, redirect: str
) -> Issues:
    """A route ends in a (pool, settings) pair or in a redirect — exactly one of the two."""
    has_pool, has_settings = pool in item, settings in item
    if has_pool and not has_settings:
        yield ConfigIssue(f"{path}.{settings}", f"is required together with '{pool}'")
    elif has_settings and not has_pool:
        yield ConfigIssue(f"{path}.{pool}", f"is required together with '{settings}'")
    elif has_pool and redirect in item:
        yield ConfigIssue(f"{path}.{redirect}", f"cannot be combined with '{pool}'; choose one")
    elif not has_pool and redirect not in item:
        yield ConfigIssue(path, f"needs '{pool}' and '{settings}', or '{redirect}'")


def rule_shapes(doc: Doc) -> Issues:
    for path, rule in doc.items(RULES):
        kind = folded(rule, "ruleType")
        if kind == "basic":
            if "urlPathMap" in rule:
                yield ConfigIssue(
                    f"{path}.urlPathMap", "only a PathBasedRouting rule takes a path map"
                )
            else:
                yield from _target_shape(
                    path, rule, "backendAddressPool", "backendHttpSettings", "redirectConfiguration"
                )
        elif kind == "pathbasedrouting":
            if "urlPathMap" not in rule:
                yield ConfigIssue(f"{path}.urlPathMap", "is required for a PathBasedRouting rule")
            for key in ("backendAddressPool", "backendHttpSettings", "redirectConfiguration"):
                if key in rule:
                    yield ConfigIssue(f"{path}.{key}", "belongs in the path map of this rule")
    for path, path_map in doc.items(PATH_MAPS):
        yield from _target_shape(
            path,
            path_map,
            "defaultBackendAddressPool",
            "defaultBackendHttpSettings",
            "defaultRedirectConfiguration",
        )
    for path, rule in _path_rules(doc):
        yield from _target_shape(
            path, rule, "backendAddressPool", "backendHttpSettings", "redirectConfiguration"
        )


def priorities(doc: Doc) -> Issues:
    rules = doc.items(RULES)
    given = [(path, rule["priority"]) for path, rule in rules if "priority" in rule]
    if not doc.is_v2:
        for path, _ in given:
            yield ConfigIssue(
                f"{path}.priority", f"only v2 SKUs order rules by priority (sku is '{doc.sku}')"
            )
        return
    if given and len(given) != len(rules):
        for path, rule in rules:
            if "priority" not in rule:
                yield ConfigIssue(f"{path}.priority", "is required once any rule has a priority")
    seen: dict[object, str] = {}
    for path, priority in given:
        if isinstance(priority, int) and priority in seen:
            yield ConfigIssue(
                f"{path}.priority", f"{priority} is already the priority of {seen[priority]}"
            )
        seen.setdefault(priority, path)


def one_rule_per_listener(doc: Doc) -> Issues:
    owner: dict[str, str] = {}
    for path, rule in doc.items(RULES):
        listener = text(rule, "httpListener")
        if listener is None:
            continue
        if listener in owner:
            yield ConfigIssue(
                f"{path}.httpListener",
                f"listener '{listener}' is already used by {owner[listener]}",
            )
        owner.setdefault(listener, path)


def rule_paths(doc: Doc) -> Issues:
    for path, path_map in doc.items(PATH_MAPS):
        seen: dict[str, str] = {}
        rules = path_map.get("pathRules")
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            paths = rule.get("paths") if isinstance(rule, dict) else None
            for k, value in enumerate(paths if isinstance(paths, list) else []):
                where = f"{path}.pathRules[{i}].paths[{k}]"
                if not isinstance(value, str):
                    continue
                if problem := syntax.rule_path_problem(value):
                    yield ConfigIssue(where, problem)
                elif value.casefold() in seen:
                    yield ConfigIssue(
                        where, f"'{value}' is already listed at {seen[value.casefold()]}"
                    )
                seen.setdefault(value.casefold(), where)


_RULES: tuple[Callable[[Doc], Issues], ...] = (
    unique_names,
    references,
    rule_shapes,
    priorities,
    one_rule_per_listener,
    rule_paths,
    checks.probes,
    checks.settings,
    checks.listeners,
    checks.pools,
    checks.certificate_files,
    checks.resolvers,
    checks.admin,
    sslpolicy.policy_problems,
    mutualtls.problems,
    rewrite_rules.problems,
)


# ------------------------------------------------------------------------ advice


def advice(model: GatewayConfig) -> list[str]:
    """Warnings for a valid file: it works, but an operator would want to know."""
    notes: list[str] = sslpolicy.retired_warnings(
        model.model_dump(by_alias=True, exclude_none=True)
    )
    for i, probe in enumerate(model.probes):
        if probe.timeout > probe.interval:
            notes.append(
                f"probes[{i}].timeout: {probe.timeout} s is longer than the interval "
                f"({probe.interval} s); probes of one target will overlap"
            )
    routed = _bound_pools(model)
    for i, pool in enumerate(model.backend_address_pools):
        if not pool.backend_addresses and pool.name in routed:
            notes.append(
                f"{POOLS}[{i}]: pool '{pool.name}' has no servers: nothing is probed for it and "
                "requests routed to it are answered 502"
            )
    used = _bound_settings(model)
    for i, item in enumerate(model.backend_http_settings_collection):
        if item.name not in used:
            notes.append(f"{SETTINGS}[{i}]: no rule uses settings '{item.name}'; nothing is probed")
        if item.insecure_skip_verify and item.protocol is Protocol.HTTPS:
            notes.append(
                f"{SETTINGS}[{i}].insecureSkipVerify: backend certificates of '{item.name}' are "
                "NOT verified; lab use only"
            )
        notes.extend(_switches_off(i, item))
    return notes + _page_notes(model)


def _page_notes(model: GatewayConfig) -> list[str]:
    def items(pages: list[CustomErrorConfiguration]) -> list[tuple[int, str | None, str | None]]:
        return [
            (p.status_code.code, p.custom_error_page_file, p.custom_error_page_url) for p in pages
        ]

    notes = errorpages.url_only_notes(errorpages.PAGES, items(model.custom_error_configurations))
    for i, listener in enumerate(model.http_listeners):
        where = f"{LISTENERS}[{i}].{errorpages.PAGES}"
        notes += errorpages.url_only_notes(where, items(listener.custom_error_configurations))
    return notes


def _bound_pools(model: GatewayConfig) -> set[str]:
    names = {r.backend_address_pool for r in model.request_routing_rules}
    for path_map in model.url_path_maps:
        names.add(path_map.default_backend_address_pool)
        names.update(rule.backend_address_pool for rule in path_map.path_rules)
    return {n for n in names if n is not None}


def _bound_settings(model: GatewayConfig) -> set[str]:
    names = {r.backend_http_settings for r in model.request_routing_rules}
    for path_map in model.url_path_maps:
        names.add(path_map.default_backend_http_settings)
        names.update(rule.backend_http_settings for rule in path_map.path_rules)
    return {n for n in names if n is not None}


def _switches_off(i: int, item: BackendHttpSettings) -> list[str]:
    """The model's backend TLS checks an operator turned off: allowed, and said out loud."""
    if item.protocol is not Protocol.HTTPS or item.insecure_skip_verify:
        return []
    notes = []
    if not item.validate_cert_chain_and_expiry:
        notes.append(
            f"{SETTINGS}[{i}].validateCertChainAndExpiry: false: the chain, its trust and its "
            f"dates are NOT checked for '{item.name}'"
        )
    if not item.validate_sni:
        notes.append(
            f"{SETTINGS}[{i}].validateSNI: false: the backend certificate's name is NOT checked "
            f"for '{item.name}'"
        )
    return notes
