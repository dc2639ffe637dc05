"""The conversion tables of the ARM import: which property of each gateway collection is converted,
how it is read, and why each property that is not converted is left out.

Rules:
- Data, not logic: one `Field` per converted property, in the order probegate writes them; a reader
  is a function of the `Reader` (read.py) and the node, so adding a property is one line here.
- Every reason is a sentence an operator can act on; anything not converted and without a reason
  here is reported as "not supported by probegate".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from probegate.config.syntax import hostname_problem, is_ip

if TYPE_CHECKING:
    from probegate.config.arm.read import Node, Reader

Read = Callable[["Reader", "Node"], object]


@dataclass(frozen=True, slots=True)
class Field:
    key: str  # the ARM property, matched in any case; also the probegate key unless `out` is set
    read: Read
    out: str = ""


@dataclass(frozen=True, slots=True)
class Spec:
    key: str
    fields: tuple[Field, ...] = ()
    backrefs: frozenset[str] = frozenset()  # CLI back-references, counted with the status fields
    reasons: Mapping[str, str] = field(default_factory=dict)
    empty_lists: tuple[str, ...] = ()  # keys written even when the source has nothing


def keys(names: str) -> frozenset[str]:
    """A set of lower-case keys, written as space-separated names in their usual spelling."""
    return frozenset(names.lower().split())


# ---------------------------------------------------------------------------------------- readers


def _text(reader: Reader, node: Node) -> object:
    return reader.text(node)


def _integer(reader: Reader, node: Node) -> object:
    return reader.integer(node)


def _boolean(reader: Reader, node: Node) -> object:
    return reader.boolean(node)


def _secret(reader: Reader, node: Node) -> object:
    return reader.secret(node)


def _texts(reader: Reader, node: Node) -> object:
    return reader.texts(node)


def _enum(*choices: str) -> Read:
    return lambda reader, node: reader.enum(node, choices)


def _ref(collection: str) -> Read:
    return lambda reader, node: reader.ref(node, collection)


def _refs(collection: str) -> Read:
    return lambda reader, node: reader.refs(node, collection)


def _object(spec: Spec) -> Read:
    return lambda reader, node: reader.sub_object(node, spec)


def _items(spec: Spec) -> Read:
    return lambda reader, node: reader.collection(node, spec)


def _only_true(reader: Reader, node: Node) -> object:
    """A switch written only when on (CLI output prints `false` on every listener)."""
    return True if reader.boolean(node) else None


def _objects(spec: Spec) -> Read:
    return lambda reader, node: reader.list_of(node, spec)


def _page_url(reader: Reader, node: Node) -> object:
    """The model fetches the page; probegate serves a local copy, so the URL becomes a note."""
    url = reader.text(node)
    if url is not None:
        reader.notes.append(
            f"{node.path}: '{url}' is fetched by the model; probegate serves local files: save a "
            "copy and set customErrorPageFile beside customErrorPageUrl (until then the gateway's "
            "plain answer is served for that status)"
        )
    return url


def _one_host(reader: Reader, node: Node) -> list[str] | None:
    host = reader.text(node)
    return None if host is None else [host]


def _listener_port(reader: Reader, node: Node) -> object:
    name = reader.ref(node, "frontendPorts")
    if name is None:
        return None
    if name.lower() not in reader.frontend_ports:
        defined = ", ".join(sorted(reader.frontend_ports)) or "none"
        reader.issue(
            node.path,
            f"refers to frontend port '{name}', which frontendPorts does "
            f"not define (defined: {defined})",
        )
    return reader.frontend_ports.get(name.lower())


def _addresses(reader: Reader, node: Node) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = []
    for item in reader.nodes(node):
        reported = len(reader.issues)
        member = reader.sub_object(item, ADDRESS)
        if member is not None and len(member) != 1 and len(reader.issues) == reported:
            reader.issue(item.path, "a backend address needs exactly one of ipAddress or fqdn")
        elif member is not None:
            members.append(_host_name_as_fqdn(reader, item, member))
    return members


def _host_name_as_fqdn(reader: Reader, item: Node, member: dict[str, Any]) -> dict[str, Any]:
    """Azure takes a host name in `ipAddress` (published quickstarts put App Service names
    there); probegate keeps addresses and names apart, so it moves to `fqdn`, with a note."""
    value = member.get("ipAddress")
    if not isinstance(value, str) or is_ip(value) or hostname_problem(value) is not None:
        return member
    reader.notes.append(
        f"{item.path}.ipAddress: '{value}' is a host name, not an IP address: written as fqdn "
        "(probegate resolves it, and follows its DNS answers)"
    )
    moved = {"fqdn": value}
    origin = reader.origins.get(id(member))
    if origin is not None:
        reader.origins[id(moved)] = (origin[0], {"fqdn": origin[1]["ipAddress"]})
    return moved


def _frontend_ip(reader: Reader, node: Node) -> object:
    """Remember which frontend IP configuration a listener is on (see convert.py: listeners that
    share a port on different configurations get distinct bind addresses)."""
    name = reader.ref(node, "frontendIPConfigurations")
    if name is not None:
        listener = node.path.rsplit(".", 1)[0]
        reader.listener_frontends[listener.removesuffix(".properties")] = name
    return None


# ---------------------------------------------------------------------------------------- tables

# Kept dense on purpose: one glance shows every field of a collection.
# fmt: off
_HTTP = ("Http", "Https")
_BIND = "listeners bind to 127.0.0.1; set bindAddress to expose them"
_WAF = "probegate has no web application firewall"
_PASSTHROUGH = "probegate verifies client certificates itself (strict mode); passthrough is not supported"
_PRIVATE_LINK = "Private Link does not apply to a self-hosted gateway"
_PEM = "export the certificate and its key to PEM and set certFile and keyFile"
_ROUND_ROBIN = "probegate balances by round robin"
_SKU_NAME = "probegate takes the v1 or v2 rules from the sku name"
_LAYER4 = "TCP and TLS (layer 4) proxying is not supported; probegate proxies HTTP"
# Why each field that cannot apply is left out, by lower-case key; anything else that is not
# converted is "not supported by probegate".
REASONS: dict[str, str] = {
    "gatewayipconfigurations": "the gateway's subnet does not apply to a self-hosted gateway",
    "frontendipconfigurations": _BIND, "frontendipconfiguration": _BIND,
    "autoscaleconfiguration": "probegate runs as one process; autoscaling does not apply",
    "capacity": "probegate runs as one process; the instance count does not apply",
    "tier": _SKU_NAME, "family": _SKU_NAME,
    "webapplicationfirewallconfiguration": _WAF, "firewallpolicy": _WAF,
    "forcefirewallpolicyassociation": _WAF,
    "enablehttp2": "probegate serves clients over HTTP/1.1",
    "verifyclientauthmode": _PASSTHROUGH,
    "disabledsslprotocols": "write the policy as policyType with policyName or minProtocolVersion",
    "privatelinkconfigurations": _PRIVATE_LINK, "privateendpointconnections": _PRIVATE_LINK,
    "location": "the Azure region does not apply to a self-hosted gateway",
    "zones": "availability zones do not apply to a self-hosted gateway",
    "tags": "Azure tags are not part of a probegate configuration",
    "identity": "the managed identity only serves Key Vault, which probegate cannot read",
    "dependson": "deployment order does not apply",
    "condition": "the gateway is converted whatever its deployment condition",
    "apiversion": "probegate reads the properties it knows from any API version",
    "name": "a probegate configuration has no gateway name",
    "probeenabled": "probegate probes every server a rule uses; pick a custom probe with probe",
    "loaddistributionpolicies": _ROUND_ROBIN, "loaddistributionpolicy": _ROUND_ROBIN,
    "listeners": _LAYER4, "routingrules": _LAYER4, "backendsettingscollection": _LAYER4,
    "outputs": "deployment outputs do not apply",
    "functions": "user-defined functions are not evaluated; a call to one is reported where used",
}
STATUS = keys("id etag type provisioningState resourceGuid operationalState resourceGroup "
              "defaultPredefinedSslPolicy")
NO_SPEC = Spec("")
SKUS = {"standard_v2": "Standard_v2", "waf_v2": "WAF_v2", "basic": "Standard_v2",
        "standard_small": "Standard", "standard_medium": "Standard", "standard_large": "Standard",
        "waf_medium": "WAF", "waf_large": "WAF"}


# One Field per converted property, in the order probegate writes them.
ERROR_PAGES = Spec("customErrorConfigurations", (
    Field("statusCode", _text), Field("customErrorPageUrl", _page_url),
))
FRONTEND_PORTS = Spec("frontendPorts", (Field("port", _integer),), keys("httpListeners"))
_LISTENERS = Spec("httpListeners", (
    Field("frontendPort", _listener_port, "port"), Field("protocol", _enum(*_HTTP)),
    Field("hostNames", _texts),
    Field("hostName", _one_host, "hostNames"),  # the older single-host form
    Field("sslCertificate", _ref("sslCertificates")),
    Field("sslProfile", _ref("sslProfiles")),
    Field("requireServerNameIndication", _only_true),
    Field("frontendIPConfiguration", _frontend_ip),  # read for bindAddress, never written as is
    Field("customErrorConfigurations", _objects(ERROR_PAGES)),
), keys("requestRoutingRules"))
SSL_POLICY = Spec("sslPolicy", (
    Field("policyType", _enum("Predefined", "Custom", "CustomV2")), Field("policyName", _text),
    Field("minProtocolVersion", _text), Field("cipherSuites", _texts),
))
_CLIENT_AUTH = Spec("clientAuthConfiguration", (
    Field("verifyClientCertIssuerDN", _boolean),
    Field("verifyClientRevocation", _enum("None", "OCSP")),
))
_SSL_PROFILES = Spec("sslProfiles", (
    Field("sslPolicy", _object(SSL_POLICY)),
    Field("clientAuthConfiguration", _object(_CLIENT_AUTH)),
    Field("trustedClientCertificates", _refs("trustedClientCertificates")),
), keys("httpListeners"))
# The base64 PFX and its password are taken as they are (probegate reads PFX data too).
_SSL_CERTS = Spec("sslCertificates", (Field("data", _secret), Field("password", _secret)),
                  keys("httpListeners"), reasons={
    "keyvaultsecretid": f"probegate cannot read Key Vault: {_PEM}",
    "publiccertdata": f"only the public half of the uploaded PFX: {_PEM}",
})
_ROOT_REASONS = {"keyvaultsecretid": "probegate cannot read Key Vault: export the CA "
                                     "certificate and set data or certFile"}
_TRUSTED_ROOTS = Spec("trustedRootCertificates", (Field("data", _text),), reasons=_ROOT_REASONS)
_AUTH_CERTS = Spec("authenticationCertificates", (Field("data", _text),), reasons=_ROOT_REASONS)
_CLIENT_CAS = Spec("trustedClientCertificates", (Field("data", _text),), keys("sslProfiles"),
                   reasons=_ROOT_REASONS)
ADDRESS = Spec("backendAddresses", (Field("ipAddress", _text), Field("fqdn", _text)))
_POOLS = Spec("backendAddressPools", (Field("backendAddresses", _addresses),),
              keys("backendIPConfigurations"), empty_lists=("backendAddresses",))
_DRAINING = Spec("connectionDraining", (Field("enabled", _boolean),
                                        Field("drainTimeoutInSec", _integer)))
_SETTINGS = Spec("backendHttpSettingsCollection", (
    Field("port", _integer), Field("protocol", _enum(*_HTTP)), Field("requestTimeout", _integer),
    Field("hostName", _text), Field("pickHostNameFromBackendAddress", _boolean),
    Field("path", _text), Field("probe", _ref("probes")),
    Field("cookieBasedAffinity", _enum("Enabled", "Disabled")),
    Field("affinityCookieName", _text), Field("connectionDraining", _object(_DRAINING)),
    Field("trustedRootCertificates", _refs("trustedRootCertificates")),
    Field("authenticationCertificates", _refs("authenticationCertificates")),
), keys("requestRoutingRules urlPathMaps pathRules"))
_MATCH = Spec("match", (Field("statusCodes", _texts), Field("body", _text)))
_PROBES = Spec("probes", (
    Field("protocol", _enum(*_HTTP)), Field("host", _text), Field("path", _text),
    Field("port", _integer), Field("interval", _integer), Field("timeout", _integer),
    Field("unhealthyThreshold", _integer), Field("pickHostNameFromBackendHttpSettings", _boolean),
    Field("minServers", _integer), Field("match", _object(_MATCH)),
), keys("backendHttpSettings"))
_TARGETS = (
    Field("backendAddressPool", _ref("backendAddressPools")),
    Field("backendHttpSettings", _ref("backendHttpSettingsCollection")),
    Field("redirectConfiguration", _ref("redirectConfigurations")),
)
_RULES = Spec("requestRoutingRules", (
    Field("ruleType", _enum("Basic", "PathBasedRouting")), Field("priority", _integer),
    Field("httpListener", _ref("httpListeners")), *_TARGETS,
    Field("urlPathMap", _ref("urlPathMaps")), Field("rewriteRuleSet", _ref("rewriteRuleSets")),
))
_PATH_RULES = Spec("pathRules", (
    Field("paths", _texts), *_TARGETS, Field("rewriteRuleSet", _ref("rewriteRuleSets")),
))
_PATH_MAPS = Spec("urlPathMaps", (
    Field("defaultBackendAddressPool", _ref("backendAddressPools")),
    Field("defaultBackendHttpSettings", _ref("backendHttpSettingsCollection")),
    Field("defaultRedirectConfiguration", _ref("redirectConfigurations")),
    Field("defaultRewriteRuleSet", _ref("rewriteRuleSets")),
    Field("pathRules", _items(_PATH_RULES)),
), keys("requestRoutingRules"), empty_lists=("pathRules",))
_REDIRECTS = Spec("redirectConfigurations", (
    Field("redirectType", _enum("Permanent", "Found", "SeeOther", "Temporary")),
    Field("targetListener", _ref("httpListeners")), Field("targetUrl", _text),
    Field("includePath", _boolean), Field("includeQueryString", _boolean),
), keys("requestRoutingRules urlPathMaps pathRules"))
_CONDITIONS = Spec("conditions", (
    Field("variable", _text), Field("pattern", _text), Field("ignoreCase", _boolean),
    Field("negate", _boolean),
))
_HEADERS = Spec("headerConfigurations", (Field("headerName", _text), Field("headerValue", _text)))
_URL = Spec("urlConfiguration", (
    Field("modifiedPath", _text), Field("modifiedQueryString", _text), Field("reroute", _boolean),
))
_ACTIONS = Spec("actionSet", (
    Field("requestHeaderConfigurations", _objects(_HEADERS)),
    Field("responseHeaderConfigurations", _objects(_HEADERS)),
    Field("urlConfiguration", _object(_URL)),
))
_REWRITE_RULES = Spec("rewriteRules", (
    Field("ruleSequence", _integer), Field("conditions", _objects(_CONDITIONS)),
    Field("actionSet", _object(_ACTIONS)),
))
_REWRITES = Spec("rewriteRuleSets", (Field("rewriteRules", _items(_REWRITE_RULES)),),
                 keys("requestRoutingRules pathRules urlPathMaps"))
# Written in the order SPEC section 1 lists them, so a dumped config reads like the spec.
GATEWAY_COLLECTIONS = (_LISTENERS, _SSL_CERTS, _SSL_PROFILES, _CLIENT_CAS, _POOLS, _SETTINGS,
                       _PROBES, _TRUSTED_ROOTS, _AUTH_CERTS, _RULES, _PATH_MAPS, _REDIRECTS,
                       _REWRITES)
# fmt: on
