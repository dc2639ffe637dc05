"""Handlers of the gateway commands: `run`, `demo`, `backend-health`, `probe`, `diagnose`.

Rules: each handler turns parsed arguments into calls of the modules that do the work, prints,
and returns the exit code (0 all healthy / valid, 1 something unhealthy, 2 usage error). Talking to
a running gateway is plain HTTP to its admin API (stdlib urllib: a CLI needs no client stack).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.status import Status
from rich.text import Text

from probegate import app, diagnose, gatewayclient, names, report
from probegate.admin import views
from probegate.admin.api import ondemand_document
from probegate.admin.ondemand_request import parse_ondemand
from probegate.config.compile import compile_plan
from probegate.config.load import load_file
from probegate.config.plan import GatewayPlan
from probegate.demo import run as demo_run
from probegate.errors import UsageError
from probegate.fleet import commands as fleet_commands
from probegate.gatewayclient import AdminApi
from probegate.health.ondemand import OnDemandError, probe_now
from probegate.health.prober import Prober
from probegate.i18n import Lang
from probegate.logsetup import LogOptions
from probegate.resolver import Resolver

EXIT_OK, EXIT_UNHEALTHY = 0, 1


def console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def progress(what: str) -> Status:
    """A spinner on stderr while something is probed (drawn on a terminal only; gone after)."""
    return Console(stderr=True).status(what, spinner="dots")


def check_file(path: Path, what: str = "configuration file") -> None:
    """A path that names nothing, or a folder, is a usage error saying which."""
    if path.is_dir():
        raise UsageError(f"{path} is a folder, not a {what}")
    if not path.exists():
        raise UsageError(f"no such {what}: {path}")


def _plan(args: argparse.Namespace, parameters: dict[str, object] | None) -> GatewayPlan:
    check_file(args.config)
    return compile_plan(load_file(args.config, parameters))


# ------------------------------------------------------------------------ run


def cmd_run(args: argparse.Namespace, parameters: dict[str, object] | None) -> int:
    check_file(args.config)
    options = LogOptions(level=args.log_level, format=args.log_format)
    with pid_file(args.pid_file):
        return app.run(args.config, parameters, options, workers=args.workers)


@contextlib.contextmanager
def pid_file(path: Path | None) -> Iterator[None]:
    """`run --pid-file`: the process id while the gateway runs (for `kill -HUP $(cat …)` and
    init systems); removed at a clean stop."""
    if path is None:
        yield
        return
    try:
        path.write_text(f"{os.getpid()}\n", encoding="ascii")
    except OSError as exc:
        raise UsageError(f"--pid-file: cannot write {path}: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


# ------------------------------------------------------------------------ demo


def cmd_demo(args: argparse.Namespace) -> int:
    if args.json and not args.once:
        raise UsageError("--json prints one document and exits: use it with --once")
    return demo_run.run(demo_run.Options(once=args.once, json=args.json, lang=Lang(args.lang)))


# ------------------------------------------------------------------------ admin API client


def admin_api(args: argparse.Namespace) -> AdminApi:
    return gatewayclient.locate(args.url, args.gateway_config, args.token)


# ------------------------------------------------------------------------ backend-health


def cmd_backend_health(args: argparse.Namespace, parameters: dict[str, object] | None) -> int:
    if fleet_commands.is_fleet(args):  # several --url, or --instances FILE
        return fleet_commands.cmd_backend_health(args, console)
    args.url = args.url[0] if args.url else None  # one --url (repeatable for the fleet view)
    lang = Lang(args.lang)
    if args.json and args.output not in ("table", "json"):
        raise UsageError(f"--json and --output {args.output} ask for two formats: give one")
    if args.watch and (args.json or args.output != "table"):
        raise UsageError("--watch draws a table; it does not combine with --json or --output")
    if args.events:
        return _events(args, lang)
    api = None if args.config is not None else admin_api(args)
    if args.watch:
        return _watch(args, parameters, api, lang)
    document = _health_document(args, parameters, api, lang)
    _print_document(args, document, lang)
    return EXIT_OK if views.all_healthy(document) else EXIT_UNHEALTHY


def _events(args: argparse.Namespace, lang: Lang) -> int:
    """`backend-health --events`: the state changes the running gateway keeps in its history."""
    if args.config is not None or args.watch:
        raise UsageError("--events reads a running gateway's history: drop -c and --watch")
    query = urllib.parse.urlencode(
        {"since": args.since, **({"pool": args.pool} if args.pool else {})}
    )
    listed = gatewayclient.call(admin_api(args), f"/backendhealth/events?{query}")
    if args.json or args.output == "json":
        print(json.dumps(listed, indent=2, ensure_ascii=False))
    else:
        report.render_events(console(), listed, lang)
    return EXIT_OK


def _health_document(
    args: argparse.Namespace,
    parameters: dict[str, object] | None,
    api: AdminApi | None,
    lang: Lang,
) -> dict[str, Any]:
    if api is None:
        plan = _plan(args, parameters)
        with progress(f"probing {len(plan.targets)} targets of {args.config}"):
            results = asyncio.run(app.probe_all_once(plan))
        return views.one_shot_health(results, lang)
    expand = "&expand=history" if args.history else ""
    return gatewayclient.call(api, f"/backendhealth?lang={lang.value}{expand}")


def _print_document(args: argparse.Namespace, document: dict[str, Any], lang: Lang) -> None:
    if args.output == "powershell":
        print(json.dumps(views.pascal_case(document), indent=2, ensure_ascii=False))
    elif args.json or args.output == "json":
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        report.render_health(console(), document, lang=lang)


def _watch(
    args: argparse.Namespace,
    parameters: dict[str, object] | None,
    api: AdminApi | None,
    lang: Lang,
) -> int:
    """Refresh every `--interval` seconds until Ctrl-C (remedies left out: the table must fit a
    screen; `backend-health` without --watch shows them). On a terminal the table is redrawn in
    place; into a pipe or a file each refresh is printed after the last, as plain text, flushed."""
    where = api.url if api is not None else str(args.config)
    try:
        if sys.stdout.isatty():
            _watch_live(args, parameters, api, lang, where)
        else:
            _watch_plain(args, parameters, api, lang, where)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _stamp(where: str, interval: float) -> str:
    return f"{time.strftime('%H:%M:%S')} · {where} · every {interval:g} s · Ctrl-C"


def _watch_live(
    args: argparse.Namespace,
    parameters: dict[str, object] | None,
    api: AdminApi | None,
    lang: Lang,
    where: str,
) -> None:
    with Live(console=console(), auto_refresh=False) as live:
        while True:
            document = _health_document(args, parameters, api, lang)
            stamp = Text(_stamp(where, args.interval), style="dim")
            body = report.health_group(document, remedies=False, lang=lang)
            live.update(Group(stamp, body), refresh=True)
            time.sleep(args.interval)


def _watch_plain(
    args: argparse.Namespace,
    parameters: dict[str, object] | None,
    api: AdminApi | None,
    lang: Lang,
    where: str,
) -> None:
    out = Console(width=200, highlight=False, color_system=None, force_terminal=False)
    while True:
        document = _health_document(args, parameters, api, lang)
        out.print(_stamp(where, args.interval))
        report.render_health(out, document, remedies=False, lang=lang)
        out.print()
        sys.stdout.flush()
        time.sleep(args.interval)


# ------------------------------------------------------------------------ reload


def cmd_reload(args: argparse.Namespace) -> int:
    """Ask the running gateway to re-read its file (`POST /reload`); print what changed, or
    every problem that made it refuse (the running configuration then stays)."""
    api = gatewayclient.locate(args.url, args.config, args.token)
    try:
        answer = gatewayclient.call(api, "/reload", post=True)
    except gatewayclient.ApiError as exc:
        if exc.status != 422:
            raise
        print(f"{api.url}: reload refused; the running configuration stays:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_UNHEALTHY
    print(f"{api.url}: reloaded ({answer.get('targets', '?')} probe targets)")
    for line in report.reload_lines(answer):
        print(f"  {line}")
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
        names.check_pair(plan, args.pool, args.settings)
        prober = Prober(Resolver(plan.dns_servers))
        try:
            with progress(f"probing pool '{args.pool}' with settings '{args.settings}'"):
                results = asyncio.run(probe_now(prober, plan, args.pool, args.settings, overrides))
        except OnDemandError as exc:
            raise UsageError(str(exc)) from exc
        document = ondemand_document(args.pool, args.settings, results, lang)
    else:
        api = admin_api(args)
        try:
            document = gatewayclient.call(
                api, f"/backendhealth/ondemand?lang={lang.value}", _ondemand_body(args)
            )
        except gatewayclient.ApiError as exc:
            if exc.status == 404:  # an unknown name: suggest one the gateway has
                names.check_pair_in_health(
                    gatewayclient.call(api, "/backendhealth"), args.pool, args.settings
                )
            raise
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
    if args.header:
        body["headers"] = [_header(text) for text in args.header]
    match: dict[str, Any] = {}
    if args.status:
        match["statusCodes"] = args.status
    if args.body is not None:
        match["body"] = args.body
    if match:
        body["match"] = match
    return body


def _header(text: str) -> dict[str, str]:
    name, colon, value = text.partition(":")
    if not colon:
        raise UsageError(f"--header takes 'Name: value', got '{text}'")
    return {"name": name.strip(), "value": value.strip()}


# ------------------------------------------------------------------------ diagnose


def cmd_diagnose(args: argparse.Namespace, parameters: dict[str, object] | None) -> int:
    lang = Lang(args.lang)
    if (args.url is None) == (args.config is None):
        raise UsageError("diagnose takes a URL, or -c FILE with --pool")
    if args.config is not None:
        if args.pool is None:
            raise UsageError("-c needs --pool (and optionally --settings, --server)")
        plan = _plan(args, parameters)
        names.check_pair(plan, args.pool, args.settings)
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
