"""The fleet's command-line handlers: `backend-health` over several instances (`--url A --url B`,
`--instances FILE`) and `dashboard`.

Rules: arguments in, an exit status out (`join.exit_status`, written in helptext and README); an
instance that cannot be reached is a row of the answer, never an error of the command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from probegate.errors import UsageError
from probegate.fleet import dashboard, fetch, join, render
from probegate.fleet.instances import Instance, gather
from probegate.i18n import Lang

_ONE_INSTANCE_ONLY = (
    ("config", "-c"),
    ("gateway_config", "--gateway-config"),
    ("history", "--history"),
    ("events", "--events"),
)


def is_fleet(args: argparse.Namespace) -> bool:
    """Several `--url`s, or an instances file: the fleet view; one `--url` stays the classic one."""
    return args.instances is not None or len(args.url or ()) > 1


def instances_of(args: argparse.Namespace) -> list[Instance]:
    return gather(args.url or [], args.instances, args.token)


def cmd_backend_health(args: argparse.Namespace, console: Callable[[], Console]) -> int:
    for name, flag in _ONE_INSTANCE_ONLY:
        if getattr(args, name, None):
            raise UsageError(f"{flag} reads one gateway; it does not combine with several --url or --instances")  # fmt: skip
    if args.output == "powershell":
        raise UsageError("--output powershell is one gateway's document; the fleet view has --json")
    lang = Lang(args.lang)
    instances = instances_of(args)
    if args.watch:
        return _watch(args, instances, console, lang)
    fleet = join.join(fetch.ask_all(instances, lang), lang)
    if args.json or args.output == "json":
        print(json.dumps(fleet, indent=2, ensure_ascii=False))
    else:
        render.render(console(), fleet, lang)
    return join.exit_status(fleet)


def _watch(
    args: argparse.Namespace,
    instances: list[Instance],
    console: Callable[[], Console],
    lang: Lang,
) -> int:
    """Ask every instance again every `--interval` seconds until Ctrl-C: redrawn in place on a
    terminal, each refresh after the last (plain text, flushed) into a pipe or a file."""
    if args.json or args.output != "table":
        raise UsageError("--watch draws a table; it does not combine with --json or --output")
    names = ", ".join(i.name for i in instances)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch ends
        while_watching(instances, lang, args.interval, names, console)
    return 0


def while_watching(
    instances: list[Instance],
    lang: Lang,
    interval: float,
    names: str,
    console: Callable[[], Console],
) -> None:
    def stamp() -> str:
        return f"{time.strftime('%H:%M:%S')} · {names} · every {interval:g} s · Ctrl-C"

    def ask() -> list[RenderableType]:
        return render.renderables(join.join(fetch.ask_all(instances, lang), lang), lang)

    if sys.stdout.isatty():
        with Live(console=console(), auto_refresh=False) as live:
            while True:
                shown = ask()
                live.update(Group(Text(stamp(), style="dim"), *shown), refresh=True)
                time.sleep(interval)
    out = Console(width=200, highlight=False, color_system=None, force_terminal=False)
    while True:
        shown = ask()
        out.print(stamp())
        for renderable in shown:
            out.print(renderable)
        out.print()
        sys.stdout.flush()
        time.sleep(interval)


def cmd_dashboard(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port takes 0 (any free port) to 65535, got {args.port}")
    instances = instances_of(args)

    def ready(url: str) -> None:
        names = ", ".join(i.name for i in instances)
        print(f"fleet dashboard of {len(instances)} instances ({names}) at {url}", flush=True)
        print("Ctrl-C stops it; the token after # is this dashboard's own", file=sys.stderr)

    dashboard.serve(instances, args.bind, args.port, ready)
    return 0
