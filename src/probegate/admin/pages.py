"""The dashboard (SPEC section 8: "the dashboard at `/`"): plain HTML, CSS and JavaScript modules.

Rules of this module:
- the files in `dashboard/` are static: they hold no health data and no secret, so they are served
  without the admin token (the page asks for the token and sends it with every API call);
- all data reaches the page through the JSON API, shaped by `views` like any other client's;
- a strict Content-Security-Policy: the page runs only its own scripts and talks only to this
  origin; no build step, nothing fetched from elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

DASHBOARD = Path(__file__).with_name("dashboard")
ASSETS = "/dashboard"  # where app.js, style.css and the other modules are served

HEADERS = {
    "Cache-Control": "no-cache",  # revalidate (ETag), so an upgraded gateway serves its own page
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


def is_public(path: str) -> bool:
    """The page and its assets need no token; every API route does (but `/healthz`)."""
    return path == "/" or path.startswith(ASSETS + "/")


class _Assets(StaticFiles):
    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(HEADERS)
        return response


def routes(page: str = "index.html") -> list[BaseRoute]:
    """`/` serves `page` (the gateway's own dashboard; `fleet.html` for `probegate dashboard`)."""

    async def index(_: Request) -> Response:
        return FileResponse(
            DASHBOARD / page, media_type="text/html; charset=utf-8", headers=HEADERS
        )

    return [
        Route("/", index, methods=["GET"]),
        Mount(ASSETS, app=_Assets(directory=DASHBOARD), name="dashboard"),
    ]
