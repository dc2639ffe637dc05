"""Azure ARM documents → a probegate configuration dict (`probegate import-arm`).

Reads a deployment template holding one `Microsoft.Network/applicationGateways` resource, or the
JSON `az network application-gateway show` prints, and returns the probegate config dict with one
line per field that was left out and why.

This module finds the gateway and converts its top level; the pieces live beside it:
`read` (case-insensitive reading, values evaluated on demand), `tables` (what each
collection converts), `expr`/`scope`/`functions` (template expressions) and
`params` (parameters and parameters files).

Rules:
- Only converted fields are evaluated, so an expression in a field probegate ignores, such as the
  usual `[resourceGroup().location]`, never fails the import.
- Nothing is dropped silently: each field that cannot apply is one line of `ignored`; the status
  fields and back-references of CLI output are counted in a single summary line.
- Every problem is collected; `convert_arm` raises one ConfigError listing them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from probegate.config.arm.expr import ExpressionError
from probegate.config.arm.functions import first_token
from probegate.config.arm.listeners import bind_apart, empty_pools, unused_missing
from probegate.config.arm.params import build_scope, load_parameters_file
from probegate.config.arm.read import (
    Node,
    Obj,
    Reader,
    clip,
    describe,
    join,
    origins_of,
    peek,
    show_json,
)
from probegate.config.arm.tables import (
    ERROR_PAGES,
    FRONTEND_PORTS,
    GATEWAY_COLLECTIONS,
    NO_SPEC,
    REASONS,
    SKUS,
    SSL_POLICY,
    keys,
)
from probegate.errors import ConfigError, ConfigIssue

__all__ = ["ArmConversion", "convert_arm", "is_arm_document", "load_parameters_file"]

_GATEWAY_TYPE = "microsoft.network/applicationgateways"


@dataclass(frozen=True, slots=True)
class ArmConversion:
    config: dict[str, Any]
    ignored: tuple[str, ...]
    # what the conversion changed that an operator should know (a host name moved to fqdn, a
    # bind address chosen, a pool left empty); shown prominently
    notes: tuple[str, ...] = ()
    # each converted path → (the template path it came from, the raw value written there)
    origins: Mapping[str, tuple[str, object]] = field(default_factory=dict)


def is_arm_document(doc: object) -> bool:
    """True for an ARM deployment template or an Azure CLI gateway document, in any key case."""
    if not isinstance(doc, Mapping):
        return False
    lowered = {str(key).lower(): value for key, value in doc.items()}
    schema, type_, props = lowered.get("$schema"), lowered.get("type"), lowered.get("properties")
    return (
        (isinstance(schema, str) and "deploymenttemplate" in schema.lower())
        or isinstance(lowered.get("resources"), list | Mapping)
        or (isinstance(type_, str) and type_.lower() == _GATEWAY_TYPE)
        or (isinstance(props, Mapping) and any(str(key).lower() in _MARKERS for key in props))
    )


_MARKERS = keys(
    "backendAddressPools httpListeners requestRoutingRules probes frontendPorts "
    "backendHttpSettingsCollection"
)


_NOT_AN_OBJECT = (
    "an ARM document is a JSON object: a template or az network application-gateway show"
)


def convert_arm(doc: object, parameters: Mapping[str, object] | None = None) -> ArmConversion:
    """Convert; raises ConfigError with every problem found, each located by its JSON path."""
    if not isinstance(doc, Mapping):
        raise ConfigError([ConfigIssue("", _NOT_AN_OBJECT)])
    root = Obj(doc, "", literal=False)
    if root.has("resources") or _is_template_schema(root):
        converter, gateway = _open_template(root, parameters or {})
    else:
        converter, gateway = _Converter(None), Obj(doc, "", literal=True)
        if parameters:
            converter.issue("", "parameters were given, but Azure CLI output has none to fill in")
    config = converter.gateway(gateway) if gateway is not None else {}
    converter.summarise(gateway.path if gateway is not None else "")
    origins = origins_of(config, converter.origins)
    if converter.deployed:
        converter.issues.insert(0, ConfigIssue("", _deployed(converter.deployed)))
    if converter.issues:
        raise ConfigError(converter.issues)
    bind_apart(config, origins, converter)
    empty_pools(config, converter)
    unused_missing(converter)
    return ArmConversion(config, tuple(converter.ignored), tuple(converter.notes), origins)


def _deployed(paths: list[str]) -> str:
    count = f"{len(paths)} converted field{'s' if len(paths) > 1 else ''}"
    return (
        f"this template reads resources Azure has deployed, with reference() ({count}, listed "
        "below); those values exist only after a deployment, so no import can know them. Convert "
        "the deployed gateway instead: az network application-gateway show --resource-group RG "
        "--name NAME > gw.json, then probegate import-arm gw.json"
    )


def _is_template_schema(root: Obj) -> bool:
    node = root.peek("$schema")
    return isinstance(node, str) and "deploymenttemplate" in node.lower()


def _open_template(root: Obj, supplied: Mapping[str, object]) -> tuple[_Converter, Obj | None]:
    declared, params_path = root.peek_mapping("parameters"), root.spelling("parameters")
    scope, issues = build_scope(declared, root.peek_mapping("variables"), supplied, params_path)
    converter = _Converter(scope)
    converter.issues.extend(issues)
    for key in ("outputs", "functions"):
        node = root.take(key)
        if node is not None and node.raw not in ([], {}):
            converter.ignored.append(f"{node.path}: {describe(key, node.raw)} ({REASONS[key]})")
    return converter, converter.find_gateway(root)


class _Converter(Reader):
    """Finds the gateway resource and converts its top level; the collections follow the tables."""

    def find_gateway(self, root: Obj) -> Obj | None:
        found = _resources(root.peek("resources"), root.spelling("resources"))
        gateways = [obj for obj in found if _type_of(obj) == _GATEWAY_TYPE]
        for obj in found:
            if _type_of(obj) != _GATEWAY_TYPE:
                what = f"{obj.peek('type')} {show_json(obj.peek('name'))}"
                self.ignored.append(f"{obj.path}: {what} ({self._left_out(obj)})")
                self._remember_ipv6(obj)
        if len(gateways) == 1:
            gateways[0].take("type")
            return gateways[0]
        where = root.spelling("resources")
        if not gateways:
            self._no_gateway(where, found)
        else:
            names = ", ".join(f"{obj.path} {show_json(obj.peek('name'))}" for obj in gateways)
            self.issue(
                where,
                f"{len(gateways)} application gateways ({names}); probegate "
                "converts one: remove the others or split the template",
            )
        return None

    def _no_gateway(self, where: str, found: list[Obj]) -> None:
        nested = [(obj, path) for obj in found if (path := _nested_gateway(obj)) is not None]
        for deployment, path in nested:
            name = f"{deployment.path} {show_json(deployment.peek('name'))}"
            self.issue(path, _NESTED.format(name=name))
        if not nested:
            linked = [f"{obj.path} {show_json(obj.peek('name'))}" for obj in found if _linked(obj)]
            hint = f" ({', '.join(linked)} {_LINKED})" if linked else ""
            self.issue(
                where, f"no Microsoft.Network/applicationGateways resource in this template{hint}"
            )

    def _left_out(self, resource: Obj) -> str:
        """Why a resource beside the gateway is left out, and what to do if it joins a pool."""
        why = "only the application gateway is converted"
        pools: list[str] = []
        addresses: list[str] = []
        for refs, address in _pool_joins(resource.raw):
            pools.extend(name for ref in refs if (name := self._pool_name(ref)) not in pools)
            if isinstance(address, str) and address and not address.startswith("["):
                addresses.append(address)
        joins = f"{resource.path} ({resource.peek('type')})"
        self.joined_from.extend((pool, joins) for pool in pools)
        return f"{why}; {_membership(pools, addresses)}" if pools else why

    def _remember_ipv6(self, resource: Obj) -> None:
        """The names of IPv6 public addresses, so listeners on them can bind to ::1."""
        if _type_of(resource) != "microsoft.network/publicipaddresses":
            return
        version = peek(resource.peek("properties"), "publicipaddressversion")
        name = resource.peek("name")
        if not isinstance(name, str) or not isinstance(version, str):
            return
        try:
            value = name if self.scope is None else self.scope.evaluate_string(name)
            version_value = version if self.scope is None else self.scope.evaluate_string(version)
        except ExpressionError:
            return
        if isinstance(value, str) and str(version_value).lower() == "ipv6":
            self.ipv6_addresses.add(value.lower())

    def _pool_name(self, ref: object) -> str:
        raw = peek(ref, "id") if isinstance(ref, Mapping) else ref
        if not isinstance(raw, str):
            return clip(show_json(raw))
        try:
            value = raw if self.scope is None else self.scope.evaluate_string(raw)
        except ExpressionError:
            value = raw  # a copy loop or a function probegate does not run: show what is written
        last = value.rstrip("/").rsplit("/", 1)[-1] if isinstance(value, str) else None
        return raw if last is None or first_token(last) is not None else last

    def gateway(self, resource: Obj) -> dict[str, Any]:
        props_node = resource.take("properties")
        props = resource if props_node is None else self.obj(props_node)
        config: dict[str, Any] = {}
        if props is None:
            return config
        sku = props.take("sku") or resource.take("sku")
        if sku is not None and (name := self.sku(sku)) is not None:
            config["sku"] = name
        self.ipv6_frontends = self._ipv6_frontends(props.peek("frontendIPConfigurations"))
        ports = props.take("frontendPorts")
        for port in [] if ports is None else self.collection(ports, FRONTEND_PORTS):
            self.frontend_ports[str(port.get("name", "")).lower()] = port.get("port")
        for spec in GATEWAY_COLLECTIONS:
            node = props.take(spec.key)
            items = [] if node is None else self.collection(node, spec)
            if items:
                config[spec.key] = items
        pages_node = props.take("customErrorConfigurations")
        pages = [] if pages_node is None else self.list_of(pages_node, ERROR_PAGES)
        if pages:
            config["customErrorConfigurations"] = pages
        policy_node = props.take("sslPolicy")
        policy = None if policy_node is None else self.sub_object(policy_node, SSL_POLICY)
        if policy:
            config["sslPolicy"] = policy
        if props is not resource:
            self.leftovers(props, NO_SPEC)
        self.leftovers(resource, NO_SPEC)
        return config

    def _ipv6_frontends(self, raw: object) -> set[str]:
        """Frontend IP configurations on an IPv6 address (their public IP is IPv6, or their
        private address is): a listener on one binds to ::1 when it must stay apart."""
        found: set[str] = set()
        for item in raw if isinstance(raw, list) else []:
            props = peek(item, "properties")
            public = peek(props, "publicipaddress")
            ref = peek(public, "id") if isinstance(public, Mapping) else None
            try:
                name = self._evaluated(peek(item, "name"))
                target = self._evaluated(ref)
                private = self._evaluated(peek(props, "privateipaddressversion"))
            except ExpressionError:
                continue
            last = target.rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(target, str) else ""
            ipv6 = last in self.ipv6_addresses or str(private).lower() == "ipv6"
            if isinstance(name, str) and ipv6:
                found.add(name.lower())
        return found

    def _evaluated(self, raw: object) -> object:
        if self.scope is None or not isinstance(raw, str):
            return raw
        return self.scope.evaluate_string(raw)

    def sku(self, node: Node) -> str | None:
        sku = self.obj(node)
        if sku is None:
            return None
        name_node, canonical = sku.take("name"), None
        if name_node is None:
            self.issue(node.path, "the sku needs a name, such as Standard_v2")
        elif (name := self.text(name_node)) is not None:
            canonical = self._sku_name(name_node.path, name)
        self.leftovers(sku, NO_SPEC)
        return canonical

    def _sku_name(self, path: str, name: str) -> str | None:
        canonical = SKUS.get(name.lower())
        if canonical is None:
            self.issue(
                path,
                f"unknown sku '{name}': use Standard_v2 or WAF_v2 (v2 "
                "rules), or a Standard_* or WAF_* size (v1 rules)",
            )
        elif canonical.lower() != name.lower():
            self.ignored.append(
                f"{path}: {show_json(name)} (converted to {canonical}, "
                "whose rules it follows; instance sizes do not apply)"
            )
        return canonical


def _resources(raw: object, path: str) -> list[Obj]:
    """Every resource object, child `resources` included (symbolic-name objects too)."""
    if isinstance(raw, list):
        entries = [(f"{path}[{i}]", item) for i, item in enumerate(raw)]
    elif isinstance(raw, Mapping):
        entries = [(join(path, str(key)), item) for key, item in raw.items()]
    else:
        return []
    found: list[Obj] = []
    for where, item in entries:
        if isinstance(item, Mapping):
            found.append(obj := Obj(item, where, literal=False))
            if _type_of(obj) != _GATEWAY_TYPE:
                found.extend(_resources(obj.peek("resources"), obj.spelling("resources")))
    return found


_NESTED = (
    "the application gateway is defined in the nested deployment {name}, which probegate does "
    "not expand: convert that deployment's properties.template as a template of its own, giving "
    "the values its properties.parameters pass with --param"
)
_LINKED = (
    "links a template by URI, which probegate does not fetch: download it and convert it on its own"
)


def _membership(pools: list[str], addresses: list[str]) -> str:
    """What to do about a resource (a NIC, a scale set) that puts addresses in gateway pools."""
    where = f"backend pool {pools[0]}" if len(pools) == 1 else f"backend pools {', '.join(pools)}"
    there = "under backendAddresses there" if len(pools) == 1 else "under their backendAddresses"
    if addresses:
        them = "it" if len(addresses) == 1 else "them"
        return f"it adds {', '.join(addresses)} to {where}: list {them} {there}"
    return (
        f"it adds its addresses to {where}, and Azure assigns them at deployment: list them {there}"
    )


def _pool_joins(raw: object) -> Iterator[tuple[list[object], object]]:
    """Each place a resource puts an address in gateway pools: (pool references, the address)."""
    if isinstance(raw, list):
        for item in raw:
            yield from _pool_joins(item)
    elif isinstance(raw, Mapping):
        pools = peek(raw, "applicationgatewaybackendaddresspools")
        if isinstance(pools, list) and pools:
            yield pools, peek(raw, "privateipaddress")
        for value in raw.values():
            yield from _pool_joins(value)


def _nested_gateway(obj: Obj) -> str | None:
    """The path of a gateway inside a nested deployment's inline template, if it holds one."""
    if _type_of(obj) != "microsoft.resources/deployments":
        return None
    props = obj.peek("properties")
    if not isinstance(props, Mapping):
        return None
    outer = Obj(props, obj.spelling("properties"), literal=False)
    template = outer.peek("template")
    if not isinstance(template, Mapping):
        return None
    inner = Obj(template, outer.spelling("template"), literal=False)
    for found in _resources(inner.peek("resources"), inner.spelling("resources")):
        if _type_of(found) == _GATEWAY_TYPE:
            return found.path
        if (deeper := _nested_gateway(found)) is not None:
            return deeper
    return None


def _linked(obj: Obj) -> bool:
    props = obj.peek("properties")
    return _type_of(obj) == "microsoft.resources/deployments" and bool(peek(props, "templatelink"))


def _type_of(obj: Obj) -> str:
    type_ = obj.peek("type")
    return type_.lower() if isinstance(type_, str) else ""
