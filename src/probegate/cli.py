"""The `probegate` command line: argument wiring only; the work is done by the modules it calls.

Exit codes (SPEC section 8): 0 valid / all healthy, 1 invalid / something unhealthy, 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from probegate import __version__, commands, explain, gatewayclient, helptext, importer, rewrites
from probegate.buildinfo import data_path
from probegate.config import arm
from probegate.config.compile import compile_plan
from probegate.config.effective import effective_probes
from probegate.config.load import LoadedConfig, load_file, placed, read_config_text
from probegate.config.model import MAX_WORKERS
from probegate.config.plan import GatewayPlan
from probegate.config.source import parse_text
from probegate.errors import ConfigError, ProbegateError, UsageError
from probegate.fleet import commands as fleet_commands
from probegate.runtime import usable_cpus

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Version(argparse.Action):
    """`--version` on one line, never wrapped to the terminal (argparse's own action wraps it),
    so scripts can read it."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"probegate {__version__} (data path: {data_path().describe()})")
        parser.exit()


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs (the examples, several lines) print exactly as written; a one-paragraph
    description still wraps to the terminal."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip("\n"):
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="probegate",
        description="A self-hosted application gateway that knows why each backend can or cannot take traffic.",
        epilog=helptext.MAIN,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        help="print the version and which data path runs (compiled or interpreted), then exit",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_validate(commands)
    _add_explain(commands)
    _add_rewrite_test(commands)
    _add_import_arm(commands)
    _add_run(commands)
    _add_reload(commands)
    _add_demo(commands)
    _add_backend_health(commands)
    _add_probe(commands)
    _add_diagnose(commands)
    _add_dashboard(commands)
    return parser


def _add_validate(commands: Any) -> None:
    validate = commands.add_parser(
        "validate",
        epilog=helptext.VALIDATE,
        formatter_class=_HelpFormatter,
        help="check a configuration file and list every problem in it",
        description="Check a configuration (YAML, JSON, ARM template or Azure CLI document). "
        "Exit 0 when valid, 1 when not (every problem on stderr, with its JSON path).",
    )
    _config_arguments(validate)


def _add_explain(commands: Any) -> None:
    explain_cmd = commands.add_parser(
        "explain",
        epilog=helptext.EXPLAIN,
        formatter_class=_HelpFormatter,
        help="print the effective probe of every target and the rule behind each value",
        description="Print, for every (server x settings) probe target, the method, URL, Host, "
        "SNI, name to verify, timing and match the probe will use, each with the rule that decided it.",
    )
    _config_arguments(explain_cmd)
    explain_cmd.add_argument("--json", action="store_true", help="print the targets as JSON data")


def _add_rewrite_test(commands: Any) -> None:
    test = commands.add_parser(
        "rewrite-test",
        epilog=helptext.REWRITE_TEST,
        formatter_class=_HelpFormatter,
        help="show what a request would become through the rewrite rule sets (nothing is sent)",
        description="Route `GET URL` as the gateway would and run its rewrite rule sets: the "
        "route, the rules that applied, the URI and headers sent to the backend. Nothing is sent.",
    )
    _config_arguments(test)
    test.add_argument(
        "--url", required=True, help="the request URL, e.g. http://app.test:8080/x?y=1"
    )
    test.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable)",
    )
    test.add_argument("--json", action="store_true", help="print the result as JSON data")


def _add_import_arm(commands: Any) -> None:
    importer = commands.add_parser(
        "import-arm",
        epilog=helptext.IMPORT_ARM,
        formatter_class=_HelpFormatter,
        help="convert an ARM template or Azure CLI gateway document into probegate YAML",
        description="Convert an Azure ARM deployment template holding a "
        "Microsoft.Network/applicationGateways resource, or the JSON the Azure CLI prints for a "
        "gateway, into probegate YAML on stdout. Ignored fields are listed on stderr.",
    )
    importer.add_argument("file", type=Path, help="the template or CLI document (JSON)")
    _parameter_arguments(importer)
    importer.add_argument("-o", "--output", type=Path, help="write the YAML here instead of stdout")
    importer.add_argument("--show-ignored", action="store_true",
                          help="list every field left out on its own line (besides the summary)")  # fmt: skip
    importer.add_argument("--inline-secrets", action="store_true",
                          help="write PFX passwords into the file instead of ${env:NAME} references")  # fmt: skip


def _add_run(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        epilog=helptext.RUN,
        formatter_class=_HelpFormatter,
        help="run the gateway: probe every target and serve the admin API",
        description="Run the gateway: probe every target continuously and serve the admin API "
        "(backend health, on-demand probes, reload). SIGHUP reloads the file; SIGTERM stops.",
    )
    _config_arguments(run)
    run.add_argument("--pid-file", type=Path, metavar="PATH",
                     help="write the process id here while running (removed at a clean stop)")  # fmt: skip
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], type=str.lower,
                     help="least severe log lines written (default: logging.level, else info)")  # fmt: skip
    run.add_argument("--log-format", choices=["text", "json"], type=str.lower,
                     help="text lines or one JSON object per line (default: logging.format, else text)")  # fmt: skip
    run.add_argument("--workers", type=_workers, metavar="N|auto",
                     help="processes serving traffic, over the file's `workers` (auto: one per CPU; 1: this process)")  # fmt: skip


def _workers(text: str) -> int:
    """`--workers`: 1-256, or auto (the CPUs this process may use)."""
    if text.strip().lower() == "auto":
        return usable_cpus()
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"give a number of workers (1-{MAX_WORKERS}) or auto")
    return value


def _add_reload(commands: Any) -> None:
    reload = commands.add_parser(
        "reload",
        epilog=helptext.RELOAD,
        formatter_class=_HelpFormatter,
        help="ask the running gateway to re-read its configuration file",
        description="Ask a running gateway to reload its file (POST /reload on its admin API) and "
        "print what changed, or every problem that made it refuse (it then keeps running the old "
        "configuration). Exit 0 reloaded, 1 refused, 2 the gateway cannot be reached.",
    )
    reload.add_argument("-c", "--config", "-g", "--gateway-config", dest="config", type=Path,
                        metavar="FILE", help="the file the gateway runs: its admin address and token are read from it")  # fmt: skip
    _admin_arguments(reload)


def _add_demo(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="start sample backends for every failure scenario and a gateway probing them",
        description="Start, on loopback only, a backend for every scenario probegate diagnoses "
        "(slow, refused, full accept queue, 4xx/5xx, body mismatch, garbage, every TLS case, an "
        "NXDOMAIN name through a demo DNS server), and gateways probing them; print where "
        "everything listens, wait for the first verdicts, print the backend-health table and keep "
        "running until Ctrl-C. Exit 0.",
        epilog=helptext.DEMO,
        formatter_class=_HelpFormatter,
    )
    demo.add_argument("--once", action="store_true", help="print the table and exit")
    demo.add_argument("--json", action="store_true", help="with --once: one JSON document")
    _lang_argument(demo)


def _add_backend_health(commands: Any) -> None:
    health = commands.add_parser(
        "backend-health",
        epilog=helptext.BACKEND_HEALTH,
        formatter_class=_HelpFormatter,
        help="show the health of every backend server and why",
        description="Show backend health: from a running gateway's admin API (default), or by "
        "probing every target of a file once (-c). Exit 0 when every server is Healthy, else 1.",
    )
    _source_arguments(health, config_required=False, several=True)
    health.add_argument("--instances", type=Path, metavar="FILE",
                        help="the fleet view: ask every instance this YAML file lists (url, name, token)")  # fmt: skip
    health.add_argument("--json", action="store_true", help="the backend health document as JSON")
    health.add_argument("--output", choices=["table", "json", "powershell"], default="table",
                        help="'powershell' prints the PascalCase shape of Get-AzApplicationGatewayBackendHealth")  # fmt: skip
    health.add_argument(
        "--history", action="store_true", help="include the last results (API only)"
    )
    health.add_argument("--watch", action="store_true", help="refresh the table until Ctrl-C")
    health.add_argument("--events", action="store_true",
                        help="list the state changes of the lasting history instead (API only)")  # fmt: skip
    health.add_argument("--since", default="1h", metavar="WHEN",
                        help="with --events: a duration (30m, 24h, 7d) or an ISO 8601 time")  # fmt: skip
    health.add_argument("--pool", help="with --events: only this pool's servers")
    health.add_argument(
        "--interval", type=float, default=2.0, help="seconds between refreshes (--watch)"
    )
    _lang_argument(health)


def _add_probe(commands: Any) -> None:
    probe = commands.add_parser(
        "probe",
        epilog=helptext.PROBE,
        formatter_class=_HelpFormatter,
        help="probe every server of a pool with a settings item now (on demand)",
        description="An on-demand probe with optional overrides; it changes no state. Asks the "
        "running gateway's admin API, or probes from a file with -c.",
    )
    _source_arguments(probe, config_required=False)
    probe.add_argument("--pool", required=True, help="backend address pool name")
    probe.add_argument("--settings", required=True, help="backend HTTP settings name")
    probe.add_argument("--protocol", choices=["Http", "Https"])
    probe.add_argument("--host", help="Host header (and SNI) to send")
    probe.add_argument("--path", help="path to request, e.g. /healthz")
    probe.add_argument("--timeout", type=int, help="seconds")
    probe.add_argument("--pick-host-name", action="store_true",
                       help="take the host from the settings (pickHostNameFromBackendHttpSettings)")  # fmt: skip
    probe.add_argument(
        "--status", action="append", metavar="NNN[-NNN]", help="healthy statuses (repeatable)"
    )
    probe.add_argument("--body", help="text the body must contain")
    probe.add_argument("--header", action="append", metavar="'NAME: VALUE'",
                       help="a request header to send (repeatable; replaces the probe's headers)")  # fmt: skip
    probe.add_argument("--json", action="store_true")
    _lang_argument(probe)


def _add_diagnose(commands: Any) -> None:
    diag = commands.add_parser(
        "diagnose",
        epilog=helptext.DIAGNOSE,
        formatter_class=_HelpFormatter,
        help="run the probe phases one by one and explain the verdict",
        description="Troubleshoot one URL, or configured targets (-c FILE --pool P): resolve, "
        "connect, TLS (with the whole presented chain), response, then the verdict with its reason, "
        "message and remedy.",
    )
    diag.add_argument("url", nargs="?", help="http:// or https:// URL to probe")
    diag.add_argument("-c", "--config", type=Path, help="a configuration file, with --pool")
    _parameter_arguments(diag)
    diag.add_argument("--pool")
    diag.add_argument("--settings")
    diag.add_argument("--server", help="one server's address (or address:port)")
    diag.add_argument("--host", help="Host header (default: the URL's host)")
    diag.add_argument("--sni", help="TLS server name, when it differs from --host")
    diag.add_argument("--trusted-root", type=Path, action="append", default=[], metavar="FILE",
                      help="trusted root certificate, PEM or DER (repeatable; v1: authentication certificate)")  # fmt: skip
    diag.add_argument(
        "--expect", action="append", metavar="NNN[-NNN]", help="healthy statuses (default 200-399)"
    )
    diag.add_argument("--body", help="text the body must contain")
    diag.add_argument("--timeout", type=int, help="seconds (default 10)")
    diag.add_argument("--dns-server", metavar="HOST:PORT", help="resolve through this DNS server")
    diag.add_argument("--sku", choices=["v1", "v2"], default="v2", help="which TLS rules apply")
    diag.add_argument("--json", action="store_true")
    _lang_argument(diag)


def _add_dashboard(commands: Any) -> None:
    board = commands.add_parser(
        "dashboard",
        epilog=helptext.DASHBOARD,
        formatter_class=_HelpFormatter,
        help="serve the fleet view of several instances to a browser",
        description="Serve, on loopback, a dashboard of several probegate instances at once: "
        "each server's health on each instance and the joined verdict. This process asks the "
        "instances (with their tokens); the page it prints the URL of talks only to it.",
    )
    board.add_argument("--url", action="append", default=[],
                       help="an instance's admin API (repeatable)")  # fmt: skip
    board.add_argument("--instances", type=Path, metavar="FILE",
                       help="a YAML file listing the instances (url, name, token or tokenFile)")  # fmt: skip
    board.add_argument("--token", help=f"the instances' admin token (else {gatewayclient.TOKEN_ENV}; an instances-file entry's own wins)")  # fmt: skip
    board.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")  # fmt: skip
    board.add_argument("--port", type=int, default=0, help="port to listen on (default: any free one, printed)")  # fmt: skip


def _lang_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=["en", "ko"], default="en", help="language of messages")


def _source_arguments(
    parser: argparse.ArgumentParser, *, config_required: bool, several: bool = False
) -> None:
    parser.add_argument("-c", "--config", type=Path, required=config_required,
                        help="probe from this configuration file instead of asking a running gateway")  # fmt: skip
    _parameter_arguments(parser)
    parser.add_argument("-g", "--gateway-config", type=Path, metavar="FILE",
                        help="ask the gateway that runs this file: its admin address and token are read from it")  # fmt: skip
    _admin_arguments(parser, several=several)


def _admin_arguments(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    if several:  # backend-health: two or more give the fleet view (probegate.fleet)
        parser.add_argument("--url", action="append", help=f"the admin API (else {gatewayclient.URL_ENV}, else "
                            f"{gatewayclient.DEFAULT_ADMIN}); repeat it for the fleet view of several instances")  # fmt: skip
    else:
        parser.add_argument("--url", help=f"the admin API (else {gatewayclient.URL_ENV}, else "
                            f"{gatewayclient.DEFAULT_ADMIN})")  # fmt: skip
    parser.add_argument("--token", help=f"admin bearer token (else {gatewayclient.TOKEN_ENV})")


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, required=True, help="the configuration file")
    _parameter_arguments(parser)


def _parameter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--parameters", type=Path, metavar="FILE", help="ARM parameters file (ARM templates only)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one ARM template parameter (repeatable; wins over --parameters)",
    )


# ------------------------------------------------------------------------ commands


def _parameters(args: argparse.Namespace) -> dict[str, object] | None:
    values: dict[str, object] = {}
    if args.parameters is not None:
        commands.check_file(args.parameters, "parameters file")
        source = str(args.parameters)
        text = read_config_text(args.parameters)
        try:
            values.update(arm.load_parameters_file(parse_text(text, source)))
        except ConfigError as exc:
            raise ConfigError(placed(exc.issues, text, source), source) from exc
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--param takes NAME=VALUE, got '{item}'")
        values[name] = value
    return values if (args.parameters is not None or args.param) else None


def _load(args: argparse.Namespace) -> LoadedConfig:
    commands.check_file(args.config)
    return load_file(args.config, _parameters(args))


def _print_warnings(warnings: Sequence[str]) -> None:
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    loaded = _load(args)
    _print_warnings(loaded.warnings)
    plan = compile_plan(loaded)
    missing = [what for what, items in (("httpListeners", plan.listeners), ("requestRoutingRules", plan.rules)) if not items]  # fmt: skip
    if missing:
        print(
            f"{loaded.source}: valid, but it serves nothing: it has no {' and no '.join(missing)} "
            "(a gateway needs a listener and a rule that sends its requests to a pool)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"{loaded.source}: valid ({len(plan.targets)} probe targets)")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    loaded = _load(args)
    _print_warnings(loaded.warnings)
    plan: GatewayPlan = compile_plan(loaded)
    probes = effective_probes(plan)
    if args.json:
        print(json.dumps(explain.explain_data(plan, probes), indent=2))
    else:
        explain.render(_console(), plan, probes)
    return EXIT_OK


def cmd_rewrite_test(args: argparse.Namespace) -> int:
    loaded = _load(args)
    _print_warnings(loaded.warnings)
    result = rewrites.rewrite_test(compile_plan(loaded), args.url, args.header)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rewrites.render_test(_console(), result)
    return EXIT_OK


def _console() -> Console:
    # Piped output keeps full lines so it stays searchable; a terminal gets its own width.
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def _with_parameters(
    handler: Callable[[argparse.Namespace, dict[str, object] | None], int],
) -> Callable[[argparse.Namespace], int]:
    return lambda args: handler(args, _parameters(args))


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": cmd_validate,
    "explain": cmd_explain,
    "rewrite-test": cmd_rewrite_test,
    "import-arm": _with_parameters(importer.cmd_import_arm),
    "run": _with_parameters(commands.cmd_run),
    "reload": commands.cmd_reload,
    "demo": commands.cmd_demo,
    "backend-health": _with_parameters(commands.cmd_backend_health),
    "probe": _with_parameters(commands.cmd_probe),
    "diagnose": _with_parameters(commands.cmd_diagnose),
    "dashboard": fleet_commands.cmd_dashboard,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, where a reader that has gone is handled, not at exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt:
        return 130  # Ctrl-C during a probe or a load: the shell's convention, no traceback
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    except UsageError as exc:
        print(f"probegate: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ProbegateError as exc:
        print(f"probegate: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _reader_gone() -> int:
    """The reader of stdout left (`… | head`): stop quietly, as other Unix tools do. stdout is
    pointed at /dev/null so the interpreter's final flush does not fail a second time."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
