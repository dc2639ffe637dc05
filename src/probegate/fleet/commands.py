"""The fleet's command-line handlers: `backend-health` over several instances (`--url A --url B`,
`--instances FILE`) and `dashboard`.

Rules: arguments in, an exit status out (`join.exit_status`, written in helptext and README); an
instance that cannot be reached is a row of the answer, never an error of the command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from rich.console import Console

from probegate.errors import UsageError
from probegate.fleet import dashboard, fetch, join, render
from probegate.fleet.instances import Instance, gather
from probegate.i18n import Lang

_ONE_INSTANCE_ONLY = (
    ("config", "-c"),
    ("gateway_config", "--gateway-config"),
    ("history", "--history"),
    ("events", "--events"),
    ("watch", "--watch"),
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
    fleet = join.join(fetch.ask_all(instances_of(args), lang), lang)
    if args.json or args.output == "json":
        print(json.dumps(fleet, indent=2, ensure_ascii=False))
    else:
        render.render(console(), fleet, lang)
    return join.exit_status(fleet)


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
