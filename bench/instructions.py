#!/usr/bin/env python3
"""Instructions per request under valgrind's callgrind: a repeatable figure on a noisy machine.

    .venv/bin/python bench/instructions.py                       # small answer, every target
    .venv/bin/python bench/instructions.py --workload https --targets nginx,probegate
    .venv/bin/python bench/instructions.py --requests 5000 --annotate 25   # + the top functions

wrk's figures move by 10-20 % between runs on a shared two-core machine; an instruction count
moves by well under 1 %. Each proxy runs alone under `valgrind --tool=callgrind` (nginx with
`master_process off`, HAProxy `nbthread 1`, `probegate run` with `workers: 1`) in front of the
same nginx backend as bench/proxy.py (which this reuses for the configurations). One client
keeps one connection open: after `--warmup` unrecorded requests the counters are zeroed
(`callgrind_control -z`), `--requests` GETs are sent one after another, and the counters are
dumped (`callgrind_control -d`). The same is done over an idle pause of the same length, so what
the process does on its own (timers, the prober's scheduler) is subtracted from the figure.

Reported per target: user-space instructions per request (the kernel's share is not counted;
system time is measured by bench/proxy.py) and the ratio to nginx. `--annotate N` prints the N
functions with the most inclusive cost for probegate (callgrind_annotate), the place to start.
Loopback only; the backend and the client are not under valgrind.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proxy

TARGETS = ("nginx", "haproxy", "probegate", "probegate-interp")
WORKLOADS = {"small": ("http", "/"), "64k": ("http", "/64k.bin"), "https": ("https", "/")}


def callgrind(name: str, folder: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/{name}.cg.%p",
            "--dump-instr=no", "--compress-strings=no", "--trace-children=no"]  # fmt: skip


def start(fleet: proxy.Fleet, name: str, ports: proxy.Ports) -> None:
    folder = fleet.folder
    vg = callgrind(name, folder)
    if name == "nginx":
        conf = proxy.nginx_conf(folder, "nginx", ports)
        conf.write_text("master_process off;\n" + conf.read_text())
        fleet.start(name, 0, [*vg, "nginx", "-e", f"{folder}/nginx.log", "-c", str(conf)])
    elif name == "haproxy":
        fleet.start(name, 0, [*vg, "haproxy", "-db", "-f", str(proxy.haproxy_conf(folder, ports))])
    else:
        conf = proxy.probegate_conf(folder / name, ports)
        document = json.loads(conf.read_text())
        # one probe an hour: the run measures the data path, not the prober
        document["probes"] = [{"name": "hourly", "protocol": "Http", "path": "/", "interval": 3600,
                               "timeout": 30, "unhealthyThreshold": 3,
                               "pickHostNameFromBackendHttpSettings": False, "host": "127.0.0.1"}]  # fmt: skip
        for settings in document["backendHttpSettingsCollection"]:
            settings["probe"] = "hourly"
        conf.write_text(json.dumps(document, indent=2))
        env = {"PROBEGATE_DATA_PATH": "interpreted" if name == "probegate-interp" else ""}
        python = str(proxy.PYTHON if proxy.PYTHON.exists() else sys.executable)
        fleet.start(name, 0, [*vg, python, "-m", "probegate", "run", "-c", str(conf)], env)


def connection(scheme: str, port: int) -> http.client.HTTPConnection:
    if scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=context)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def requests(client: http.client.HTTPConnection, path: str, count: int) -> None:
    for _ in range(count):
        client.request("GET", path, headers={"Host": "127.0.0.1"})
        answer = client.getresponse()
        answer.read()
        if answer.status != 200:
            raise SystemExit(f"HTTP {answer.status} from {client.host}:{client.port}{path}")


def dump(pid: int, folder: Path, name: str) -> int:
    """Dump the counters of `pid` and return the instructions counted since the last zeroing."""
    before = set(folder.glob(f"{name}.cg.{pid}*"))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    for _ in range(600):
        new = [p for p in set(folder.glob(f"{name}.cg.{pid}*")) - before if p.stat().st_size]
        if new:
            time.sleep(0.5)  # let the file be written to its end
            text = new[0].read_text(errors="replace")
            if match := re.search(r"^(?:summary|totals):\s+(\d+)", text, re.MULTILINE):
                return int(match[1])
        time.sleep(0.1)
    raise SystemExit(f"{name}: callgrind wrote no dump for pid {pid}")


def zero(pid: int) -> None:
    subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True)


def measure(fleet: proxy.Fleet, name: str, ports: proxy.Ports, args: argparse.Namespace) -> dict[str, float]:  # fmt: skip
    scheme, path = WORKLOADS[args.workload]
    pid = fleet.processes[name].pid
    client = connection(scheme, ports[scheme])
    requests(client, path, args.warmup)
    zero(pid)
    began = time.monotonic()
    requests(client, path, args.requests)
    elapsed = time.monotonic() - began
    busy = dump(pid, fleet.folder, name)
    zero(pid)
    time.sleep(min(elapsed, 30.0))
    idle = dump(pid, fleet.folder, name) * elapsed / min(elapsed, 30.0)
    client.close()
    return {
        "busy": busy,
        "idle": idle,
        "per_request": (busy - idle) / args.requests,
        "seconds": elapsed,
    }


def annotate(folder: Path, name: str, top: int) -> None:
    dumps = sorted(folder.glob(f"{name}.cg.*"), key=lambda p: p.stat().st_mtime)
    busy = dumps[-2]  # the last dump is the idle pause
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                          str(busy)], capture_output=True, text=True, check=False).stdout  # fmt: skip
    lines = [line for line in out.splitlines() if re.match(r"^\s*[\d,]+ \(", line)]
    print(f"\n{name}: top {top} functions by inclusive instructions (busy dump {busy.name})")
    for line in lines[:top]:
        print("  " + line.strip()[:160])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset")
    parser.add_argument("--workload", default="small", choices=sorted(WORKLOADS))
    parser.add_argument("--requests", type=int, default=3000, help="counted requests (3000)")
    parser.add_argument("--warmup", type=int, default=300, help="uncounted requests first (300)")
    parser.add_argument("--annotate", type=int, default=0, metavar="N",
                        help="print probegate's N costliest functions")  # fmt: skip
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--keep", type=Path, help="copy the callgrind files to this folder")
    args = parser.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    if unknown := set(targets) - set(TARGETS):
        parser.error(f"unknown target: {', '.join(sorted(unknown))}")
    for tool in ("valgrind", "callgrind_control", "nginx", "haproxy"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install valgrind nginx haproxy)")
    scheme, path = WORKLOADS[args.workload]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="probegate-bench-instr-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        fleet = proxy.Fleet(folder)
        try:
            (folder / "www").mkdir()
            (folder / "www" / "64k.bin").write_bytes(bytes(range(256)) * 256)
            proxy.make_certificate(folder)
            backend: proxy.Ports = {"http": proxy.free_port()}
            conf = proxy.nginx_conf(folder, "backend", backend)
            fleet.start("backend", 1, ["nginx", "-e", f"{folder}/backend.log", "-c", str(conf)])
            fleet.wait_ok("backend", f"http://127.0.0.1:{backend['http']}/", 20)
            for name in targets:
                ports: proxy.Ports = {"http": proxy.free_port(), "https": proxy.free_port(),
                                      "backend": backend["http"]}  # fmt: skip
                start(fleet, name, ports)
                fleet.wait_ok(name, f"{scheme}://127.0.0.1:{ports[scheme]}{path}", args.ready_timeout)  # fmt: skip
                results[name] = measure(fleet, name, ports, args)
                r = results[name]
                print(f"{name:>17}: {r['per_request']:>9,.0f} instructions/request  "
                      f"({r['busy']:,.0f} busy, {r['idle']:,.0f} idle over {r['seconds']:.1f} s)",
                      flush=True)  # fmt: skip
                if args.annotate and name.startswith("probegate"):
                    annotate(folder, name, args.annotate)
                process = fleet.processes.pop(name)
                process.terminate()
                process.wait(timeout=60)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for p in folder.glob("*.cg.*"):
                    shutil.copy(p, args.keep / p.name)
        finally:
            fleet.stop_all()
    if "nginx" in results:
        base = results["nginx"]["per_request"]
        print(f"\n{args.workload}: instructions per request, ratio to nginx")
        for name, r in results.items():
            print(f"  {name:>17}: {r['per_request']:>9,.0f}  {r['per_request'] / base:5.2f}×")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: every process started here has been stopped")
