"""`probegate diagnose` (SPEC section 9): run the probe phases of one target and show each.

Rules of this module:
- the same runner, certificate check and evaluation as the gateway's prober: a diagnosis can never
  disagree with the health report;
- an ad-hoc URL is turned into a one-target configuration document and goes through the same
  loader and validation as a file, so its options get the same precise errors;
- rendering (rich) and data (`--json`) come from one `Diagnosis` value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, assert_never
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table
from rich.text import Text

from probegate.config.compile import compile_plan
from probegate.config.effective import Decided, EffectiveProbe, TlsMode, effective_probes
from probegate.config.load import load_document
from probegate.config.plan import GatewayPlan
from probegate.config.syntax import is_ip
from probegate.errors import UsageError
from probegate.health import messages
from probegate.health.codes import SELF_SIGNED_LEAF, Reason
from probegate.health.evaluate import excerpt
from probegate.health.observation import Observation, Phase
from probegate.health.prober import Prober
from probegate.health.result import ProbeResult
from probegate.health.tlscheck import CertificateInfo, CertVerdict, describe_chain
from probegate.i18n import Lang
from probegate.resolver import Resolver

NAME = "diagnose"


@dataclass(frozen=True, slots=True)
class UrlTarget:
    url: str
    host: str | None = None
    sni: str | None = None
    trusted_roots: tuple[Path, ...] = ()
    expect: tuple[str, ...] = ("200-399",)
    body: str | None = None
    timeout: int = 10
    dns_server: str | None = None
    sku: str = "v2"


def plan_for_url(target: UrlTarget) -> GatewayPlan:
    """One pool, one settings item, one custom probe: the URL as a configuration."""
    try:
        parts = urlsplit(target.url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"'{target.url}' is not a usable URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"diagnose takes an http:// or https:// URL, got '{target.url}'")
    if port == 0:
        raise UsageError(f"'{target.url}': the port must be between 1 and 65535")
    protocol = "Https" if parts.scheme == "https" else "Http"
    address = parts.hostname
    member = {"ipAddress": address} if is_ip(address) else {"fqdn": address}
    v1 = target.sku == "v1"
    roots = [
        {"name": f"root{i}", "certFile": str(p.resolve())}
        for i, p in enumerate(target.trusted_roots)
    ]
    settings: dict[str, Any] = {"name": NAME, "port": port or (443 if protocol == "Https" else 80),
                                "protocol": protocol, "probe": NAME}  # fmt: skip
    if roots:
        settings["authenticationCertificates" if v1 else "trustedRootCertificates"] = [
            r["name"] for r in roots
        ]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    probe: dict[str, Any] = {"name": NAME, "protocol": protocol, "host": target.host or address, "path": path,
                             "timeout": target.timeout, "match": {"statusCodes": list(target.expect)}}  # fmt: skip
    if target.body is not None:
        probe["match"]["body"] = target.body
    document: dict[str, Any] = {
        "sku": "Standard" if v1 else "Standard_v2",
        "httpListeners": [{"name": NAME, "port": 80, "protocol": "Http"}],
        "backendAddressPools": [{"name": NAME, "backendAddresses": [member]}],
        "backendHttpSettingsCollection": [settings],
        "probes": [probe],
        "requestRoutingRules": [
            {
                "name": NAME,
                "ruleType": "Basic",
                "httpListener": NAME,
                "backendAddressPool": NAME,
                "backendHttpSettings": NAME,
            }
        ],
    }
    if roots:
        document["authenticationCertificates" if v1 else "trustedRootCertificates"] = roots
    if target.dns_server:
        document["dnsServers"] = [target.dns_server]
    return compile_plan(load_document(document, "diagnose options", Path.cwd()))


def probe_for_url(target: UrlTarget) -> EffectiveProbe:
    probe = effective_probes(plan_for_url(target))[0]
    if target.sni is None or probe.protocol.value.value != "Https":
        return probe
    sni = Decided[str | None](target.sni, "--sni")
    verify = probe.verify_name
    if verify.value is not None or probe.tls.value is not TlsMode.NOT_VALIDATED:
        verify = Decided[str | None](target.sni, "--sni: the certificate must match it")
    return replace(probe, sni=sni, verify_name=verify)


def select(
    plan: GatewayPlan, pool: str, settings: str | None, server: str | None
) -> list[EffectiveProbe]:
    probes = [
        p
        for p in effective_probes(plan)
        if p.target.key.pool == pool
        and (settings is None or p.target.key.settings == settings)
        and (server is None or server in (p.target.key.server, p.target.member.address))
    ]
    if not probes:
        wanted = f"pool '{pool}'" + (f", settings '{settings}'" if settings else "")
        wanted += f", server '{server}'" if server else ""
        raise UsageError(f"no probe target matches {wanted}")
    return probes


# ------------------------------------------------------------------------ running


@dataclass(frozen=True, slots=True)
class Diagnosis:
    probe: EffectiveProbe
    observation: Observation
    certificate: CertVerdict | None
    chain: tuple[CertificateInfo, ...]
    result: ProbeResult


async def diagnose(probe: EffectiveProbe, resolver: Resolver) -> Diagnosis:
    prober = Prober(resolver)
    outcome = await prober.probe(probe)
    tls = outcome.observation.tls
    chain = describe_chain(tls.chain) if tls is not None and tls.chain else ()
    return Diagnosis(probe, outcome.observation, outcome.certificate, chain, outcome.result)


def trust_source(probe: EffectiveProbe) -> str:
    settings = probe.target.settings
    mode = probe.tls.value
    match mode:
        case TlsMode.TRUSTED_ROOTS:
            return "trusted roots: " + ", ".join(c.name for c in settings.trusted_roots)
        case TlsMode.SYSTEM_STORE:
            return "the system's well-known CAs"
        case TlsMode.AUTHENTICATION_CERTIFICATES:
            return "authentication certificates: " + ", ".join(
                c.name for c in settings.authentication_certificates
            )
        case TlsMode.NOT_VALIDATED:
            return f"not validated ({probe.tls.rule})"
        case TlsMode.NAME_ONLY:
            return f"the name only, not the chain ({probe.tls.rule})"
        case TlsMode.INSECURE_SKIP_VERIFY:
            return "NOT VERIFIED (insecureSkipVerify)"
        case TlsMode.NONE:
            return "no TLS"
        case _:
            assert_never(mode)


# ------------------------------------------------------------------------ data and rendering


def as_data(d: Diagnosis, lang: Lang) -> dict[str, Any]:
    obs, res = d.observation, d.result
    return {
        "target": str(d.probe.target.key),
        "url": d.probe.url,
        "host": d.probe.host.value,
        "headers": [{"name": n, "value": v} for n, v in d.probe.headers.value],
        "sni": d.probe.sni.value,
        "phases": {k.value: round(v, 1) for k, v in obs.timings_ms.items()},
        "resolution": _resolution(obs),
        "connectedTo": obs.connected_to,
        "tls": _tls(d),
        "http": _http(obs),
        "verdict": {
            "reason": res.reason.value,
            "state": res.reason.state.value,
            "message": messages.message(res.reason, res.facts, lang),
            "remedy": messages.remedy(res.reason, res.facts, lang),
            "warnings": [messages.warning_text(w.code, w.facts, lang) for w in res.warnings],
        },
    }


def _resolution(obs: Observation) -> dict[str, Any] | None:
    r = obs.resolution
    if r is None:
        return None
    return {"resolver": r.resolver, "addresses": list(r.addresses), "ttl": r.ttl, "answer": r.answer,
            "fromLastGood": r.from_last_good}  # fmt: skip


def _tls(d: Diagnosis) -> dict[str, Any] | None:
    tls = d.observation.tls
    if tls is None:
        return None
    return {
        "version": tls.version,
        "cipher": tls.cipher,
        "sniSent": tls.sni,
        "checkedAgainst": trust_source(d.probe),
        "nameVerified": d.probe.verify_name.value,
        "chain": [_cert(c) for c in d.chain],
        "verdict": d.certificate.reason.value if d.certificate else None,
        "assessment": chain_assessment(d),
    }


def _cert(c: CertificateInfo) -> dict[str, Any]:
    return {"subject": c.subject, "issuer": c.issuer, "sans": list(c.sans), "notBefore": c.not_before.isoformat(),
            "notAfter": c.not_after.isoformat(), "sha256": c.sha256, "isCA": c.is_ca, "selfSigned": c.self_signed}  # fmt: skip


def _http(obs: Observation) -> dict[str, Any] | None:
    h = obs.http
    if h is None:
        return None
    return {"status": h.status, "reason": h.reason, "headers": [list(x) for x in h.headers],
            "bodyExcerpt": excerpt(h.body), "bodyTruncated": h.body_truncated}  # fmt: skip


def render(console: Console, d: Diagnosis, lang: Lang) -> None:
    data = as_data(d, lang)
    key = d.probe.target.key
    label = (
        data["url"]
        if key.pool == NAME
        else f"pool '{key.pool}' · settings '{key.settings}' · {key.server}"
    )
    extra = "".join(f", {h['name']}: {h['value']}" for h in data.get("headers", []))
    console.print(
        Text(f"diagnose {label}  (GET {data['url']}, Host: {data['host']}{extra})", style="bold")
    )
    steps = Table(show_header=True, title_justify="left")
    steps.add_column("phase", no_wrap=True)
    steps.add_column("ms", justify="right", no_wrap=True)
    steps.add_column("what was seen")
    for phase, ms, seen in _phase_rows(d, data):
        steps.add_row(phase, ms, seen)
    console.print(steps)
    if d.chain:
        console.print(_chain_table(d.chain))
        console.print(chain_assessment(d))
    verdict = data["verdict"]
    style = "bold green" if verdict["reason"] == "success" else "bold red"
    console.print(Text(f"{verdict['state']} · {verdict['reason']}", style=style))
    console.print(verdict["message"])
    for warning in verdict["warnings"]:
        console.print(Text(f"⚠ {warning}", style="yellow"))
    if verdict["reason"] != "success":
        console.print(Text(f"→ {verdict['remedy']}", style="dim"))


def _phase_rows(d: Diagnosis, data: dict[str, Any]) -> list[tuple[str, str, str]]:
    ms = data["phases"]
    rows: list[tuple[str, str, str]] = []
    if (r := data["resolution"]) is not None:
        seen = f"{r['resolver']} → {', '.join(r['addresses']) or r['answer']}"
        rows.append(
            ("resolve", _ms(ms, "resolve"), seen + (f" (TTL {r['ttl']} s)" if r["ttl"] else ""))
        )
    failure = d.observation.failure
    if d.observation.connected_to or Phase.CONNECT in d.observation.timings_ms:
        rows.append(
            ("connect", _ms(ms, "connect"), d.observation.connected_to or d.observation.detail)
        )
    if (tls := data["tls"]) is not None:
        seen = f"{tls['version']} {tls['cipher']}, SNI {tls['sniSent'] or '(none)'}; checked against {tls['checkedAgainst']}"
        rows.append(("tls", _ms(ms, "tls"), seen))
    if (http := data["http"]) is not None:
        head = "\n".join(f"{k}: {v}" for k, v in http["headers"][:12])
        rows.append(
            (
                "response",
                _ms(ms, "response"),
                f"{http['status']} {http['reason']}\n{head}\nbody: {http['bodyExcerpt']}",
            )
        )
    elif failure is not None:
        rows.append(("failed", "", f"{failure.value}: {d.observation.detail}"))
    return rows


def _ms(phases: dict[str, float], name: str) -> str:
    return f"{phases[name]:.1f}" if name in phases else ""


def chain_assessment(d: Diagnosis) -> str:
    """Order and completeness of the presented chain, in one line."""
    if not d.chain:
        return "no certificate was presented"
    if all(c.is_ca for c in d.chain):
        return "chain: no leaf: only CA certificates were sent"
    order = "a CA first: wrong order" if d.chain[0].is_ca else "leaf first: right order"
    facts = d.certificate.facts if d.certificate else {}
    reason = d.certificate.reason if d.certificate else None
    if facts.get("shape") == SELF_SIGNED_LEAF:
        return (
            "chain: a self-signed certificate that is not a CA: taken as a leaf without its issuer"
        )
    if reason is Reason.INTERMEDIATE_MISSING:
        missing = facts.get("missing_issuer", "an intermediate")
        return f"chain: {order}; incomplete: {missing} was not sent"
    if reason is Reason.INTERMEDIATE_NOT_WELL_KNOWN:
        return f"chain: {order}; ends at an intermediate issued by {facts.get('missing_issuer')}"
    if d.chain[-1].self_signed and len(d.chain) > 1:
        return f"chain: {order}; complete, the root {d.chain[-1].subject} sent too"
    return f"chain: {order}; complete as far as the presented certificates show"


def _chain_table(chain: tuple[CertificateInfo, ...]) -> Table:
    table = Table(
        title="certificates as presented (first = what the server sent first)", title_justify="left"
    )
    for column in ("#", "subject", "issuer", "SAN", "valid", "SHA-256", "CA"):
        table.add_column(column)
    for i, c in enumerate(chain):
        valid = f"{c.not_before:%Y-%m-%d} → {c.not_after:%Y-%m-%d}"
        table.add_row(str(i), c.subject, c.issuer, ", ".join(c.sans) or "—", valid, c.sha256[:23] + "…",
                      "yes" if c.is_ca else "no")  # fmt: skip
    return table
