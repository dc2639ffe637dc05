"""Compiling: a validated configuration → the runtime plan (`plan.py`'s frozen dataclasses).

Rules of this module:
- it is the last module that touches the pydantic model; everything after it (effective probe,
  prober, proxy, admin) reads the plan only;
- references are known to resolve (`rules.py` checked them) and are resolved into objects here;
  routing rules are put in matching order; certificate files are read once, here;
- the probe targets are the (member × settings) pairs some rule binds (SPEC section 2);
- the gateway process's own plan (admin API, history, access log, limits) is compiled by
  `process.py`'s functions, called from here.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from probegate.config import certs, errorpages, syntax
from probegate.config import model as m
from probegate.config import model_rewrite as mr
from probegate.config import rewrite as rw
from probegate.config.load import LoadedConfig
from probegate.config.mutualtls import listener_client_auth
from probegate.config.plan import (
    AddressKind,
    AddressPool,
    Backend,
    Certificate,
    Destination,
    Draining,
    FrontendCertificate,
    GatewayPlan,
    Listener,
    Member,
    Passive,
    PathMap,
    PathRule,
    ProbeSpec,
    Redirect,
    Rule,
    Settings,
    StatusMatch,
    Target,
    TargetKey,
    Tier,
    server_address,
)
from probegate.config.process import access_log_plan, admin_plan, history_plan, limits_plan
from probegate.config.sslpolicy import ListenerTls, listener_tls

REDIRECT_STATUS = {
    m.RedirectType.PERMANENT: 301,
    m.RedirectType.FOUND: 302,
    m.RedirectType.SEE_OTHER: 303,
    m.RedirectType.TEMPORARY: 307,
}


def compile_plan(loaded: LoadedConfig) -> GatewayPlan:
    """Compile a validated configuration. References are known to resolve (rules.py checked)."""
    cfg = loaded.model
    roots = {c.name: _certificate(c, loaded.base_dir) for c in cfg.trusted_root_certificates}
    auths = {c.name: _certificate(c, loaded.base_dir) for c in cfg.authentication_certificates}
    probes = {p.name: _probe(p) for p in cfg.probes}
    pools = {p.name: _pool(p) for p in cfg.backend_address_pools}
    settings = {
        s.name: _settings(s, probes, roots, auths) for s in cfg.backend_http_settings_collection
    }
    gateway_pages = _pages(cfg.custom_error_configurations, loaded.base_dir)
    listeners = {
        x.name: _listener(x, cfg, loaded.base_dir, gateway_pages) for x in cfg.http_listeners
    }
    sets = {s.name: rewrite_set(s) for s in cfg.rewrite_rule_sets}

    def rewrite(name: str | None) -> rw.RewriteSet | None:
        return sets[name] if name is not None else None

    redirects = {r.name: _redirect(r, listeners) for r in cfg.redirect_configurations}

    def destination(pool: str | None, item: str | None, redirect: str | None) -> Destination:
        if redirect is not None:
            return redirects[redirect]
        assert pool is not None
        assert item is not None
        return Backend(pools[pool], settings[item])

    path_maps = {
        pm.name: PathMap(
            name=pm.name,
            default=destination(
                pm.default_backend_address_pool,
                pm.default_backend_http_settings,
                pm.default_redirect_configuration,
            ),
            rules=tuple(
                PathRule(
                    pr.name,
                    tuple(pr.paths),
                    destination(
                        pr.backend_address_pool, pr.backend_http_settings, pr.redirect_configuration
                    ),
                    rewrite(pr.rewrite_rule_set),
                )
                for pr in pm.path_rules
            ),
            default_rewrite=rewrite(pm.default_rewrite_rule_set),
        )
        for pm in cfg.url_path_maps
    }
    rules = tuple(
        Rule(
            name=r.name,
            priority=r.priority,
            listener=listeners[r.http_listener],
            destination=path_maps[r.url_path_map]
            if r.url_path_map is not None
            else destination(
                r.backend_address_pool, r.backend_http_settings, r.redirect_configuration
            ),
            rewrite=rewrite(r.rewrite_rule_set),
        )
        for r in _matching_order(cfg)
    )
    return GatewayPlan(
        sku=cfg.sku,
        tier=Tier.V2 if cfg.sku.is_v2 else Tier.V1,
        listeners=tuple(listeners.values()),
        pools=tuple(pools.values()),
        settings=tuple(settings.values()),
        rules=rules,
        dns_servers=_resolvers(cfg.dns_servers),
        admin=admin_plan(cfg.admin, loaded.base_dir),
        limits=limits_plan(cfg.limits),
        access_log=access_log_plan(cfg.access_log, loaded.base_dir),
        history=history_plan(cfg.history, loaded),
        targets=probe_targets(rules, pools, settings),
        source=loaded.source,
        error_pages=gateway_pages,
        rewrite_sets=tuple(sets.values()),
        workers=cfg.workers if isinstance(cfg.workers, int) else None,
    )


def _matching_order(cfg: m.GatewayConfig) -> list[m.RequestRoutingRule]:
    rules = list(cfg.request_routing_rules)
    if cfg.sku.is_v2 and all(r.priority is not None for r in rules):
        rules.sort(key=lambda r: r.priority or 0)
    return rules


def probe_targets(
    rules: tuple[Rule, ...], pools: dict[str, AddressPool], settings: dict[str, Settings]
) -> tuple[Target, ...]:
    """One target per (member × settings) pair some rule binds; pools and settings in file order."""
    bound: set[tuple[str, str]] = set()
    for rule in rules:
        found = rule.destination
        candidates = (
            [found.default, *(pr.destination for pr in found.rules)]
            if isinstance(found, PathMap)
            else [found]
        )
        bound.update((d.pool.name, d.settings.name) for d in candidates if isinstance(d, Backend))
    targets = []
    for pool in pools.values():
        for item in settings.values():
            if (pool.name, item.name) not in bound:
                continue
            for member in pool.members:
                port = member.port or item.port
                key = TargetKey(pool.name, item.name, server_address(member.address, port))
                targets.append(Target(key, pool, item, member, port))
    return tuple(targets)


def _pool(pool: m.BackendAddressPool) -> AddressPool:
    members = tuple(
        Member(a.ip_address, AddressKind.IP, a.port)
        if a.ip_address is not None
        else Member((a.fqdn or "").rstrip(".").lower(), AddressKind.FQDN, a.port)
        for a in pool.backend_addresses
    )
    return AddressPool(pool.name, members)


def _probe(probe: m.Probe) -> ProbeSpec:
    ranges = tuple(
        r for r in map(syntax.status_range, probe.match.status_codes) if isinstance(r, tuple)
    )
    return ProbeSpec(
        name=probe.name,
        protocol=probe.protocol,
        host=probe.host,
        path=probe.path,
        port=probe.port,
        interval=probe.interval,
        timeout=probe.timeout,
        unhealthy_threshold=probe.unhealthy_threshold,
        pick_host_name_from_backend_http_settings=probe.pick_host_name_from_backend_http_settings,
        min_servers=probe.min_servers,
        match=StatusMatch(ranges, probe.match.body),
        healthy_threshold=probe.healthy_threshold,
        headers=tuple((h.name, h.value) for h in probe.headers),
    )


def _settings(
    item: m.BackendHttpSettings,
    probes: dict[str, ProbeSpec],
    roots: dict[str, Certificate],
    auths: dict[str, Certificate],
) -> Settings:
    draining = item.connection_draining
    return Settings(
        name=item.name,
        port=item.port,
        protocol=item.protocol,
        request_timeout=item.request_timeout,
        host_name=item.host_name,
        pick_host_name_from_backend_address=item.pick_host_name_from_backend_address,
        path=item.path,
        probe=probes[item.probe] if item.probe is not None else None,
        cookie_based_affinity=item.cookie_based_affinity is m.Affinity.ENABLED,
        affinity_cookie_name=item.affinity_cookie_name,
        draining=Draining(draining.enabled, draining.drain_timeout_in_sec) if draining else None,
        trusted_roots=tuple(roots[n] for n in item.trusted_root_certificates),
        authentication_certificates=tuple(auths[n] for n in item.authentication_certificates),
        insecure_skip_verify=item.insecure_skip_verify,
        validate_chain=item.validate_cert_chain_and_expiry,
        validate_sni=item.validate_sni,
        sni_name=item.sni_name.removesuffix(".").lower() if item.sni_name else None,
        passive=_passive(item.passive_health),
        slow_start=float(item.slow_start_in_sec),
    )


def _passive(item: m.PassiveHealth) -> Passive | None:
    if not item.enabled:
        return None
    kinds = frozenset(f.value for f in item.failures)
    return Passive(
        kinds,
        item.consecutive_failures,
        float(item.ejection_time_in_sec),
        item.max_ejection_percent,
    )


def _certificate(item: m.CertificateFile, base_dir: Path) -> Certificate:
    if item.cert_file is not None:
        loaded = certs.read_certificates(certs.resolve(base_dir, item.cert_file))
    else:
        loaded = certs.decode_inline(item.data or "")
    assert isinstance(loaded, list)
    return Certificate(item.name, tuple(c.public_bytes(Encoding.DER) for c in loaded))


def _listener(
    item: m.HttpListener, cfg: m.GatewayConfig, base_dir: Path, pages: errorpages.ErrorPages
) -> Listener:
    cert = next((c for c in cfg.ssl_certificates if c.name == item.ssl_certificate), None)
    own = item.custom_error_configurations
    return Listener(
        name=item.name,
        bind_address=item.bind_address,
        port=item.port,
        protocol=item.protocol,
        host_names=tuple(h.lower() for h in item.host_names),
        certificate=_frontend(cert, base_dir) if cert else None,
        tls=_listener_tls(item, cfg) if item.protocol is m.Protocol.HTTPS else None,
        client_auth=listener_client_auth(item, cfg, base_dir) if cert else None,
        require_sni=item.require_server_name_indication,
        error_pages=_pages(own, base_dir) if own else pages,  # the listener's replace the gateway's
    )


def _listener_tls(item: m.HttpListener, cfg: m.GatewayConfig) -> ListenerTls:
    """A profile's policy replaces the gateway's for its listener (the model's rule)."""
    profile = next((p for p in cfg.ssl_profiles if p.name == item.ssl_profile), None)
    policy: m.SslPolicy | None
    if profile is not None and profile.ssl_policy is not None:
        policy, source = profile.ssl_policy, f"sslProfiles '{profile.name}'"
    else:
        policy, source = cfg.ssl_policy, "the gateway's sslPolicy"
    raw = policy.model_dump(by_alias=True, exclude_none=True) if policy is not None else None
    return listener_tls(raw, source)


def _frontend(cert: m.SslCertificate, base_dir: Path) -> FrontendCertificate:
    if cert.data is not None:
        chain, key = certs.pfx_to_pem(cert.data, cert.password)
        return FrontendCertificate(cert.name, chain, key, f"sslCertificates '{cert.name}' data")
    cert_path = certs.resolve(base_dir, cert.cert_file or "")
    key_path = certs.resolve(base_dir, cert.key_file or "")
    return FrontendCertificate(
        cert.name, cert_path.read_bytes(), key_path.read_bytes(), str(cert_path)
    )


def _redirect(item: m.RedirectConfiguration, listeners: dict[str, Listener]) -> Redirect:
    return Redirect(
        name=item.name,
        status=REDIRECT_STATUS[item.redirect_type],
        target_listener=listeners[item.target_listener] if item.target_listener else None,
        target_url=item.target_url,
        include_path=item.include_path,
        include_query_string=item.include_query_string,
    )


def _resolvers(servers: list[str] | None) -> tuple[tuple[str, int], ...] | None:
    if servers is None:
        return None
    parsed = (syntax.resolver_address(s) for s in servers)
    return tuple(p for p in parsed if isinstance(p, tuple))


def _pages(items: list[mr.CustomErrorConfiguration], base_dir: Path) -> errorpages.ErrorPages:
    pairs = [(i.status_code.code, i.custom_error_page_file) for i in items]
    return errorpages.read_pages(pairs, base_dir)


def rewrite_set(item: mr.RewriteRuleSet) -> rw.RewriteSet:
    """A validated set (rewrite_rules.py checked every pattern, variable and value)."""
    return rw.make_set(item.name, [_rewrite_rule(r) for r in item.rewrite_rules])


def _rewrite_rule(rule: mr.RewriteRule) -> rw.RewriteRule:
    conditions = tuple(_condition(c) for c in rule.conditions)
    captured = {rw.condition_key(c.variable): c.variable for c in conditions}
    actions = rule.action_set

    def headers(items: list[mr.HeaderConfiguration]) -> tuple[rw.HeaderAction, ...]:
        return tuple(
            rw.HeaderAction(h.header_name, _template(h.header_value, captured) or None)
            for h in items
        )

    url = actions.url_configuration
    return rw.RewriteRule(
        name=rule.name,
        sequence=rule.rule_sequence,
        conditions=conditions,
        request_headers=headers(actions.request_header_configurations),
        response_headers=headers(actions.response_header_configurations),
        url=rw.UrlAction(
            _template(url.modified_path or "", captured) or None,
            _template(url.modified_query_string or "", captured) or None,
            url.reroute,
        )
        if url is not None
        else None,
    )


def _condition(item: mr.RewriteCondition) -> rw.Condition:
    variable = rw.parse_variable(item.variable)
    regex = rw.compile_pattern(item.pattern, item.ignore_case)
    assert not isinstance(variable, str)
    assert not isinstance(regex, str)
    return rw.Condition(variable, item.pattern, regex, item.negate, item.ignore_case)


def _template(text: str, captured: dict[str, rw.Variable]) -> rw.Template:
    parsed = rw.parse_template(text, captured)
    assert not isinstance(parsed, str)
    return parsed
