"""`probegate demo`: the sample backends, the DNS server and the real gateway, in one process.

Rules of this module:
- loopback only (see `lab.py`): the gateways load the embedded configurations from a temporary
  folder and run in this process's event loop (`runtime.run_loop`: uvloop); the backends run in
  their own threads, so a stuck backend never stalls the gateway that probes it;
- stdout carries the result (where everything listens and the tables, or one JSON document with
  `--json`); the progress display goes to stderr and is gone once the first verdicts are in;
- SIGINT (Ctrl-C) and SIGTERM stop everything cleanly, and the process exits 0; `--once` stops
  by itself after the table.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from probegate import runtime
from probegate.admin import views
from probegate.app import Gateway
from probegate.demo import render, scenarios, traffic
from probegate.demo.backends import unused_port
from probegate.demo.lab import Lab
from probegate.health.codes import State
from probegate.i18n import Lang, Words

FIRST_RESULTS_DEADLINE = 20.0  # seconds; the table is printed then, decided or not
TRAFFIC_PATHS = ("/", "/", "/", "/secure/", "/login/", "/status/", "/content/", "/public/")
LOOPBACK = "127.0.0.1"
WAITING = Words("waiting for the first probe results", "첫 프로브 결과를 기다리는 중")


@dataclass(frozen=True, slots=True)
class Options:
    once: bool = False
    json: bool = False
    lang: Lang = Lang.EN


def run(options: Options) -> int:
    """Start everything, print, and keep running until a signal (or stop at once with --once).
    Ctrl-C while starting (before the event loop owns SIGINT) is a clean stop too."""
    with suppress(KeyboardInterrupt):
        _run(options)
    return 0


def _run(options: Options) -> None:
    with (
        _gateway_logs() as log_changes,
        tempfile.TemporaryDirectory(prefix="probegate-demo-") as folder,
        Lab(datetime.now(UTC)) as lab,
    ):
        demo = _Demo(lab, _write_configs(Path(folder), lab), options, log_changes)
        runtime.run_loop(demo.main())


def _write_configs(folder: Path, lab: Lab) -> dict[str, tuple[str, Path, int]]:
    """The two configurations as YAML files: name → (sku, path, listener port)."""
    found: dict[str, tuple[str, Path, int]] = {}
    for name, build in (("demo", scenarios.demo_document), ("legacy", scenarios.legacy_document)):
        port = unused_port(LOOPBACK)
        document = build(lab, port)
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        found[name] = (str(document["sku"]), path, port)
    return found


@contextmanager
def _gateway_logs() -> Iterator[Callable[[], None]]:
    """Silence the gateway's health-change log until the table is out (the table says it all),
    then, in a running demo, show later changes on stderr; restore the logger afterwards."""
    logger = logging.getLogger("probegate")
    level, handlers = logger.level, list(logger.handlers)
    logger.setLevel(logging.ERROR)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))

    def show_changes() -> None:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)

    try:
        yield show_changes
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers


@dataclass(slots=True)
class _Running:
    name: str
    sku: str
    config: Path
    port: int
    gateway: Gateway
    task: asyncio.Task[None] | None = None
    admin: str | None = None

    def info(self) -> render.GatewayInfo:
        listener = f"http://{LOOPBACK}:{self.port}"
        return render.GatewayInfo(self.name, self.sku, listener, self.admin or "?", self.config)

    def decided(self) -> int:
        return sum(
            1
            for view in self.gateway.snapshot().targets
            if view.record.last_result is not None and view.record.state is not State.UNKNOWN
        )


@dataclass(slots=True)
class _Demo:
    lab: Lab
    configs: dict[str, tuple[str, Path, int]]
    options: Options
    log_changes: Callable[[], None]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    running: list[_Running] = field(default_factory=list)
    out: Console = field(default_factory=lambda: _console(sys.stdout))
    err: Console = field(default_factory=lambda: _console(sys.stderr))

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        try:
            if not await self._start():
                return
            gateways = tuple(r.info() for r in self.running)
            if not self.options.json:
                render.where(self.out, self.lab, gateways, self.options.lang)
                self.out.print()
            elapsed = await self._first_results()
            await self._report(gateways, elapsed)
            if not self.options.once and not self.stop.is_set():
                render.hint(self.out, gateways, self.options.lang)
                self.log_changes()
                await self.stop.wait()
        finally:
            await self._shutdown()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def _start(self) -> bool:
        """Both gateways serving; False when a signal came first. A gateway that cannot start
        raises its error here."""
        loop = asyncio.get_running_loop()
        for name, (sku, path, port) in self.configs.items():
            running = _Running(name, sku, path, port, Gateway(path))
            running.task = loop.create_task(running.gateway.serve(_ready(running)))
            self.running.append(running)
        while not all(r.admin for r in self.running):
            for r in self.running:
                if r.task is not None and r.task.done():
                    await r.task  # it ended before it was ready: raises why
            if self.stop.is_set():
                return False
            await asyncio.sleep(0.01)
        return True

    async def _first_results(self) -> float:
        """Wait until every target has its first verdict (or the deadline), showing progress."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        total = sum(len(r.gateway.snapshot().targets) for r in self.running)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   MofNCompleteColumn(), TextColumn("{task.elapsed:.1f} s"))  # fmt: skip
        shown = self.err.is_terminal  # a pipe gets no progress, not even a blank line
        with Progress(*columns, console=self.err, transient=True, disable=not shown) as progress:
            task = progress.add_task(WAITING.in_(self.options.lang), total=total)
            while not self.stop.is_set():
                done = sum(r.decided() for r in self.running)
                progress.update(task, completed=done)
                if done >= total or loop.time() - started > FIRST_RESULTS_DEADLINE:
                    break
                await asyncio.sleep(0.1)
        return loop.time() - started

    async def _report(self, gateways: tuple[render.GatewayInfo, ...], elapsed: float) -> None:
        lang = self.options.lang
        documents = {r.name: views.backend_health(r.gateway.snapshot(), lang) for r in self.running}
        answers = await traffic.get_all(LOOPBACK, self.running[0].port, TRAFFIC_PATHS)
        outcome = render.Outcome(gateways, documents, tuple(answers), elapsed)
        if self.options.json:
            data: dict[str, Any] = render.as_data(self.lab, outcome)
            print(json.dumps(data, indent=2, ensure_ascii=False), flush=True)
            return
        render.tables(self.out, self.lab, outcome, lang)
        render.traffic(self.out, outcome, lang)
        render.summary(self.out, self.lab, outcome, lang)

    async def _shutdown(self) -> None:
        for r in self.running:
            r.gateway.stopping.set()
        tasks = [r.task for r in self.running if r.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


def _ready(running: _Running) -> Callable[[str], None]:
    def ready(url: str) -> None:
        running.admin = url

    return ready


def _console(stream: Any) -> Console:
    # Piped output keeps whole lines so it stays searchable; a terminal gets its own width.
    return Console(file=stream, width=None if stream.isatty() else 200, highlight=False)
