"""Composition root: configuration → plan → store, resolver, prober, scheduler, proxy, admin API.

Rules of this module:
- the only place that knows every part; the parts know only what they are handed;
- a reload that fails keeps the running configuration and reports every problem;
- signals: SIGTERM/SIGINT stop, SIGHUP reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import uvicorn

from probegate import logsetup, metrics
from probegate.admin import operations, views
from probegate.admin.api import build_app
from probegate.admin.stream import EventHub
from probegate.admin.wire import AdminHttp
from probegate.config.compile import compile_plan
from probegate.config.effective import EffectiveProbe, effective_probes
from probegate.config.load import load_file
from probegate.config.plan import GatewayPlan
from probegate.errors import ConfigError, ProbegateError
from probegate.health import messages
from probegate.health.codes import State
from probegate.health.prober import Prober
from probegate.health.result import ProbeResult
from probegate.health.scheduler import Scheduler
from probegate.health.transitions import Event, Record
from probegate.logsetup import LogOptions
from probegate.proxy.listeners import Endpoint
from probegate.proxy.server import Proxy
from probegate.resolver import Resolver
from probegate.runtime import GcFreezer, run_loop
from probegate.state.history import History
from probegate.state.snapshot import Snapshot
from probegate.state.store import HealthStore
from probegate.workers.child import worker_main
from probegate.workers.launcher import fork_launcher
from probegate.workers.pool import Launcher, WorkerPool, worker_count

log = logging.getLogger("probegate")


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerStart:
    """How `probegate run` starts worker processes (several: see probegate/workers)."""

    launcher: Launcher
    count: int
    fixed: bool  # `--workers` was given: a reload does not read the file's `workers`


class Gateway:
    """A running gateway: what `probegate run` starts and the admin API reads. Without `workers`
    the data path runs in this process; with it, in worker processes this one supervises."""

    def __init__(
        self,
        config: Path,
        parameters: Mapping[str, object] | None = None,
        *,
        workers: WorkerStart | None = None,
    ) -> None:
        self.config_path = config
        self.parameters = parameters
        loaded = load_file(config, parameters)
        for line in loaded.warnings:
            log.warning("%s", line)
        self._plan = compile_plan(loaded)
        self.history = _open_history(self._plan)
        self.hub = EventHub()  # live events for GET /backendhealth/stream
        store = HealthStore(
            self._plan.tier,
            effective_probes(self._plan),
            monotonic=time.monotonic,
            on_event=self._event,
        )
        self.store = store
        self._prober = Prober(Resolver(self._plan.dns_servers))
        self.scheduler = Scheduler(self.store, self._prober)
        self._proxy: Proxy | None = None
        self.fleet: WorkerPool | None = None  # the worker processes, when they serve
        self._workers = workers
        self.alone_by_choice = False  # `probegate run` with one worker: say so if that changes
        if workers is not None:
            self.fleet = WorkerPool(self._plan, workers.count, workers.launcher, store, store.eject)
        else:
            self._proxy = Proxy(self._plan, self.store, self._prober.resolver)
        self.endpoints: list[Endpoint] = []
        self.stopping = asyncio.Event()
        # (when the running configuration was adopted, whether the last attempt passed)
        self.last_reload = (time.time(), True)
        self.last_changes: dict[str, object] = {}  # what the last adopted reload changed
        self._scheduler_task: asyncio.Task[None] | None = None

    @property
    def plan(self) -> GatewayPlan:
        return self._plan

    @property
    def prober(self) -> Prober:
        return self._prober

    @property
    def proxy(self) -> Proxy:
        """The data path, when it runs in this process."""
        if self._proxy is None:
            raise RuntimeError("the data path runs in worker processes")
        return self._proxy

    def workers(self) -> list[dict[str, object]] | None:
        """The worker processes for /healthz (None: the data path runs in this process)."""
        if self.fleet is None:
            return None
        return [
            {"worker": r.worker, "pid": r.pid, "state": r.state, "restarts": r.restarts}
            for r in self.fleet.rows()
        ]

    def probing(self) -> bool:
        """False once the scheduler has stopped (it should never, while the gateway runs)."""
        return self._scheduler_task is not None and not self._scheduler_task.done()

    def prober_problem(self) -> str | None:
        """Why backend health is not being measured (for `/healthz`), or None."""
        if not self.probing():
            return "the prober has stopped; backend health is no longer measured"
        return self.scheduler.stalled()

    def snapshot(self) -> Snapshot:
        """The report as of now, with each server's availability from the lasting history
        (computed for the servers a reader looks up: /healthz and /metrics never do)."""
        return dataclasses.replace(self.store.view(), availability=self.history.shares(time.time()))

    async def metrics(self) -> bytes:
        if self.fleet is None:
            return metrics.render(self)
        return metrics.render(self, await self.fleet.traffic(), self.fleet.rows())

    def histories(self) -> dict[str, tuple[ProbeResult, ...]]:
        return {str(p.target.key): self.store.history_of(p.target.key) for p in self.store.probes}

    async def reload(self) -> list[str]:
        """Adopt the file as it is now (`_reload`), and remember how that went for /metrics."""
        problems = await self._reload()
        self.last_reload = (self.last_reload[0] if problems else time.time(), not problems)
        return problems

    async def _reload(self) -> list[str]:
        """Adopt the file as it is now; on any problem keep running the old plan."""
        try:
            loaded = load_file(self.config_path, self.parameters)
            plan = compile_plan(loaded)
        except ConfigError as exc:
            log.error("reload refused, the running configuration stays: %s", exc)
            return [str(issue) for issue in exc.issues]
        if plan.admin != self._plan.admin:
            problem = "admin: the admin listener and its token change only with a restart"
            log.error("reload refused, the running configuration stays: %s", problem)
            return [problem]
        if plan.dns_servers != self._plan.dns_servers:
            # Another resolver: the old one's addresses are not carried over, only which names
            # it had resolved, so a name the new one cannot answer reads as lost (Unknown).
            # (Worker processes replace their own when they adopt the plan.)
            known = self._prober.resolver.resolved_names()
            self._prober.resolver = Resolver(plan.dns_servers, resolved_before=known)
            if self._proxy is not None:
                self._proxy.connector.resolver = self._prober.resolver
        try:
            if self.fleet is not None:
                sockets = await self.fleet.reload(plan, self._worker_count(plan))
            else:
                sockets = await self.proxy.reload(plan)
        except OSError as exc:
            problem = f"httpListeners: cannot listen: {exc.strerror or exc}"
            log.error("reload refused, the running configuration stays: %s", problem)
            return [problem]
        self._plan = plan
        summary = self.store.reload(plan.tier, effective_probes(plan))
        self.scheduler.reload(summary)
        if self.fleet is not None:  # the workers adopted the plan before these routes
            for problem in await self.fleet.settle():
                log.error("reload: %s", problem)
        elif self.alone_by_choice and worker_count(plan.workers) != 1:
            log.warning(
                "workers: %s takes effect at the next start (this gateway serves in one "
                "process; moving to worker processes needs a restart)",
                "auto" if plan.workers is None else plan.workers,
            )
        added = [e.url for e in sockets.bind]
        removed = [e.url for e in (*sockets.close_first, *sockets.close_after)]
        self.last_changes = {"listenersAdded": added, "listenersRemoved": removed}
        self.last_changes |= summary.as_json()
        listeners = f"listeners +{len(added)} -{len(removed)}; " if added or removed else ""
        log.info("reloaded %s: %s%s", self.config_path, listeners, summary.describe())
        return []

    def _worker_count(self, plan: GatewayPlan) -> int:
        start = self._workers
        assert start is not None
        return start.count if start.fixed else worker_count(plan.workers)

    def events(self, since: float, pool: str | None, server: str | None) -> list[Event]:
        """State changes from the lasting history (called off the event loop)."""
        return self.history.events(since, pool, server)

    def history_problem(self) -> str | None:
        return self.history.problem

    def drain(self, pool: str, address: str, drained: bool) -> list[str]:
        """Drain a pool member (or put it back): no new requests, pinned clients drain. Returns
        the targets it applied to (none: no such member)."""
        keys = self.store.set_drained(pool, address, drained)
        if self.fleet is not None:
            self.fleet.drain(keys, drained)
        else:
            self.proxy.drain(keys, drained)
        if keys:
            verb = "draining" if drained else "back in rotation"
            log.info("%s through the admin API: %s", verb, ", ".join(map(str, keys)))
        return [key.server for key in keys]

    def reopen_logs(self) -> None:
        """SIGUSR1: reopen the access-log file (after a rotation moved it away)."""
        if self.fleet is not None:
            self.fleet.reopen_logs()
            log.info("access log reopened")
        elif self.proxy.access is not None:
            self.proxy.access.reopen()
            log.info("access log reopened")

    def _event(self, event: Event, record: Record, probe: EffectiveProbe) -> None:
        self.history.add(event)
        self.hub.publish(operations.event_json(event))
        detail = messages.message(record.reason, views.facts_for(record, probe))
        # A server coming back is good news (INFO); one going down or unknown is a WARNING.
        level = logging.INFO if event.to_state is State.HEALTHY else logging.WARNING
        log.log(
            level,
            "health %s: %s → %s (%s) %s",
            event.target,
            event.from_state.value,
            event.to_state.value,
            event.to_reason.value,
            detail,
        )

    async def serve(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Run until `stopping` is set: proxy, scheduler and admin API, in this event loop."""
        admin = self._plan.admin
        try:
            # The listeners first: their ports are fixed, while an admin port 0 takes any free
            # port and could otherwise take one a listener was configured with.
            self.endpoints = await self._start_data_path()
        except OSError as exc:
            await self._stop_data_path()
            raise ProbegateError(f"a listener cannot bind: {exc.strerror or exc}") from exc
        except ProbegateError:
            await self._stop_data_path()
            raise
        try:
            sock = bind(admin.bind_address, admin.port)
        except ProbegateError:
            await self._stop_data_path()
            raise
        host, port = sock.getsockname()[:2]
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        server = _QuietServer(
            uvicorn.Config(
                build_app(self, admin.token),
                http=AdminHttp,  # JSON answers even to requests it cannot parse
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        freezer = GcFreezer(asyncio.get_running_loop()).start()
        scheduler = asyncio.get_running_loop().create_task(self.scheduler.run())
        self._scheduler_task = scheduler
        api = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started and not api.done():
            await asyncio.sleep(0.01)
        if api.done():
            await api
        if on_ready is not None:
            on_ready(url)
        await self.stopping.wait()
        await self._stop_data_path()
        self.history.close()
        self.hub.close()  # open event streams end, so uvicorn's shutdown does not wait on them
        server.should_exit = True
        freezer.stop()
        scheduler.cancel()
        await self.scheduler.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await scheduler
        await api  # uvicorn's own shutdown closes its listening socket; wait for it

    async def _start_data_path(self) -> list[Endpoint]:
        return await (self.fleet.start() if self.fleet is not None else self.proxy.start())

    async def _stop_data_path(self) -> None:
        await (self.fleet.stop() if self.fleet is not None else self.proxy.stop())


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the gateway owns SIGTERM, SIGINT and SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _open_history(plan: GatewayPlan) -> History:
    return History(plan.history.path, retention_days=plan.history.retention_days)


def bind(address: str, port: int) -> socket.socket:
    try:
        return socket.create_server((address, port), reuse_port=False)
    except OSError as exc:
        raise ProbegateError(
            f"the admin API cannot listen on {address}:{port}: {exc.strerror}"
        ) from exc


async def probe_all_once(plan: GatewayPlan) -> list[tuple[EffectiveProbe, ProbeResult]]:
    """One probe of every target, all at once (bounded by the prober's connect cap)."""
    prober = Prober(Resolver(plan.dns_servers))
    probes = effective_probes(plan)
    outcomes = await asyncio.gather(*(prober.probe(p) for p in probes))
    return [(p, o.result) for p, o in zip(probes, outcomes, strict=True)]


def run(
    config: Path,
    parameters: Mapping[str, object] | None = None,
    logging_options: LogOptions | None = None,
    workers: int | None = None,
) -> int:
    """`probegate run` (`workers`: `--workers`, over the file's): returns the process exit code."""
    options, wanted = _start_options(config, parameters, logging_options or LogOptions())
    logsetup.configure(options)
    count = workers if workers is not None else worker_count(wanted)
    start = None
    if count > 1:
        # Before any thread or event loop exists: the launcher forks the workers (launcher.py).
        start = WorkerStart(Launcher(*fork_launcher(worker_main)), count, workers is not None)

    async def main() -> None:
        try:
            gateway = Gateway(config, parameters, workers=start)
        except BaseException:
            if start is not None:  # the launcher ends when its socket closes
                start.launcher.close()
            raise
        gateway.alone_by_choice = start is None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, gateway.stopping.set)
        loop.add_signal_handler(signal.SIGINT, gateway.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(gateway.reload()))
        loop.add_signal_handler(signal.SIGUSR1, gateway.reopen_logs)

        def ready(url: str) -> None:
            listeners = ", ".join(e.url for e in gateway.endpoints) or "none"
            print(
                f"probegate: listening on {listeners}; probing {len(gateway.plan.targets)}"
                f" targets; admin API at {url}",
                flush=True,
            )

        await gateway.serve(ready)

    run_loop(main())
    log.info("stopped")
    return 0


def _start_options(
    config: Path, parameters: Mapping[str, object] | None, given: LogOptions
) -> tuple[LogOptions, int | None]:
    """The command line's choices over the file's `logging:` section (read before the gateway
    starts, so its very first lines are already in the chosen format), and the file's
    `workers` (None: auto)."""
    try:
        model = load_file(config, parameters).model
    except ConfigError:  # the gateway itself reports every problem of the file, in a moment
        return given.over(None, None), 1
    section = model.logging
    workers = model.workers if isinstance(model.workers, int) else None
    return given.over(section.level.value, section.format.value), workers
