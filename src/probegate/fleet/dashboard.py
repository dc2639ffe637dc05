"""`probegate dashboard`: the fleet view in a browser, served by a small local server that asks
every instance itself (docs/decisions.md "The fleet dashboard is a local command").

A browser may not read another origin's admin API (it sends no CORS headers and refuses a foreign
`Origin` on writes), so the page talks only to this server: `GET /fleet?lang=` asks every
instance at once (`fetch`) and answers the joined document (`join`); `/` is `fleet.html`, its
scripts and styles are the gateway dashboard's own files.

Rules of this module:
- the instances' tokens stay in this process; the page gets the joined document only;
- the server has its own random token, printed once in the URL's fragment (`#token=…`, never
  sent over the wire by a browser), checked by the admin API's own `Guard`; the page and its
  assets are public, `/fleet` is not;
- read-only: no route takes POST; it listens on loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import socket
from collections.abc import Callable, Iterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from probegate.admin import pages
from probegate.admin.answers import answer, error
from probegate.admin.guard import Guard, Policy
from probegate.admin.wire import AdminHttp
from probegate.errors import ProbegateError
from probegate.fleet import fetch, join
from probegate.fleet.instances import Instance
from probegate.i18n import Lang

LANGS = {lang.value: lang for lang in Lang}
# Each instance gets 5 s: the page gives up on /fleet after 10 s, and must still get the answers
# of the instances that did answer when one of them hangs.
TIMEOUT = 5.0


def new_token() -> str:
    return secrets.token_urlsafe(24)


def build_app(
    instances: Sequence[Instance], token: str, bind: str, timeout: float = TIMEOUT
) -> Starlette:
    async def fleet(request: Request) -> Response:
        asked = request.query_params.get("lang", "en")
        if asked not in LANGS:
            return error(400, "InvalidQuery", "lang takes 'en' or 'ko'")
        lang = LANGS[asked]
        reports = await asyncio.to_thread(fetch.ask_all, instances, lang, timeout)
        return answer(join.join(reports, lang))

    async def not_found(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "NotFound" if exc.status_code == 404 else "MethodNotAllowed"
        return error(exc.status_code, code, str(exc.detail), exc.headers)

    routes = [Route("/fleet", fleet, methods=["GET"]), *pages.routes("fleet.html")]
    policy = Policy.of(bind, token, (), set())
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, policy=policy)],
        exception_handlers={HTTPException: not_found},
    )
    app.router.redirect_slashes = False
    return app


def page_url(sock: socket.socket, token: str) -> str:
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # any address: loopback works
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/#token={token}"


def serve(
    instances: Sequence[Instance],
    bind: str,
    port: int,
    on_ready: Callable[[str], None],
    token: str | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then return (exit 0: stopping is what was asked)."""
    token = token or new_token()
    try:
        sock = socket.create_server((bind, port))
    except OSError as exc:
        raise ProbegateError(
            f"the fleet dashboard cannot listen on {bind}:{port}: {exc.strerror or exc}"
        ) from exc
    on_ready(page_url(sock, token))
    server = _Server(
        uvicorn.Config(
            build_app(instances, token, bind),
            http=AdminHttp,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    asyncio.run(_serve(server, sock))


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: setattr(server, "should_exit", True))
    await server.serve(sockets=[sock])


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: theirs re-raise the signal after the shutdown,
    which would end the command with 130 or a SIGTERM death instead of a clean exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
