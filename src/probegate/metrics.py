"""Prometheus metrics (SPEC section 10), computed when scraped.

Rules of this module:
- nothing is counted here: at scrape time it reads the health snapshot, the store's probe result
  counters and the proxy's plain integer counters, so the data path pays nothing for metrics;
- names follow the model's metrics with a `probegate_` prefix; labels use configuration names
  (`backend_settings_pool` is `<pool>~<settings>`, as the model reports it);
- status classes are `1xx` … `5xx` (`other` for anything outside 100-599);
- one series per server in `probegate_backend_server_health`, valued 1, whose `state` and `reason`
  labels say where it stands now (the shape alert rules match on); the process collector and
  `probegate_build_info` come with every scrape.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from probegate import __version__
from probegate.buildinfo import data_path
from probegate.config.plan import TargetKey
from probegate.health.codes import State
from probegate.histogram import BUCKETS
from probegate.proxy.server import Proxy
from probegate.state.snapshot import Snapshot
from probegate.state.store import HealthStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CLASSES = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")
_SERVER = ["pool", "settings", "server"]


class Source(Protocol):
    """What the metrics read: the running gateway provides all of it (the data path's counters
    come separately, as `Traffic`: from this process's proxy, or summed over the workers)."""

    @property
    def store(self) -> HealthStore: ...

    @property
    def proxy(self) -> Proxy:
        """The data path in this process (read when no `Traffic` is given)."""
        ...

    @property
    def last_reload(self) -> tuple[float, bool]:
        """(Unix time of the last successful load or reload, whether the last attempt passed)."""
        ...

    def snapshot(self) -> Snapshot: ...


@dataclass(slots=True)
class Traffic:
    """The data path's counters as of one scrape: one process's, or the sum of the workers'."""

    responses: dict[str, list[int]] = field(default_factory=dict)  # listener → per class
    # (listener, pool, settings) → (observations per bucket, their sum): plain values, so a
    # worker's copy pickles whatever the data path's `Histogram` is compiled to
    durations: dict[tuple[str, str, str], tuple[list[int], float]] = field(default_factory=dict)
    # target → (answers per status class, first-byte latency count, its sum in seconds)
    servers: dict[TargetKey, tuple[list[int], int, float]] = field(default_factory=dict)
    connects: int = 0
    connect_seconds: float = 0.0
    failed: int = 0
    connections: int = 0
    cpu: float = 0.0  # seconds of CPU the process used (a worker's, for per-worker series)

    def add(self, other: Traffic) -> None:
        for name, counts in other.responses.items():
            mine = self.responses.setdefault(name, [0] * len(counts))
            self.responses[name] = [a + b for a, b in zip(mine, counts, strict=True)]
        for labels, (counts, seconds) in other.durations.items():
            had, total = self.durations.get(labels, ([0] * len(counts), 0.0))
            summed = [a + b for a, b in zip(had, counts, strict=True)]
            self.durations[labels] = (summed, total + seconds)
        for key, (statuses, count, seconds) in other.servers.items():
            before = self.servers.get(key, ([0] * len(statuses), 0, 0.0))
            summed = [a + b for a, b in zip(before[0], statuses, strict=True)]
            self.servers[key] = (summed, before[1] + count, before[2] + seconds)
        self.connects += other.connects
        self.connect_seconds += other.connect_seconds
        self.failed += other.failed
        self.connections += other.connections
        self.cpu += other.cpu


def traffic_of(proxy: Proxy, cpu: float = 0.0) -> Traffic:
    """A copy of a proxy's counters (taken in its event loop, so consistent)."""
    durations = {labels: (list(h.counts), h.sum) for labels, h in proxy.durations.items()}
    return Traffic(
        responses={name: list(counts) for name, counts in proxy.responses.items()},
        durations=durations,
        servers={
            key: (list(pool.statuses), pool.latency_count, pool.latency_sum)
            for key, pool in proxy.pools.items()
        },
        connects=proxy.connector.connects,
        connect_seconds=proxy.connector.connect_seconds,
        failed=proxy.failed,
        connections=len(proxy.connections),
        cpu=cpu,
    )


class WorkerRow(NamedTuple):
    """One worker process as /metrics and /healthz show it."""

    worker: int  # its slot: 1 … N, kept by the process that replaces it
    pid: int | None
    state: str  # starting, running, draining, replacing
    restarts: int  # times this slot's process was replaced after dying
    cpu: float | None  # seconds of CPU, as of the last scrape that reached it


def render(
    source: Source, traffic: Traffic | None = None, workers: Sequence[WorkerRow] | None = None
) -> bytes:
    """The exposition: `traffic` summed over the workers (None: this process's proxy), and the
    `workers` (None: one process serves, no worker processes)."""
    if traffic is None:
        traffic = traffic_of(source.proxy)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_GatewayCollector(source, traffic, workers))
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, …_resident_memory_bytes, …
    return generate_latest(registry)


class _GatewayCollector(Collector):
    def __init__(
        self, source: Source, traffic: Traffic, workers: Sequence[WorkerRow] | None
    ) -> None:
        self._source = source
        self._traffic = traffic
        self._workers = workers

    def collect(self) -> Iterator[Metric]:
        yield from _about(self._source)
        snapshot = self._source.snapshot()  # one view of the store for the whole scrape
        yield from _health(snapshot)
        yield from _servers(snapshot)
        yield from _probe_results(self._source.store)
        yield from _traffic(self._traffic)
        yield from _durations(self._traffic)
        yield from _worker_series(self._workers)


def _worker_series(workers: Sequence[WorkerRow] | None) -> Iterator[Metric]:
    count = GaugeMetricFamily(
        "probegate_workers",
        "Worker processes running the data path now (1 when the gateway serves in one process)",
    )
    count.add_metric([], 1 if workers is None else sum(w.state == "running" for w in workers))
    yield count
    if workers is None:
        return
    restarts = CounterMetricFamily(
        "probegate_worker_restarts",
        "Times a worker process died and was replaced, per worker slot",
        labels=["worker"],
    )
    cpu = CounterMetricFamily(
        "probegate_worker_cpu_seconds",
        "CPU time used by each worker process (the current one of its slot)",
        labels=["worker"],
    )
    for row in workers:
        restarts.add_metric([str(row.worker)], row.restarts)
        if row.cpu is not None:
            cpu.add_metric([str(row.worker)], row.cpu)
    yield from (restarts, cpu)


DATA_PATH = data_path().mode  # what this process loaded: it does not change


def _about(source: Source) -> Iterator[Metric]:
    build = GaugeMetricFamily(
        "probegate_build_info",
        "The running probegate: always 1 (data_path: compiled, interpreted or stale)",
        labels=["version", "python", "data_path"],
    )
    build.add_metric([__version__, platform.python_version(), DATA_PATH], 1)
    at, passed = source.last_reload
    ok = GaugeMetricFamily(
        "probegate_config_last_reload_successful",
        "1 when the last load or reload of the configuration file was adopted, 0 when refused",
    )
    ok.add_metric([], 1 if passed else 0)
    stamp = GaugeMetricFamily(
        "probegate_config_last_reload_success_timestamp_seconds",
        "When the running configuration was adopted (start or reload), Unix time",
    )
    stamp.add_metric([], at)
    yield from (build, ok, stamp)


def _servers(snapshot: Snapshot) -> Iterator[Metric]:
    health = GaugeMetricFamily(
        "probegate_backend_server_health",
        '1 for each server, its state and reason now (alert on state="Unhealthy")',
        labels=[*_SERVER, "state", "reason"],
    )
    routable = GaugeMetricFamily(
        "probegate_backend_server_routable",
        "1 when the server takes new requests now, else 0",
        labels=_SERVER,
    )
    for view in snapshot.targets:
        key = list(view.probe.target.key)
        health.add_metric([*key, view.record.state.value, view.record.reason.value], 1)
        routable.add_metric(key, 1 if view.routing.routable else 0)
    yield from (health, routable)


def _durations(traffic: Traffic) -> Iterator[Metric]:
    family = HistogramMetricFamily(
        "probegate_request_duration_seconds",
        "From a request's first byte to the last byte of its answer, per listener and the pool "
        "and settings it was sent to (empty for the gateway's own answers)",
        labels=["listener", "pool", "settings"],
    )
    for labels, (counts, seconds) in sorted(traffic.durations.items()):
        family.add_metric(list(labels), _cumulative(counts), seconds)
    yield family


def _cumulative(counts: list[int]) -> list[tuple[str, float]]:
    """(`le`, observations ≤ le) for every bound and `+Inf`, from per-bucket counts."""
    running, out = 0, []
    for bound, count in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
        running += count
        out.append((bound, float(running)))
    return out


def _health(snapshot: Snapshot) -> Iterator[Metric]:
    healthy = GaugeMetricFamily(
        "probegate_healthy_host_count",
        "Servers of a pool, per settings, that pass their probe",
        labels=["backend_settings_pool"],
    )
    unhealthy = GaugeMetricFamily(
        "probegate_unhealthy_host_count",
        "Servers of a pool, per settings, that fail their probe",
        labels=["backend_settings_pool"],
    )
    duration = GaugeMetricFamily(
        "probegate_probe_duration_seconds",
        "How long the last probe of each server took",
        labels=_SERVER,
    )
    expiry = GaugeMetricFamily(
        "probegate_certificate_expiry_timestamp_seconds",
        "Earliest notAfter of the chain each server presented (Unix time)",
        labels=_SERVER,
    )
    for group, views in snapshot.groups().items():
        label = [str(group)]
        healthy.add_metric(label, sum(v.record.state is State.HEALTHY for v in views))
        unhealthy.add_metric(label, sum(v.record.state is State.UNHEALTHY for v in views))
        for view in views:
            result = view.record.last_result
            key = view.probe.target.key
            if result is not None:
                duration.add_metric(list(key), result.duration_ms / 1000)
                if result.certificate_expiry is not None:
                    expiry.add_metric(list(key), result.certificate_expiry)
    yield from (healthy, unhealthy, duration, expiry)


def _probe_results(store: HealthStore) -> Iterator[Metric]:
    results = CounterMetricFamily(
        "probegate_probe_results",
        "Probe results by reason code",
        labels=[*_SERVER, "reason"],
    )
    for (key, reason), count in sorted(store.result_counts.items()):
        results.add_metric([*key, reason.value], count)
    yield results


def _traffic(traffic: Traffic) -> Iterator[Metric]:
    by_listener = CounterMetricFamily(
        "probegate_response_status",
        "Responses sent to clients, per listener and status class",
        labels=["listener", "status_group"],
    )
    for listener, counts in sorted(traffic.responses.items()):
        for index, count in enumerate(counts):
            if count:
                by_listener.add_metric([listener, _CLASSES[index]], count)
    by_server = CounterMetricFamily(
        "probegate_backend_response_status",
        "Responses received from each server, per status class",
        labels=[*_SERVER, "status_group"],
    )
    first_byte = SummaryMetricFamily(
        "probegate_backend_first_byte_response_time_seconds",
        "From sending the request head to a server until its response head arrived",
        labels=_SERVER,
    )
    for key, (statuses, latency_count, latency_sum) in sorted(traffic.servers.items()):
        for index, count in enumerate(statuses):
            if count:
                by_server.add_metric([*key, _CLASSES[index]], count)
        if latency_count:
            first_byte.add_metric(list(key), latency_count, latency_sum)
    connect = SummaryMetricFamily(
        "probegate_backend_connect_time_seconds",
        "Time to open new backend connections (TCP, and TLS where used)",
    )
    connect.add_metric([], traffic.connects, traffic.connect_seconds)
    failed = CounterMetricFamily(
        "probegate_failed_requests",
        "Requests the gateway could not complete (502, 504, cut answers)",
    )
    failed.add_metric([], traffic.failed)
    current = GaugeMetricFamily("probegate_current_connections", "Client connections open now")
    current.add_metric([], traffic.connections)
    yield from (by_listener, by_server, first_byte, connect, failed, current)
