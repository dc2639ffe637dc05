"""The admin API (SPEC section 8): backend health, on-demand probes, reload, liveness, OpenAPI,
and the dashboard's static files (`pages`).

Rules of this module:
- a Starlette app served by uvicorn in the gateway's own event loop; the proxy's hot path is
  elsewhere and never goes through here;
- it reads state through `GatewayAccess` only, and shapes JSON through `views` only;
- every error is JSON `{"error": {"code", "message"}}` with the right status;
- with a token configured, every route but `/healthz` and the dashboard's static files needs
  `Authorization: Bearer <token>` (the page itself asks for the token and sends it).
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from probegate import __version__
from probegate.admin import openapi, pages, views
from probegate.admin.ondemand_request import parse_ondemand
from probegate.config.effective import EffectiveProbe
from probegate.config.plan import GatewayPlan
from probegate.health.ondemand import OnDemandError, probe_now
from probegate.health.prober import Outcome, Prober
from probegate.health.reasons import Lang
from probegate.health.result import ProbeResult
from probegate.state.snapshot import Snapshot


class GatewayAccess(Protocol):
    """What the admin API may see and do of a running gateway."""

    @property
    def plan(self) -> GatewayPlan: ...
    @property
    def prober(self) -> Prober: ...
    def snapshot(self) -> Snapshot: ...
    def histories(self) -> dict[str, tuple[ProbeResult, ...]]: ...
    async def reload(self) -> list[str]: ...
    def probing(self) -> bool: ...
    def metrics(self) -> bytes: ...


METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def language(request: Request) -> Lang:
    asked = request.query_params.get("lang") or request.headers.get("accept-language", "")
    return Lang.KO if asked.strip().lower().startswith("ko") else Lang.EN


def build_app(gateway: GatewayAccess, token: str | None) -> Starlette:
    async def healthz(_: Request) -> Response:
        body: dict[str, Any] = {"version": __version__, "targets": len(gateway.plan.targets)}
        if not gateway.probing():
            problem = "the prober has stopped; backend health is no longer measured"
            return JSONResponse({"status": "failing", "problem": problem, **body}, status_code=503)
        return JSONResponse({"status": "ok", **body})

    async def backend_health(request: Request) -> Response:
        expand = request.query_params.get("expand", "")
        if expand not in ("", "history"):
            return error(400, "InvalidQuery", f"expand takes 'history', got '{expand}'")
        history = gateway.histories() if expand == "history" else None
        return JSONResponse(
            views.backend_health(gateway.snapshot(), language(request), history=history)
        )

    async def ondemand(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError as exc:
            return error(
                400, "InvalidJson", f"the body is not JSON: {exc.msg} at position {exc.pos}"
            )
        except RecursionError:
            return error(400, "InvalidJson", "the body is nested too deeply")
        try:
            pool, settings, overrides = parse_ondemand(body)
            results = await probe_now(gateway.prober, gateway.plan, pool, settings, overrides)
        except OnDemandError as exc:
            return error(400, "InvalidOnDemandProbe", str(exc))
        return JSONResponse(ondemand_document(pool, settings, results, language(request)))

    async def reload(_: Request) -> Response:
        problems = await gateway.reload()
        if problems:
            return error(422, "InvalidConfiguration", "; ".join(problems))
        return JSONResponse({"status": "reloaded", "targets": len(gateway.plan.targets)})

    async def metrics(_: Request) -> Response:
        return Response(gateway.metrics(), media_type=METRICS_TYPE)

    async def openapi_document(_: Request) -> Response:
        return JSONResponse(openapi.DOCUMENT)

    async def not_found(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "NotFound" if exc.status_code == 404 else "MethodNotAllowed"
        answer = error(exc.status_code, code, str(exc.detail))
        answer.headers.update(exc.headers or {})  # 405 keeps its Allow header
        return answer

    async def crashed(_: Request, exc: Exception) -> Response:
        return error(500, "InternalError", f"{type(exc).__name__}: {exc}")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/backendhealth", backend_health, methods=["GET"]),
        Route("/backendhealth/ondemand", ondemand, methods=["POST"]),
        Route("/reload", reload, methods=["POST"]),
        Route("/openapi.json", openapi_document, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),  # Prometheus text format, SPEC section 10
        *pages.routes(),  # the dashboard: `/` and its assets under `/dashboard/`
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(BearerToken, token=token)] if token else [],
        exception_handlers={HTTPException: not_found, Exception: crashed},
    )


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


class BearerToken(BaseHTTPMiddleware):
    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self._expected = token.encode()

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path == "/healthz" or pages.is_public(request.url.path):
            return await call_next(request)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        valid = hmac.compare_digest(given.strip().encode(), self._expected)
        if scheme.lower() != "bearer" or not valid:  # the scheme is case-insensitive (RFC 9110)
            answer = error(401, "Unauthorized", "send 'Authorization: Bearer <admin.token>'")
            answer.headers["WWW-Authenticate"] = 'Bearer realm="probegate"'
            return answer
        return await call_next(request)
