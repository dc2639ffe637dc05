"""The admin API (SPEC section 8): backend health, on-demand probes, reload, liveness, OpenAPI,
and the dashboard's static files (`pages`).

Rules of this module:
- a Starlette app served by uvicorn (`wire.AdminHttp`) in the gateway's own event loop; the
  proxy's hot path is elsewhere and never goes through here;
- it reads state through `GatewayAccess` only, and shapes JSON through `views` only;
- every answer is JSON (`answers`), errors `{"error": {"code", "message"}}` with the right status
  and never an exception's text;
- `guard.Guard` runs first: the `Host` check (DNS rebinding), the bearer token, and for every POST
  the `Origin` and `Content-Type` checks (cross-site writes);
- on-demand probes run within their own `Budget` (429 beyond it), never in the scheduled probes'
  capacity.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from probegate import __version__
from probegate.admin import openapi, operations, pages, views
from probegate.admin.answers import Refused, answer, error
from probegate.admin.body import read_json
from probegate.admin.guard import Guard, Policy
from probegate.admin.ondemand_request import parse_ondemand
from probegate.admin.stream import EventHub
from probegate.buildinfo import data_path
from probegate.config import syntax
from probegate.config.effective import EffectiveProbe
from probegate.config.plan import GatewayPlan
from probegate.health.codes import Reason
from probegate.health.evaluate import Outcome
from probegate.health.ondemand import (
    Budget,
    OnDemandBusy,
    OnDemandConflict,
    OnDemandError,
    OnDemandNotFound,
    longest_timeout,
    probe_now,
)
from probegate.health.prober import Prober
from probegate.health.result import ProbeResult
from probegate.health.transitions import Event
from probegate.i18n import Lang
from probegate.metrics import CONTENT_TYPE as METRICS_TYPE
from probegate.state.snapshot import Snapshot

__all__ = ["GatewayAccess", "build_app", "error", "ondemand_document"]

log = logging.getLogger("probegate.admin")


class GatewayAccess(Protocol):
    """What the admin API may see and do of a running gateway."""

    @property
    def plan(self) -> GatewayPlan: ...
    @property
    def prober(self) -> Prober: ...
    def snapshot(self) -> Snapshot: ...
    def histories(self) -> dict[str, tuple[ProbeResult, ...]]: ...
    async def reload(self) -> list[str]: ...
    def prober_problem(self) -> str | None: ...
    async def metrics(self) -> bytes: ...
    def workers(self) -> list[dict[str, object]] | None: ...
    def drain(self, pool: str, address: str, drained: bool) -> list[str]: ...
    def events(self, since: float, pool: str | None, server: str | None) -> list[Event]: ...
    def history_problem(self) -> str | None: ...
    @property
    def last_changes(self) -> dict[str, object]: ...
    @property
    def hub(self) -> EventHub: ...


LANGS = {lang.value: lang for lang in Lang}


def language(request: Request) -> Lang:
    asked = request.query_params.get("lang")
    if asked is not None:
        if asked not in LANGS:
            raise Refused(
                400, "InvalidQuery", f"lang takes 'en' or 'ko', got {syntax.shown(asked)}"
            )
        return LANGS[asked]
    header = request.headers.get("accept-language", "")
    return Lang.KO if header.strip().lower().startswith("ko") else Lang.EN


def stale_problem(snapshot: Snapshot) -> str | None:
    """Probes that start but never finish leave their targets without results: `probe-stale`."""
    stale = sum(
        1 for v in snapshot.targets if v.record.reason is Reason.PROBE_STALE and not v.previous
    )
    if not stale:
        return None
    return (
        f"{stale} of {len(snapshot.targets)} targets have had no probe result for 3 intervals "
        "(probe-stale): the prober is stuck or overloaded"
    )


def workers_problem(workers: list[dict[str, object]] | None) -> str | None:
    """With worker processes: none of them serving (all starting, or draining at stop)."""
    if workers is None or any(w["state"] == "running" for w in workers):
        return None
    states = ", ".join(f"worker {w['worker']} {w['state']}" for w in workers) or "none left"
    return f"no worker process is serving traffic ({states})"


def _about(gateway: GatewayAccess, data_path_json: dict[str, object]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": __version__,
        "targets": len(gateway.plan.targets),
        "dataPath": data_path_json,
    }
    workers = gateway.workers()
    if workers is not None:  # the worker processes, when the data path runs in them
        body["workers"] = workers
    return body


def build_app(gateway: GatewayAccess, token: str | None) -> Starlette:
    budget = Budget()
    data_path_json = data_path().as_json()  # what this process loaded: it does not change

    async def healthz(_: Request) -> Response:
        body = _about(gateway, data_path_json)
        problem = (
            gateway.prober_problem()
            or workers_problem(body.get("workers"))
            or stale_problem(gateway.snapshot())
        )
        if problem is not None:
            return answer({"status": "failing", "problem": problem, **body}, 503)
        return answer({"status": "ok", **body})

    async def backend_health(request: Request) -> Response:
        expand = request.query_params.get("expand")
        if expand not in (None, "history"):
            shown = syntax.shown(expand or "")
            return error(400, "InvalidQuery", f"expand takes 'history', got {shown}")
        lang = language(request)
        history = gateway.histories() if expand == "history" else None
        return answer(views.backend_health(gateway.snapshot(), lang, history=history))

    async def ondemand(request: Request) -> Response:
        lang = language(request)
        body = await read_json(request)
        plan = gateway.plan
        try:
            pool, settings, overrides = parse_ondemand(body, longest_timeout(plan))
            results = await probe_now(
                gateway.prober, plan, pool, settings, overrides, budget=budget
            )
        except OnDemandBusy as busy:
            headers = {"Retry-After": str(busy.retry_after)}
            return error(429, "TooManyRequests", str(busy), headers)
        except OnDemandNotFound as exc:
            return error(404, "NotFound", str(exc))
        except OnDemandConflict as exc:
            return error(409, "Conflict", str(exc))
        except OnDemandError as exc:
            return error(400, "InvalidOnDemandProbe", str(exc))
        return answer(ondemand_document(pool, settings, results, lang))

    async def reload(request: Request) -> Response:
        if await read_json(request) != {}:
            return error(400, "InvalidJson", "send an empty JSON object: {}")
        problems = await gateway.reload()
        if problems:
            message = "; ".join(problems)
            found = {"code": "InvalidConfiguration", "message": message, "problems": problems}
            return answer({"error": found}, 422)
        changes = gateway.last_changes
        return answer(
            {"status": "reloaded", "targets": len(gateway.plan.targets), "changes": changes}
        )

    async def metrics(_: Request) -> Response:
        return Response(await gateway.metrics(), media_type=METRICS_TYPE)

    async def openapi_document(_: Request) -> Response:
        host_checked = policy.hosts is not None
        return answer(openapi.document(gateway.plan, token=bool(token), host_checked=host_checked))

    async def not_found(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "NotFound" if exc.status_code == 404 else "MethodNotAllowed"
        return error(exc.status_code, code, str(exc.detail), exc.headers)  # 405 keeps Allow

    async def refused(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return exc.response()

    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("admin API: %s %s failed", request.method, request.url.path, exc_info=exc)
        return error(500, "InternalError", "the request failed inside the gateway (logged)")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/backendhealth", backend_health, methods=["GET"]),
        Route("/backendhealth/ondemand", ondemand, methods=["POST"]),
        Route("/reload", reload, methods=["POST"]),
        Route("/openapi.json", openapi_document, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),  # Prometheus text format, SPEC section 10
        *operations.routes(gateway),  # drain, undrain, the lasting history's events
        *pages.routes(),  # the dashboard: `/` and its assets under `/dashboard/`
    ]
    admin = gateway.plan.admin
    writes = {r.path for r in routes if isinstance(r, Route) and "POST" in (r.methods or ())}
    policy = Policy.of(admin.bind_address, token, admin.allowed_hosts, writes)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, policy=policy)],
        exception_handlers={HTTPException: not_found, Refused: refused, Exception: crashed},
    )
    app.router.redirect_slashes = False  # `/reload/` is a JSON 404, not a bare 307 elsewhere
    return app


def ondemand_document(
    pool: str, settings: str, results: list[tuple[EffectiveProbe, Outcome]], lang: Lang
) -> dict[str, Any]:
    servers = [views.ondemand_server(probe, outcome.result, lang) for probe, outcome in results]
    return {
        "backendAddressPool": views.resource("backendAddressPools", pool),
        "backendHealthHttpSettings": {
            "backendHttpSettings": views.resource("backendHttpSettingsCollection", settings),
            "servers": servers,
        },
    }
