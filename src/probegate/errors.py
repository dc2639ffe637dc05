"""The gateway's own error hierarchy.

Probes *return* outcomes; exceptions are for bad input and for faults of the gateway itself.

    ProbegateError                 root: everything probegate raises on purpose
    ├── ConfigError                a configuration file (or an imported ARM document) is invalid;
    │                              carries every issue found, each with its JSON path
    └── UsageError                 the command line asks for something that cannot be done
        └── gatewayclient.ApiError the running gateway's admin API answered with an error

Outside the hierarchy, a few exceptions are signals inside one layer, caught there and turned
into an answer or an issue; none reaches the user as an exception:

- `proxy.wire.Reject` (raised in wire.py, caught in proxy/request.py: a request the gateway
  answers itself), `proxy.upstream.ConnectError` (caught in proxy/exchange.py: the next target or
  the failure answer) and `proxy.client._Stop` (stops httptools inside client.py);
- `config.arm.expr.ExpressionError` and its kind (`scope.AlreadyReported`, `MissingParameter`,
  `_CycleError`) and `config.arm.functions.NeedsDeployment`: caught inside config/arm/, which
  raises one ConfigError;
- `admin.answers.Refused`: raised by the admin API's request checks, answered as JSON by the
  handler api.py installs.

One family crosses a boundary on purpose: `health.ondemand.OnDemandError` (`OnDemandNotFound`,
`OnDemandConflict`; a ValueError) and `OnDemandBusy` are the on-demand prober's refusals. The
admin API answers them 400/404/409/429 and the CLI's `probe -c` prints them (commands.py); the
admin's body parser (admin/ondemand_request.py) raises OnDemandError too, so both are answered alike.
"""

from __future__ import annotations

from dataclasses import dataclass


class ProbegateError(Exception):
    """Root of every error probegate raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a configuration document, located by its JSON path (`probes[1].port`) and,
    when the file is known, by `where` (`gateway.yaml:12:5`, the place in the file)."""

    path: str
    message: str
    where: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{self.where}: {text}" if self.where else text


class ConfigError(ProbegateError):
    """A configuration could not be accepted; `issues` lists every problem found, in file order."""

    def __init__(
        self, issues: list[ConfigIssue] | tuple[ConfigIssue, ...], source: str = ""
    ) -> None:
        self.issues = tuple(issues)
        self.source = source
        head = f"{source}: " if source else ""
        count = len(self.issues)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{head}{count} {noun}\n" + "\n".join(f"  {i}" for i in self.issues))


class UsageError(ProbegateError):
    """The command line is wrong in a way argparse cannot see (a file that does not exist, ...)."""
