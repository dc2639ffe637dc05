#!/usr/bin/env python3
"""The prober's CPU per probe on a fixed workload, repeatable enough to judge one change by.

    bench/probe_cpu.py                  # 2,000 targets, 10,000 probes: CPU µs per probe (user + sys)
    bench/probe_cpu.py --instructions   # 200 targets under callgrind: instructions per probe

What runs: one nginx (1 worker, pinned to CPU1) on 127.0.0.1:20000-20999 answering 200 "ok", and
in a child pinned to CPU0 (uvloop) the real `Prober.start` and `HealthStore.record` over
`--targets` targets (1,000 ports × settings), 20 probes in flight back to back (a new connection
each), round-robin over the targets, after one unmeasured round — no scheduler and no timers to
wait on, so the same work every run.

`--instructions` runs the child twice under valgrind's callgrind (`--probes` and 3 × `--probes`,
default 200 targets and 400 probes: Python runs ~100× slower under callgrind) and divides the
difference of the instructions counted by the difference of the probes, so start-up and imports
cancel out. CPU seconds on this shared VM move ±15 % with the neighbours; instruction counts move
~1 %. The probe timeout is 60 s, so that callgrind's slowness never times a probe out. Loopback
only; nginx is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_scale import cpu_seconds, ensure_tools, probegate_config, start_nginx

ROOT = Path(__file__).resolve().parents[1]
IN_FLIGHT = 20
TIMEOUT = (
    60  # seconds: the probe's interval and timeout (no scheduler runs: only the timeout counts)
)


def worker(targets: int, probes: int) -> dict[str, Any]:
    """In the pinned child: one round of `targets` probes unmeasured, then `probes` measured."""
    import asyncio  # noqa: PLC0415
    import resource  # noqa: PLC0415

    import uvloop  # noqa: PLC0415

    from probegate.buildinfo import data_path  # noqa: PLC0415
    from probegate.config.compile import compile_plan  # noqa: PLC0415
    from probegate.config.effective import effective_probes  # noqa: PLC0415
    from probegate.config.load import load_document  # noqa: PLC0415
    from probegate.health.codes import Reason  # noqa: PLC0415
    from probegate.health.prober import Outcome, Prober  # noqa: PLC0415
    from probegate.resolver import Resolver  # noqa: PLC0415
    from probegate.state.store import HealthStore  # noqa: PLC0415

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    plan = compile_plan(load_document(probegate_config(targets, TIMEOUT), "bench", ROOT))
    all_probes = effective_probes(plan)

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        store = HealthStore(plan.tier, all_probes, monotonic=time.monotonic)
        prober = Prober(Resolver(None))
        ended = loop.create_future()
        state = {"next": 0, "done": 0, "failed": 0, "goal": 0}

        def launch() -> None:
            probe = all_probes[state["next"] % len(all_probes)]
            state["next"] += 1

            def done(outcome: Outcome | Exception) -> None:
                assert not isinstance(outcome, Exception), outcome
                store.record(probe.target.key, outcome.result, probe)
                state["done"] += 1
                if not outcome.result.passed:
                    state["failed"] += 1
                if state["next"] < state["goal"]:
                    launch()
                elif state["done"] == state["goal"] and not ended.done():
                    ended.set_result(None)

            prober.start(probe, done)

        async def run(count: int) -> None:
            nonlocal ended
            ended = loop.create_future()
            state["goal"] = state["next"] + count
            for _ in range(IN_FLIGHT):
                launch()
            await ended

        await run(targets)
        cpu0, t0, failed0 = cpu_seconds(os.getpid()), time.monotonic(), state["failed"]
        await run(probes)
        cpu, elapsed = cpu_seconds(os.getpid()), time.monotonic() - t0
        assert not [n for (_, r), n in store.result_counts.items() if r is not Reason.SUCCESS]
        return {
            "data_path": data_path().describe(),
            "probes": probes,
            "failed": state["failed"] - failed0,
            "seconds": elapsed,
            "user_us_per_probe": 1e6 * (cpu[0] - cpu0[0]) / probes,
            "sys_us_per_probe": 1e6 * (cpu[1] - cpu0[1]) / probes,
        }

    return uvloop.run(main())


def child(targets: int, probes: int, valgrind: list[str]) -> tuple[dict[str, Any], str]:
    command = [
        *valgrind, sys.executable, __file__, "--worker",
        "--targets", str(targets), "--probes", str(probes),
    ]  # fmt: skip
    done = subprocess.run(
        ["taskset", "-c", "0", *command], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def instructions(targets: int, probes: int, folder: Path) -> int:
    out = folder / f"callgrind.{probes}"
    _, stderr = child(
        targets,
        probes,
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--trace-children=no"],
    )
    found = re.search(r"Collected : (\d+)", stderr)
    if found is None:
        raise SystemExit(f"no instruction count from callgrind:\n{stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", type=int, help="default 2,000 (200 with --instructions)")
    parser.add_argument("--probes", type=int, help="default 10,000 (400 with --instructions)")
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--keep", help="a folder to keep callgrind's output files in")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    targets = args.targets or (200 if args.instructions else 2000)
    probes = args.probes or (400 if args.instructions else 10_000)
    if args.worker:
        print(json.dumps(worker(targets, probes)))
        return
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="probegate-bench-") as tmp:
        folder = Path(tmp)
        nginx = start_nginx(folder)
        try:
            if args.instructions:
                keep = Path(args.keep) if args.keep else folder
                keep.mkdir(parents=True, exist_ok=True)
                small = instructions(targets, probes, keep)
                large = instructions(targets, 3 * probes, keep)
                per = (large - small) / (2 * probes)
                print(f"{per:,.0f} instructions per probe ({small:,} and {large:,} in all)")
                print(json.dumps({"instructions_per_probe": per}))
            else:
                figures, _ = child(targets, probes, [])
                total = figures["user_us_per_probe"] + figures["sys_us_per_probe"]
                print(
                    f"{total:.1f} us/probe (user {figures['user_us_per_probe']:.1f} sys "
                    f"{figures['sys_us_per_probe']:.1f}), {figures['failed']} failed, "
                    f"data path {figures['data_path']}"
                )
                print(json.dumps(figures))
        finally:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=10)


if __name__ == "__main__":
    main()
