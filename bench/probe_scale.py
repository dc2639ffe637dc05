#!/usr/bin/env python3
"""Probe-engine scale benchmark: N targets on loopback probed by probegate's real scheduler, runner
and store, with HAProxy's health checker on the same targets in the same invocation.

    bench/probe_scale.py                      # 1,000 / 5,000 / 10,000 targets, 5 s interval
    bench/probe_scale.py --targets 2000 --interval 5 --seconds 20

What runs:
- one nginx (1 worker, pinned to CPU1) listening on 127.0.0.1:20000-20999, answering 200 "ok";
- probegate: a one-pool configuration whose N targets are those 1,000 ports × N/1000 settings
  items; the real `Scheduler`, `Prober` (new TCP connection per probe) and `HealthStore` in one
  process pinned to CPU0 (uvloop);
- HAProxy (`nbthread 1`, pinned to CPU0, run after probegate, never at the same time) with one
  backend of the same N servers, `check inter <interval>`, as the peer reference.

Reported per N: probes/s achieved against offered (N / interval), failed probes, CPU % of the
prober process and CPU µs per probe (utime+stime from /proc, and each apart), the lateness of probe
starts against their schedule (p50 / p99), peak and final RSS with how many results each target
keeps (`--full-history` warms up until all 50 are kept), and the same CPU figures for HAProxy.
The lasting history (SQLite) takes every state change, as in `probegate run`. Loopback only;
every process is stopped at the end.
Installs nginx and HAProxy from Debian when they are missing (root, apt-get).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASE_PORT = 20000
PORTS = 1000
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------ helpers


def ensure_tools() -> None:
    missing = [tool for tool in ("nginx", "haproxy") if shutil.which(tool) is None]
    if not missing:
        return
    packages = {"nginx": "nginx-light", "haproxy": "haproxy"}
    print(f"installing {', '.join(missing)} from Debian", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *(packages[m] for m in missing)],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_figures(
    before: tuple[float, float], after: tuple[float, float], elapsed: float, probes: float
) -> dict[str, float]:
    """CPU % of a core and µs per probe, in total and split into user and system time."""
    user, system = after[0] - before[0], after[1] - before[1]
    count = max(probes, 1.0)
    return {
        "cpu_percent": 100 * (user + system) / elapsed,
        "cpu_us_per_probe": 1e6 * (user + system) / count,
        "user_us_per_probe": 1e6 * user / count,
        "sys_us_per_probe": 1e6 * system / count,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_nginx(folder: Path) -> subprocess.Popen[bytes]:
    listens = "\n".join(f"    listen 127.0.0.1:{BASE_PORT + i} backlog=4096;" for i in range(PORTS))
    conf = folder / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log error;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  keepalive_timeout 0;
  server {{
{listens}
    location / {{ return 200 "ok"; }}
  }}
}}
""")
    process = subprocess.Popen(
        ["taskset", "-c", "1", "nginx", "-c", str(conf), "-p", str(folder)],
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    if process.poll() is not None:
        raise SystemExit(f"nginx did not start; see {folder}/nginx-error.log")
    return process


def probegate_config(targets: int, interval: int) -> dict[str, Any]:
    settings_count = max(1, targets // PORTS)
    per_pool = min(targets, PORTS)
    members = [{"ipAddress": "127.0.0.1", "port": BASE_PORT + i} for i in range(per_pool)]
    settings = [
        {"name": f"s{k}", "port": 80, "protocol": "Http", "probe": "health"}
        for k in range(settings_count)
    ]
    path_rules = [
        {
            "name": f"r{k}",
            "paths": [f"/s{k}/*"],
            "backendAddressPool": "fleet",
            "backendHttpSettings": f"s{k}",
        }
        for k in range(1, settings_count)
    ]
    document: dict[str, Any] = {
        "httpListeners": [{"name": "front", "port": 8080, "protocol": "Http"}],
        "backendAddressPools": [{"name": "fleet", "backendAddresses": members}],
        "backendHttpSettingsCollection": settings,
        "probes": [
            {
                "name": "health",
                "protocol": "Http",
                "host": "fleet.example.test",
                "interval": interval,
                "timeout": interval,
                "unhealthyThreshold": 3,
            }
        ],
        "admin": {"port": 0},
    }
    if path_rules:
        document["urlPathMaps"] = [
            {"name": "map", "defaultBackendAddressPool": "fleet", "defaultBackendHttpSettings": "s0",
             "pathRules": path_rules}
        ]  # fmt: skip
        rule = {
            "name": "all",
            "ruleType": "PathBasedRouting",
            "httpListener": "front",
            "urlPathMap": "map",
        }
    else:
        rule = {"name": "all", "ruleType": "Basic", "httpListener": "front",
                "backendAddressPool": "fleet", "backendHttpSettings": "s0"}  # fmt: skip
    document["requestRoutingRules"] = [rule]
    return document


# ------------------------------------------------------------------------ the probegate worker


def worker(targets: int, interval: int, warmup: float, seconds: float) -> dict[str, Any]:
    """Runs inside the pinned child process: the real scheduler over `targets` targets, with the
    lasting history (SQLite, in a temporary folder) taking every state change, as `probegate run`
    does."""
    import resource  # noqa: PLC0415

    import uvloop  # noqa: PLC0415

    from probegate.config.compile import compile_plan  # noqa: PLC0415
    from probegate.config.effective import effective_probes  # noqa: PLC0415
    from probegate.config.load import load_document  # noqa: PLC0415
    from probegate.health.codes import Reason  # noqa: PLC0415
    from probegate.health.prober import Prober  # noqa: PLC0415
    from probegate.health.scheduler import Scheduler  # noqa: PLC0415
    from probegate.resolver import Resolver  # noqa: PLC0415
    from probegate.runtime import GcFreezer  # noqa: PLC0415
    from probegate.state.history import History  # noqa: PLC0415
    from probegate.state.store import HealthStore  # noqa: PLC0415

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    plan = compile_plan(load_document(probegate_config(targets, interval), "bench", ROOT))
    folder = tempfile.TemporaryDirectory(prefix="probegate-bench-history-")
    history = History(Path(folder.name) / "history.sqlite")

    async def main() -> dict[str, Any]:
        store = HealthStore(
            plan.tier,
            effective_probes(plan),
            monotonic=time.monotonic,
            on_event=lambda event, _record, _probe: history.add(event),
        )

        def failures() -> int:  # from the store's own counts: no wrapper on the measured path
            return sum(n for (_, r), n in store.result_counts.items() if r is not Reason.SUCCESS)

        scheduler = Scheduler(store, Prober(Resolver(None)))
        GcFreezer(asyncio.get_running_loop()).start()  # as `probegate run` does
        task = asyncio.get_running_loop().create_task(scheduler.run())
        await asyncio.sleep(warmup)
        scheduler.lateness.clear()
        done0, failed0, cpu0, t0 = (
            scheduler.completed,
            failures(),
            cpu_seconds(os.getpid()),
            time.monotonic(),
        )
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(os.getpid())
        done, failed = scheduler.completed - done0, failures() - failed0
        lateness = [x * 1000 for x in scheduler.lateness]
        rss_now = rss_mb()
        task.cancel()
        await scheduler.stop()
        sample = [p.target.key for p in store.probes[:: max(1, targets // 100)]]
        kept = sum(len(store.history_of(key)) for key in sample) / max(len(sample), 1)
        return {
            "probes_per_s": done / elapsed,
            "failed": failed,
            **cpu_figures(cpu0, cpu, elapsed, done),
            "lateness_p50_ms": percentile(lateness, 0.50),
            "lateness_p99_ms": percentile(lateness, 0.99),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_now_mb": rss_now,
            "results_kept_per_target": kept,
            "history_problem": history.problem,
        }

    try:
        return uvloop.run(main())
    finally:
        history.close()
        folder.cleanup()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_probegate(targets: int, interval: int, warmup: float, seconds: float) -> dict[str, Any]:
    command = [
        "taskset", "-c", "0", sys.executable, __file__, "--worker",
        "--targets", str(targets), "--interval", str(interval),
        "--warmup", str(warmup), "--seconds", str(seconds),
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------------ the HAProxy reference


def run_haproxy(
    folder: Path, targets: int, interval: int, warmup: float, seconds: float
) -> dict[str, Any]:
    servers = "\n".join(
        f"  server s{i} 127.0.0.1:{BASE_PORT + i % PORTS} check inter {interval}s fall 3 rise 1"
        for i in range(targets)
    )
    conf = folder / "haproxy.cfg"
    conf.write_text(f"""
global
  nbthread 1
  maxconn 2000
  spread-checks 5
defaults
  mode http
  timeout connect {interval}s
  timeout check {interval}s
  timeout client 30s
  timeout server 30s
  option httpchk GET /
  http-check send hdr Host fleet.example.test
frontend unused
  bind 127.0.0.1:{free_port()}
  default_backend fleet
backend fleet
{servers}
""")
    process = subprocess.Popen(
        ["taskset", "-c", "0", "haproxy", "-f", str(conf)],
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(warmup)
        if process.poll() is not None:
            raise SystemExit(
                "haproxy stopped: " + (process.stderr.read().decode() if process.stderr else "")
            )
        cpu0, t0 = cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        cpu, elapsed = cpu_seconds(process.pid), time.monotonic() - t0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    offered = targets / interval
    return cpu_figures(cpu0, cpu, elapsed, offered * elapsed)


# ------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--targets", type=int, action="append", help="N (repeatable); default 1000 5000 10000"
    )
    parser.add_argument("--interval", type=int, default=5)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--full-history",
        action="store_true",
        help="warm up until every target keeps its last 50 results (50 intervals), so that RSS "
        "includes the whole in-memory history",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    probe_warmup = args.warmup
    if args.full_history:
        from probegate.state.store import HISTORY_LENGTH  # noqa: PLC0415

        # jitter is ±10 %: 50 intervals and a margin fill every target's ring
        probe_warmup = max(args.warmup, HISTORY_LENGTH * args.interval * 1.15 + 5)
    if args.worker:
        print(json.dumps(worker(args.targets[0], args.interval, args.warmup, args.seconds)))
        return
    ensure_tools()
    sizes = args.targets or [1000, 5000, 10000]
    rows = []
    with tempfile.TemporaryDirectory(prefix="probegate-bench-") as tmp:
        folder = Path(tmp)
        nginx = start_nginx(folder)
        try:
            for n in sizes:
                ours = run_probegate(n, args.interval, probe_warmup, args.seconds)
                theirs = run_haproxy(folder, n, args.interval, args.warmup, args.seconds)
                rows.append((n, ours, theirs))
                print_row(n, args.interval, ours, theirs)
        finally:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=10)
    print(json.dumps([{"targets": n, "probegate": o, "haproxy": h} for n, o, h in rows]))


def print_row(n: int, interval: int, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    offered = n / interval
    print(
        f"targets {n:>6} offered {offered:>7.0f}/s | probegate {ours['probes_per_s']:>7.0f}/s "
        f"failed {ours['failed']:>5} cpu {ours['cpu_percent']:>5.1f}% "
        f"{ours['cpu_us_per_probe']:>5.0f} us/probe (user {ours['user_us_per_probe']:.0f} "
        f"sys {ours['sys_us_per_probe']:.0f}) lateness p50 {ours['lateness_p50_ms']:>6.1f} ms "
        f"p99 {ours['lateness_p99_ms']:>7.1f} ms rss {ours['rss_mb']:>4.0f} MB peak "
        f"{ours['rss_now_mb']:>4.0f} MB now, {ours['results_kept_per_target']:.0f} results kept "
        f"per target | haproxy cpu {theirs['cpu_percent']:>5.1f}% "
        f"{theirs['cpu_us_per_probe']:>5.0f} us/probe (user {theirs['user_us_per_probe']:.0f} "
        f"sys {theirs['sys_us_per_probe']:.0f})",
        flush=True,
    )


if __name__ == "__main__":
    main()
