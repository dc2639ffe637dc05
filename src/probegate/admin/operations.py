"""Admin routes that act on the running gateway beyond probing: draining a member and reading the
lasting health history. Each route's handler and its OpenAPI description sit together here.

- `POST /backendhealth/drain` {backendAddressPool, address}: the member takes no new requests
  (shown as Draining; its affinity-pinned clients stay for `drainTimeoutInSec`);
  `POST /backendhealth/undrain` with the same body puts it back;
- `GET /backendhealth/events?since=24h&pool=…&server=…`: state changes from the SQLite history,
  oldest first (`since`: a duration such as `90s`, `30m`, `24h`, `7d`, or an ISO 8601 time);
- `GET /backendhealth/stream`: the same events as they happen, as Server-Sent Events
  (`stream.py`).

Rules: bodies and queries are checked here and refused with our own words (400/404); the
history is read off the event loop (a thread), never blocking probes.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from probegate.admin import stream, views
from probegate.admin.answers import answer, error
from probegate.admin.body import read_json
from probegate.admin.stream import EventHub
from probegate.config import syntax
from probegate.health.transitions import Event
from probegate.state.history import target_parts

MAX_FIELD = 300  # characters of a pool name or an address
_DURATION = re.compile(r"([0-9]{1,9})([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Operations(Protocol):
    @property
    def hub(self) -> EventHub: ...
    def drain(self, pool: str, address: str, drained: bool) -> list[str]: ...
    def events(self, since: float, pool: str | None, server: str | None) -> list[Event]: ...
    def history_problem(self) -> str | None: ...


def parse_since(text: str, now: float) -> float:
    """Epoch seconds from `24h`-style durations (before now) or an ISO 8601 time (UTC if no
    zone is given); ValueError with a message otherwise."""
    if found := _DURATION.fullmatch(text.strip()):
        return now - int(found[1]) * _UNIT[found[2]]
    # RFC 3339 allows 't', 'z' and a leap second (:60), which fromisoformat does not take.
    iso = re.sub(r"(T\d{2}:\d{2}):60", r"\1:59", text.strip().upper())
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(
            f"since takes a duration (90s, 30m, 24h, 7d) or an ISO 8601 time, got {syntax.shown(text)}"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def routes(gateway: Operations) -> list[Route]:
    async def drain(request: Request) -> Response:
        return await _drain(request, gateway, drained=True)

    async def undrain(request: Request) -> Response:
        return await _drain(request, gateway, drained=False)

    async def live(request: Request) -> Response:
        return await stream.stream(request, gateway.hub)

    async def events(request: Request) -> Response:
        query = request.query_params
        unknown = sorted(set(query) - {"since", "pool", "server"})
        if unknown:
            return error(400, "InvalidQuery", f"unknown query parameter {syntax.shown(unknown[0])}")
        try:
            since = parse_since(query.get("since", "1h"), time.time())
        except ValueError as exc:
            return error(400, "InvalidQuery", str(exc))
        pool, server = query.get("pool"), query.get("server")
        found = await asyncio.to_thread(gateway.events, since, pool, server)
        return answer(
            {
                "since": views.iso(since),
                "events": [event_json(e) for e in found],
                "history": {"problem": gateway.history_problem()},
            }
        )

    return [
        Route("/backendhealth/drain", drain, methods=["POST"]),
        Route("/backendhealth/undrain", undrain, methods=["POST"]),
        Route("/backendhealth/events", events, methods=["GET"]),
        Route("/backendhealth/stream", live, methods=["GET"]),
    ]


async def _drain(request: Request, gateway: Operations, *, drained: bool) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) != {"backendAddressPool", "address"}:
        return error(400, "InvalidDrain", 'send {"backendAddressPool": …, "address": …}')
    pool, address = body["backendAddressPool"], body["address"]
    for name, value in (("backendAddressPool", pool), ("address", address)):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_FIELD:
            return error(
                400, "InvalidDrain", f"{name} takes a string of 1 to {MAX_FIELD} characters"
            )
    servers = gateway.drain(pool, address, drained)
    if not servers:
        shown = f"{syntax.shown(address)} in pool {syntax.shown(pool)}"
        return error(404, "NotFound", f"no member {shown} (give its address or address:port)")
    return answer(
        {
            "backendAddressPool": views.resource("backendAddressPools", pool),
            "address": address,
            "draining": drained,
            "servers": servers,
        }
    )


def event_json(event: Event) -> dict[str, Any]:
    pool, settings, server = target_parts(event.target)
    return {
        "time": views.iso(event.at),
        "backendAddressPool": pool,
        "backendHttpSettings": settings,
        "server": server,
        "from": event.from_state.value,
        "to": event.to_state.value,
        "fromReason": event.from_reason.value,
        "toReason": event.to_reason.value,
    }


def paths(errors: Callable[..., dict[str, Any]], post_errors: tuple[str, ...]) -> dict[str, Any]:
    """The OpenAPI description of the routes above (`errors` adds the gateway-wide answers)."""
    member = {
        "type": "object",
        "required": ["backendAddressPool", "address"],
        "additionalProperties": False,
        "properties": {
            "backendAddressPool": {"type": "string", "minLength": 1, "maxLength": MAX_FIELD},
            "address": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_FIELD,
                "description": "The member's address (every settings using it) or address:port",
            },
        },
    }
    drained = {
        "type": "object",
        "required": ["backendAddressPool", "address", "draining", "servers"],
        "properties": {
            "backendAddressPool": {"type": "object"},
            "address": {"type": "string"},
            "draining": {"type": "boolean"},
            "servers": {"type": "array", "items": {"type": "string"}},
        },
    }

    def member_route(summary: str) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": member}},
                },
                "responses": {
                    "200": {
                        "description": "The targets it applies to",
                        "content": {"application/json": {"schema": drained}},
                    },
                    **errors(*post_errors, "404"),
                },
            }
        }

    event = {
        "type": "object",
        "properties": {
            key: {"type": "string"}
            for key in ("time", "backendAddressPool", "backendHttpSettings", "server", "from",
                        "to", "fromReason", "toReason")
        },
    }  # fmt: skip
    listed = {
        "type": "object",
        "required": ["since", "events", "history"],
        "properties": {
            "since": {"type": "string", "format": "date-time"},
            "events": {"type": "array", "items": event},
            "history": {"type": "object"},
        },
    }
    query = [
        {
            "name": "since",
            "in": "query",
            "required": False,
            "schema": {
                "anyOf": [
                    {"type": "string", "pattern": "^[0-9]{1,9}[smhd]$"},
                    {"type": "string", "format": "date-time"},
                ]
            },
            "description": "A duration back from now (90s, 30m, 24h, 7d; default 1h) or an ISO "
            "8601 time",
        },
        {"name": "pool", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "server", "in": "query", "required": False, "schema": {"type": "string"}},
    ]
    return {
        "/backendhealth/drain": member_route(
            "Drain a member: no new requests; pinned clients stay for drainTimeoutInSec"
        ),
        "/backendhealth/undrain": member_route("Put a drained member back in rotation"),
        "/backendhealth/stream": {
            "get": {
                "summary": "State changes as they happen (Server-Sent Events, `event: health`, "
                "data as in /backendhealth/events); a comment every 15 s keeps it open",
                "responses": {
                    "200": {
                        "description": "An endless text/event-stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **errors("429"),
                },
            }
        },
        "/backendhealth/events": {
            "get": {
                "summary": "State changes from the lasting history, oldest first",
                "parameters": query,
                "responses": {
                    "200": {
                        "description": "The events",
                        "content": {"application/json": {"schema": listed}},
                    },
                    **errors("400"),
                },
            }
        },
    }
