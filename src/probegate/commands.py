"""Handlers of the gateway commands: `run`, `demo`, `backend-health`, `probe`, `diagnose`.

Rules: each handler turns parsed arguments into calls of the modules that do the work, prints,
and returns the exit code (0 all healthy / valid, 1 something unhealthy, 2 usage error). Talking to
a running gateway is plain HTTP to its admin API (stdlib urllib: a CLI needs no client stack).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.status import Status
from rich.text import Text

from probegate import app, diagnose, report
from probegate.admin import views
from probegate.admin.api import ondemand_document
from probegate.admin.ondemand_request import parse_ondemand
from probegate.config.load import load_file
from probegate.config.plan import GatewayPlan, compile_plan
from probegate.demo import run as demo_run
from probegate.errors import UsageError
from probegate.health.ondemand import OnDemandError, probe_now
from probegate.health.prober import Prober
from probegate.health.reasons import Lang
from probegate.health.resolver import Resolver

EXIT_OK, EXIT_UNHEALTHY = 0, 1
DEFAULT_ADMIN = "http://127.0.0.1:9090"


def console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def progress(what: str) -> Status:
    """A spinner on stderr while something is probed (drawn on a terminal only; gone after)."""
    return Console(stderr=True).status(what, spinner="dots")


def _plan(args: argparse.Namespace, parameters: dict[str, object] | None) -> GatewayPlan:
    if not args.config.is_file():
        raise UsageError(f"no such configuration file: {args.config}")
    return compile_plan(load_file(args.config, parameters))


# ------------------------------------------------------------------------ run


def cmd_run(args: argparse.Namespace, parameters: dict[str, object] | None) -> int:
    if not args.config.is_file():
        raise UsageError(f"no such configuration file: {args.config}")
    return app.run(args.config, parameters)


# ------------------------------------------------------------------------ demo


def cmd_demo(args: argparse.Namespace) -> int:
    if args.json and not args.once:
        raise UsageError("--json prints one document and exits: use it with --once")
    return demo_run.run(demo_run.Options(once=args.once, json=args.json, lang=Lang(args.lang)))


# ------------------------------------------------------------------------ admin API client


# The admin API is asked directly: an `http_proxy` in the environment must not reroute it.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, token: str | None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _DIRECT.open(request, timeout=120) as response:
            answer: dict[str, Any] = json.load(response)
            return answer
    except urllib.error.HTTPError as exc:
        try:
            detail = json.load(exc)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            detail = exc.reason
        raise UsageError(f"{url}: {exc.code} {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"cannot reach the admin API at {url}: {reason}") from exc


def _token(args: argparse.Namespace) -> str | None:
    return args.token or os.environ.get("PROBEGATE_TOKEN")


# ------------------------------------------------------------------------ backend-health


def cmd_backend_health(args: argparse.Namespace, parameters: dict[str, object] | None) -> int:
    lang = Lang(args.lang)
    if args.watch and (args.json or args.output != "table"):
        raise UsageError("--watch draws a table; it does not combine with --json or --output")
    if args.watch:
        return _watch(args, parameters, lang)
    document = _health_document(args, parameters, lang)
    _print_document(args, document, lang)
    return EXIT_OK if views.all_healthy(document) else EXIT_UNHEALTHY


def _health_document(
    args: argparse.Namespace, parameters: dict[str, object] | None, lang: Lang
) -> dict[str, Any]:
    if args.config is not None:
        plan = _plan(args, parameters)
        with progress(f"probing {len(plan.targets)} targets of {args.config}"):
            results = asyncio.run(app.probe_all_once(plan))
        return views.one_shot_health(results, lang)
    expand = "&expand=history" if args.history else ""
    return fetch(f"{args.url.rstrip('/')}/backendhealth?lang={lang.value}{expand}", _token(args))


def _print_document(args: argparse.Namespace, document: dict[str, Any], lang: Lang) -> None:
    if args.output == "powershell":
        print(json.dumps(views.pascal_case(document), indent=2, ensure_ascii=False))
    elif args.json or args.output == "json":
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        report.render_health(console(), document, lang=lang)


def _watch(args: argparse.Namespace, parameters: dict[str, object] | None, lang: Lang) -> int:
    """Redraw the table every `--interval` seconds until Ctrl-C (remedies left out: the table
    must fit a screen; `backend-health` without --watch shows them)."""
    out = console()
    with Live(console=out, auto_refresh=False) as live:
        try:
            while True:
                document = _health_document(args, parameters, lang)
                stamp = Text(f"{time.strftime('%H:%M:%S')} · {args.url if args.config is None else args.config}"
                             f" · every {args.interval:g} s · Ctrl-C", style="dim")  # fmt: skip
                body = report.health_group(document, remedies=False, lang=lang)
                live.update(Group(stamp, body), refresh=True)
                time.sleep(args.interval)
        except KeyboardInterrupt:
            pass
    return EXIT_OK


# ------------------------------------------------------------------------ probe (on demand)


def cmd_probe(args: argparse.Namespace, parameters: dict[str, object] | None) -> int:
    lang = Lang(args.lang)
    if args.config is not None:
        try:  # the same checks as the admin API applies to its request body
            _, _, overrides = parse_ondemand(_ondemand_body(args))
        except OnDemandError as exc:
            raise UsageError(str(exc)) from exc
        plan = _plan(args, parameters)
        prober = Prober(Resolver(plan.dns_servers))
        try:
            with progress(f"probing pool '{args.pool}' with settings '{args.settings}'"):
                results = asyncio.run(probe_now(prober, plan, args.pool, args.settings, overrides))
        except OnDemandError as exc:
            raise UsageError(str(exc)) from exc
        document = ondemand_document(args.pool, args.settings, results, lang)
    else:
        document = fetch(
            f"{args.url.rstrip('/')}/backendhealth/ondemand?lang={lang.value}",
            _token(args),
            _ondemand_body(args),
        )
    if args.json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        report.render_ondemand(console(), document, lang=lang)
    healthy = all(
        s["health"] == "Healthy" for s in document["backendHealthHttpSettings"]["servers"]
    )
    return EXIT_OK if healthy else EXIT_UNHEALTHY


def _ondemand_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"backendAddressPool": args.pool, "backendHttpSettings": args.settings}
    for key, value in (
        ("protocol", args.protocol),
        ("host", args.host),
        ("path", args.path),
        ("timeout", args.timeout),
    ):
        if value is not None:
            body[key] = value
    if args.pick_host_name:
        body["pickHostNameFromBackendHttpSettings"] = True
    match: dict[str, Any] = {}
    if args.status:
        match["statusCodes"] = args.status
    if args.body is not None:
        match["body"] = args.body
    if match:
        body["match"] = match
    return body


# ------------------------------------------------------------------------ diagnose


def cmd_diagnose(args: argparse.Namespace, parameters: dict[str, object] | None) -> int:
    lang = Lang(args.lang)
    if (args.url is None) == (args.config is None):
        raise UsageError("diagnose takes a URL, or -c FILE with --pool")
    if args.config is not None:
        if args.pool is None:
            raise UsageError("-c needs --pool (and optionally --settings, --server)")
        plan = _plan(args, parameters)
        probes = diagnose.select(plan, args.pool, args.settings, args.server)
        resolver = Resolver(plan.dns_servers)
    else:
        target = diagnose.UrlTarget(
            url=args.url,
            host=args.host,
            sni=args.sni,
            trusted_roots=tuple(args.trusted_root),
            expect=tuple(args.expect) if args.expect else ("200-399",),
            body=args.body,
            timeout=args.timeout or 10,
            dns_server=args.dns_server,
            sku=args.sku,
        )
        probe = diagnose.probe_for_url(target)
        probes = [probe]
        resolver = Resolver(diagnose.plan_for_url(target).dns_servers)
    found = [asyncio.run(diagnose.diagnose(p, resolver)) for p in probes]
    if args.json:
        data = [diagnose.as_data(d, lang) for d in found]
        # One URL gives one object; configured targets (-c) always give a list.
        print(json.dumps(data if args.config else data[0], indent=2, ensure_ascii=False))
    else:
        out = console()
        for d in found:
            diagnose.render(out, d, lang)
    return EXIT_OK if all(d.result.passed for d in found) else EXIT_UNHEALTHY
