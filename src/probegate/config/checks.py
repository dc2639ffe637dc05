"""Per-collection rules that need more than one field or the SKU: probes, settings, listeners,
pools, certificate files, resolvers and the admin listener.

Rules: read the raw document through `Doc` (tolerant of bad shapes); yield ConfigIssue; never raise.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from probegate.config import certs, syntax, tokens
from probegate.config.document import (
    AUTH_CERTS,
    LISTENERS,
    POOLS,
    PROBES,
    ROOTS,
    SETTINGS,
    SSL_CERTS,
    Doc,
    Issues,
    flag,
    folded,
    text,
)
from probegate.config.model import MAX_HOST_NAMES
from probegate.errors import ConfigIssue

V2_SKUS = "v2 SKUs (Standard_v2, WAF_v2)"
V1_SKUS = "v1 SKUs (Standard, WAF)"

# ------------------------------------------------------------------------ probes


def probes(doc: Doc) -> Issues:
    for path, probe in doc.items(PROBES):
        host, pick = text(probe, "host"), flag(probe, "pickHostNameFromBackendHttpSettings")
        if host is not None and pick:
            yield ConfigIssue(
                f"{path}.host", "cannot be set together with pickHostNameFromBackendHttpSettings"
            )
        elif host is None and not pick and "host" not in probe:
            yield ConfigIssue(path, "set 'host', or 'pickHostNameFromBackendHttpSettings: true'")
        elif host is not None and (problem := syntax.host_problem(host)):
            yield ConfigIssue(f"{path}.host", problem)
        if "port" in probe and not doc.is_v2:
            yield ConfigIssue(
                f"{path}.port", f"only {V2_SKUS} take a probe port (sku is '{doc.sku}')"
            )
        if (probe_path := text(probe, "path")) and (
            problem := syntax.probe_path_problem(probe_path)
        ):
            yield ConfigIssue(f"{path}.path", problem)
        yield from _status_codes(path, probe.get("match"))
        yield from _probe_headers(path, probe.get("headers"))


def _probe_headers(path: str, headers: object) -> Issues:
    seen: set[str] = set()
    for i, header in enumerate(headers if isinstance(headers, list) else []):
        name, value = (
            (header.get("name"), header.get("value")) if isinstance(header, dict) else (None, None)
        )
        if not isinstance(name, str) or not isinstance(value, str):
            continue  # the schema reports missing or mistyped fields
        if problem := syntax.probe_header_problem(name, value):
            yield ConfigIssue(f"{path}.headers[{i}].{problem[0]}", problem[1])
        elif name.lower() in seen:
            yield ConfigIssue(f"{path}.headers[{i}].name", f"'{name}' is given twice")
        seen.add(name.lower())


def _status_codes(path: str, match: object) -> Issues:
    codes = match.get("statusCodes") if isinstance(match, dict) else None
    if isinstance(codes, list) and not codes:
        yield ConfigIssue(f"{path}.match.statusCodes", "must list at least one status or range")
    for i, code in enumerate(codes if isinstance(codes, list) else []):
        parsed = syntax.status_range(code) if isinstance(code, str) else None
        if isinstance(parsed, str):
            yield ConfigIssue(f"{path}.match.statusCodes[{i}]", parsed)


# ------------------------------------------------------------------------ backend HTTP settings


def settings(doc: Doc) -> Issues:
    for path, item in doc.items(SETTINGS):
        yield from _settings_probe(doc, path, item)
        yield from _settings_certificates(doc, path, item)
        yield from _settings_tls_switches(doc, path, item)
        host = text(item, "hostName")
        if host is not None and flag(item, "pickHostNameFromBackendAddress"):
            yield ConfigIssue(
                f"{path}.hostName", "cannot be set together with pickHostNameFromBackendAddress"
            )
        elif host is not None and (problem := syntax.host_problem(host)):
            yield ConfigIssue(f"{path}.hostName", problem)
        if (override := text(item, "path")) and (problem := syntax.backend_path_problem(override)):
            yield ConfigIssue(f"{path}.path", problem)
        cookie = text(item, "affinityCookieName")
        if cookie is not None and (problem := syntax.cookie_name_problem(cookie)):
            yield ConfigIssue(f"{path}.affinityCookieName", problem)


def _settings_probe(doc: Doc, path: str, item: dict[str, Any]) -> Issues:
    probe = doc.by_name(PROBES, item.get("probe"))
    if probe is None:
        return
    mine, theirs = folded(item, "protocol"), folded(probe, "protocol")
    if {mine, theirs} == {"http", "https"}:
        yield ConfigIssue(
            f"{path}.probe",
            f"probe '{probe['name']}' uses {probe['protocol']} but these settings use "
            f"{item['protocol']}; a probe's protocol must match its settings'",
        )
    needs_host = flag(probe, "pickHostNameFromBackendHttpSettings") and "host" not in probe
    if needs_host and "hostName" not in item and not flag(item, "pickHostNameFromBackendAddress"):
        yield ConfigIssue(
            f"{path}.probe",
            f"probe '{probe['name']}' takes its host from these settings, which have neither "
            "'hostName' nor 'pickHostNameFromBackendAddress: true'",
        )


def _settings_certificates(doc: Doc, path: str, item: dict[str, Any]) -> Issues:
    roots, auth = item.get(ROOTS), item.get(AUTH_CERTS)
    if roots and not doc.is_v2:
        yield ConfigIssue(
            f"{path}.{ROOTS}", f"only {V2_SKUS} use trusted roots (sku is '{doc.sku}')"
        )
    if auth and doc.is_v2:
        yield ConfigIssue(
            f"{path}.{AUTH_CERTS}",
            f"only {V1_SKUS} use authentication certificates (sku is '{doc.sku}'); "
            f"use '{ROOTS}' instead",
        )
    if (roots or auth) and folded(item, "protocol") == "http":
        key = ROOTS if roots else AUTH_CERTS
        yield ConfigIssue(f"{path}.{key}", "only applies to Https settings")


_TLS_SWITCHES = ("validateCertChainAndExpiry", "validateSNI", "sniName")


def _settings_tls_switches(doc: Doc, path: str, item: dict[str, Any]) -> Issues:
    """The model's v2 backend TLS switches: v2 only, Https only, and an SNI is a host name."""
    for key in (k for k in _TLS_SWITCHES if k in item):
        if not doc.is_v2:
            yield ConfigIssue(f"{path}.{key}", f"only {V2_SKUS} have it (sku is '{doc.sku}')")
        elif folded(item, "protocol") == "http":
            yield ConfigIssue(f"{path}.{key}", "only applies to Https settings")
    sni = text(item, "sniName")
    if sni is not None and (problem := syntax.hostname_problem(sni)):
        yield ConfigIssue(f"{path}.sniName", f"{problem}: a server name sent in TLS is a DNS name")


# ------------------------------------------------------------------------ listeners


def listeners(doc: Doc) -> Issues:
    for path, listener in doc.items(LISTENERS):
        protocol = folded(listener, "protocol")
        if protocol == "https" and "sslCertificate" not in listener:
            yield ConfigIssue(f"{path}.sslCertificate", "is required for an Https listener")
        if protocol == "http" and "sslCertificate" in listener:
            yield ConfigIssue(
                f"{path}.sslCertificate", "only an Https listener takes a certificate"
            )
        bind = text(listener, "bindAddress")
        if bind is not None and not syntax.is_ip(bind):
            yield ConfigIssue(f"{path}.bindAddress", f"must be an IP address, got '{bind}'")
        yield from _host_names(path, listener.get("hostNames"))
    yield from _listener_conflicts(doc)


def _host_names(path: str, names: object) -> Issues:
    if not isinstance(names, list):
        return
    if len(names) > MAX_HOST_NAMES:
        yield ConfigIssue(
            f"{path}.hostNames", f"at most {MAX_HOST_NAMES} host names, got {len(names)}"
        )
    for i, name in enumerate(names):
        if isinstance(name, str) and (problem := syntax.listener_host_problem(name)):
            yield ConfigIssue(f"{path}.hostNames[{i}]", problem)


def _overlaps(a: object, b: object) -> bool:
    """Two bind addresses clash when equal, or when one is the wildcard of the other's family."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    try:
        first, second = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return False
    if first.version != second.version:
        return False
    return first == second or first.is_unspecified or second.is_unspecified


def _listener_conflicts(doc: Doc) -> Issues:
    seen: list[tuple[str, dict[str, Any]]] = []
    for path, listener in doc.items(LISTENERS):
        for other_path, other in seen:
            if problem := _conflict(listener, other):
                yield ConfigIssue(path, f"{problem} as {other_path}")
        seen.append((path, listener))


def _conflict(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    port = a.get("port")
    if not isinstance(port, int) or port != b.get("port"):
        return None
    if not _overlaps(a.get("bindAddress", "127.0.0.1"), b.get("bindAddress", "127.0.0.1")):
        return None
    if folded(a, "protocol") != folded(b, "protocol"):
        return f"uses port {port} with another protocol"
    hosts_a = {h.casefold() for h in a.get("hostNames", []) if isinstance(h, str)}
    hosts_b = {h.casefold() for h in b.get("hostNames", []) if isinstance(h, str)}
    if not hosts_a and not hosts_b:
        return f"is a second basic listener on port {port}"
    if shared := sorted(hosts_a & hosts_b):
        return f"serves host name '{shared[0]}' on port {port}"
    return None


# ------------------------------------------------------------------------ pools


def pools(doc: Doc) -> Issues:
    for path, pool in doc.items(POOLS):
        members = pool.get("backendAddresses")
        seen: dict[tuple[str, object], str] = {}
        for i, member in enumerate(members if isinstance(members, list) else []):
            if not isinstance(member, dict):
                continue
            where = f"{path}.backendAddresses[{i}]"
            yield from _member(where, member)
            address = text(member, "ipAddress") or text(member, "fqdn")
            if address is None:
                continue
            key = (address.casefold(), member.get("port"))
            if key in seen:
                yield ConfigIssue(where, f"'{address}' is already a member at {seen[key]}")
            seen.setdefault(key, where)


def _member(where: str, member: dict[str, Any]) -> Issues:
    ip, fqdn = text(member, "ipAddress"), text(member, "fqdn")
    if ip is not None and not syntax.is_ip(ip):
        hint = "; put host names in 'fqdn'" if syntax.hostname_problem(ip) is None else ""
        yield ConfigIssue(f"{where}.ipAddress", f"'{ip}' is not an IP address{hint}")
    if fqdn is not None and (problem := syntax.hostname_problem(fqdn)):
        hint = "; put IP addresses in 'ipAddress'" if syntax.is_ip(fqdn) else ""
        yield ConfigIssue(f"{where}.fqdn", problem + hint)


# ------------------------------------------------------------------------ files, resolvers, admin


def certificate_files(doc: Doc) -> Issues:
    for collection in (ROOTS, AUTH_CERTS):
        for path, item in doc.items(collection):
            if "certFile" in item and "data" in item:
                continue  # the schema asks for exactly one
            if (name := text(item, "certFile")) is not None:
                loaded = certs.read_certificates(certs.resolve(doc.base_dir, name))
                if isinstance(loaded, str):
                    yield ConfigIssue(f"{path}.certFile", loaded)
            elif (data := text(item, "data")) is not None:
                decoded = certs.decode_inline(data)
                if isinstance(decoded, str):
                    yield ConfigIssue(f"{path}.data", decoded)
    for path, item in doc.items(SSL_CERTS):
        if (data := text(item, "data")) is not None and "certFile" not in item:
            if problem := certs.pfx_problem(data, text(item, "password")):
                yield ConfigIssue(f"{path}.data", problem)
            continue
        cert_name, key_name = text(item, "certFile"), text(item, "keyFile")
        if cert_name is None or key_name is None:
            continue
        cert_path, key_path = (
            certs.resolve(doc.base_dir, cert_name),
            certs.resolve(doc.base_dir, key_name),
        )
        loaded = certs.read_certificates(cert_path)
        if isinstance(loaded, str):
            yield ConfigIssue(f"{path}.certFile", loaded)
        elif problem := certs.key_problem(cert_path, key_path):
            yield ConfigIssue(f"{path}.keyFile", problem)


def resolvers(doc: Doc) -> Issues:
    servers = doc.raw.get("dnsServers")
    if isinstance(servers, list) and not servers:
        yield ConfigIssue("dnsServers", "is empty; remove it to use the system resolver")
    for i, server in enumerate(servers if isinstance(servers, list) else []):
        parsed = syntax.resolver_address(server) if isinstance(server, str) else None
        if isinstance(parsed, str):
            yield ConfigIssue(f"dnsServers[{i}]", parsed)


def admin(doc: Doc) -> Issues:
    section = doc.raw.get("admin")
    if not isinstance(section, dict):
        return
    bind = section.get("bindAddress", "127.0.0.1")
    if not isinstance(bind, str):
        return
    if not syntax.is_ip(bind):
        yield ConfigIssue("admin.bindAddress", f"must be an IP address, got '{bind}'")
    else:
        yield from _admin_token(doc, section, bind)
    hosts = section.get("allowedHosts")
    for i, host in enumerate(hosts if isinstance(hosts, list) else []):
        if isinstance(host, str) and (problem := syntax.host_problem(host.strip("[]"))):
            yield ConfigIssue(f"admin.allowedHosts[{i}]", problem)
    port = section.get("port", 9090)
    for path, listener in doc.items(LISTENERS):
        if listener.get("port") == port and _overlaps(
            listener.get("bindAddress", "127.0.0.1"), bind
        ):
            yield ConfigIssue("admin.port", f"port {port} is already used by {path}")


def _admin_token(doc: Doc, section: dict[str, Any], bind: str) -> Issues:
    token, token_file = text(section, "token"), text(section, "tokenFile")
    if (token is not None and token_file is not None) or "" in (token, token_file):
        return  # the schema says so: one or the other, not empty
    loopback = syntax.is_loopback(bind)
    found = tokens.resolve(token, token_file, doc.base_dir, loopback=loopback)
    if isinstance(found, tokens.TokenProblem):
        yield ConfigIssue(found.path, found.message)
    elif found is None and not loopback and "token" not in section:
        yield ConfigIssue(
            "admin.token",
            f"is required when the admin API listens on a non-loopback address ('{bind}')",
        )
