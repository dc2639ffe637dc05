"""Talking to a running gateway's admin API from the command line.

Rules of this module:
- one place decides *which* gateway a command talks to, in this order: `--url`, the admin section
  of the gateway's own configuration file (`--gateway-config FILE`), `PROBEGATE_URL`, then the
  default `http://127.0.0.1:9090`; the token is `--token`, else `PROBEGATE_TOKEN`, else the file's
  (`token`, `${env:NAME}` or `tokenFile`, read as the gateway reads them);
- every failure is a UsageError that says what was tried and how to point the command elsewhere;
- plain stdlib HTTP (urllib): a command line needs no client stack, and an `http_proxy` in the
  environment must not reroute a loopback admin API.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probegate.config import tokens
from probegate.config.load import admin_section
from probegate.config.syntax import is_loopback
from probegate.errors import UsageError

DEFAULT_ADMIN = "http://127.0.0.1:9090"
URL_ENV, TOKEN_ENV = "PROBEGATE_URL", "PROBEGATE_TOKEN"

_HOW_TO_POINT = (
    "point the command at the gateway with --url http://HOST:PORT, the PROBEGATE_URL "
    "environment variable, or --gateway-config FILE (the file `probegate run -c` was given: its "
    "admin address and token are read from it)"
)


@dataclass(frozen=True, slots=True)
class AdminApi:
    """Where a running gateway's admin API is, and how that was decided (said in errors)."""

    url: str
    token: str | None
    source: str


def locate(
    url: str | None,
    gateway_config: Path | None,
    token: str | None,
    environ: Mapping[str, str] = os.environ,
) -> AdminApi:
    if url is not None and gateway_config is not None:
        raise UsageError("--url and --gateway-config both name the gateway: give one")
    token = token or environ.get(TOKEN_ENV) or None
    if url is not None:
        return AdminApi(_checked(url, "--url"), token, "--url")
    if gateway_config is not None:
        return _from_file(gateway_config, token)
    if environ.get(URL_ENV):
        return AdminApi(_checked(environ[URL_ENV], URL_ENV), token, URL_ENV)
    return AdminApi(DEFAULT_ADMIN, token, "the default address")


def _checked(url: str, where: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{where}: '{url}' is not an http:// URL of the admin API")
    return url.rstrip("/")


def _from_file(path: Path, token: str | None) -> AdminApi:
    if path.is_dir():
        raise UsageError(f"--gateway-config: {path} is a folder, not a configuration file")
    if not path.is_file():
        raise UsageError(f"--gateway-config: no such configuration file: {path}")
    admin = admin_section(path)
    if admin.port == 0:
        raise UsageError(
            f"{path} sets admin.port: 0 (any free port): the gateway printed the port it took at "
            "start; give it with --url"
        )
    if token is None:
        found = tokens.resolve(
            admin.token,
            admin.token_file,
            path.resolve().parent,
            loopback=is_loopback(admin.bind_address),
        )
        if isinstance(found, tokens.TokenProblem):
            raise UsageError(f"{path}: {found.path} {found.message}")
        token = found
    return AdminApi(
        f"http://{_host_for(admin.bind_address)}:{admin.port}",
        token,
        f"the admin section of {path}",
    )


def _host_for(bind_address: str) -> str:
    """The address to connect to for a listener bound to `bind_address`."""
    address = ipaddress.ip_address(bind_address)
    if address.is_unspecified:  # 0.0.0.0 / :: accept loopback connections too
        return "127.0.0.1" if address.version == 4 else "[::1]"
    return f"[{address}]" if address.version == 6 else str(address)


# The admin API is asked directly: an `http_proxy` in the environment must not reroute it.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ApiError(UsageError):
    """The admin API answered with an error document; `problems` are its message's parts."""

    def __init__(self, text: str, status: int, problems: list[str]) -> None:
        super().__init__(text)
        self.status = status
        self.problems = problems


def call(
    api: AdminApi, path: str, body: dict[str, Any] | None = None, *, post: bool = False
) -> dict[str, Any]:
    """GET (or POST, with `body` or `post`) one admin route; the answer's JSON document."""
    url = f"{api.url}{path}"
    data = json.dumps(body if body is not None else {}).encode() if (body or post) else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if api.token:
        request.add_header("Authorization", f"Bearer {api.token}")
    try:
        with _DIRECT.open(request, timeout=120) as response:
            answer: dict[str, Any] = json.load(response)
            return answer
    except urllib.error.HTTPError as exc:
        raise _api_error(url, exc) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UsageError(_unreachable(api, exc)) from exc


# "; " followed by the next problem's path (`probes[0].port: …`, `gateway.yaml:3:5: …`).
_PROBLEM_SEPARATOR = re.compile(r"; (?=[\w$/.\[\]-]+(?::\d+:\d+)?: )")


def _api_error(url: str, exc: urllib.error.HTTPError) -> ApiError:
    try:
        error = json.load(exc)["error"]
        detail, problems = str(error["message"]), error.get("problems")
    except (ValueError, KeyError, TypeError):
        detail, problems = str(exc.reason), None
    if not isinstance(problems, list):  # the API joins problems with "; ", as do some messages
        problems = [p for p in _PROBLEM_SEPARATOR.split(detail) if p]
    hint = ""
    if exc.code == 401:
        hint = f"; give the admin token with --token or {TOKEN_ENV}"
    return ApiError(f"{url}: {exc.code} {detail}{hint}", exc.code, [str(p) for p in problems])


def _unreachable(api: AdminApi, exc: Exception) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, ConnectionRefusedError):
        why = "connection refused (is `probegate run` running there?)"
    elif isinstance(reason, TimeoutError):
        why = "no answer in time"
    elif isinstance(reason, ValueError):
        why = "the answer is not a JSON document (is this the gateway's admin port?)"
    else:
        why = str(getattr(reason, "strerror", None) or reason)
    return f"cannot reach the admin API at {api.url} ({api.source}): {why}; {_HOW_TO_POINT}"
