#!/usr/bin/env python3
"""Data-path benchmark: probegate as a reverse proxy beside nginx and HAProxy, in the same run.

    .venv/bin/python bench/proxy.py                                  # 3 rounds × 10 s, 3 workloads
    .venv/bin/python bench/proxy.py --duration 2 --rounds 1 --workloads small   # a quick check
    .venv/bin/python bench/proxy.py --workers 1,2 --targets nginx,probegate   # both, per count

An nginx backend (1 worker, CPU1) answers `/` with 33 bytes and serves a static `/64k.bin`. Each
proxy is one process/worker on CPU0: nginx (upstream keepalive 128), HAProxy (nbthread 1,
http-reuse always) and `probegate run`; "direct" loads the backend itself. Load: `taskset -c 1
wrk -t1 -c50 -d10s --latency` after an unrecorded 3 s warm-up, targets round-robin in each round.
Workloads: `small` (GET /), `64k` (GET /64k.bin), `https` (GET / on a TLS listener, throw-away
ECDSA P-256 certificate; plain HTTP to the backend). Per run: requests/s, p50/p99, non-2xx and
socket errors (must be 0), the proxy's CPU µs per request (utime+stime of its process tree from
/proc/PID/stat) and per-core busy % (/proc/stat). Reported: medians (min–max) over the rounds,
ratios to nginx, and probegate against its goals. Loopback only; installs nginx-light, haproxy and
wrk from Debian when missing; stops every process it started, Ctrl-C included.

`--workers 1,2`: the whole run once per count, each proxy with that many workers (nginx
worker_processes, HAProxy nbthread, probegate `workers`) on CPUs 0…N-1. With N above 1 on a
2-core machine the proxies share CPU1 with wrk and the backend: the figures say what the machine
does, not what N cores would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.client import HTTPException
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
WORKLOADS = {
    "small": ("http", "/"),
    "64k": ("http", "/64k.bin"),
    "https": ("https", "/"),
    # the small answer through a listener with a typical rewrite set: three response headers
    # added (HSTS, nosniff, a CSP) and X-Forwarded-For without the client's port; nginx and
    # HAProxy do the same on their third listener
    "rewrite": ("rw", "/"),
}
SECURITY_HEADERS = (
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'self'"),
)
# "probegate" runs the data path as installed (compiled where the build compiled it);
# "probegate-interp" is the same install with PROBEGATE_DATA_PATH=interpreted (the sources).
TARGETS = ("direct", "nginx", "haproxy", "probegate", "probegate-interp")
PROBEGATES = ("probegate", "probegate-interp")
# Goals as ratios to nginx (1 worker) in the same run: (rps at least, CPU/request at most,
# stretch CPU/request, p99 at most).
GOALS = {
    "small": (0.8, 1.3, 1.1, 1.5),
    "64k": (0.9, 1.2, None, 1.5),
    "https": (0.7, 1.6, None, 1.5),
    "rewrite": (0.75, 1.5, None, 2.0),
}
BODY = "probegate benchmark: small reply."  # 33 bytes
PACKAGES = {"nginx": "nginx-light", "haproxy": "haproxy", "wrk": "wrk"}
Run = dict[str, float]
DATA_PATH = "?"  # what `probegate --version` says of the installed data path (set by main)
Ports = dict[str, int]  # scheme -> port


# ------------------------------------------------------------------------ machine and /proc


def ensure_tools() -> None:
    missing = [PACKAGES[tool] for tool in PACKAGES if shutil.which(tool) is None]
    if missing:
        print(f"installing {', '.join(missing)} from Debian", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip


def versions() -> dict[str, str]:
    def first_line(*command: str) -> str:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return (done.stdout + done.stderr).strip().splitlines()[0]

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), "?")
    python = first_line(str(PYTHON if PYTHON.exists() else sys.executable), "--version")
    tools = {tool: first_line(tool, "-v") for tool in PACKAGES}
    probegate = first_line(str(PYTHON if PYTHON.exists() else sys.executable), "-m", "probegate", "--version")  # fmt: skip
    return {"cpu": f"{model} × {os.cpu_count()}", **tools, "python": python, "probegate": probegate}


def tree_usage(root: int) -> dict[str, float]:
    """CPU seconds (user, sys), minor page faults and context switches (voluntary: it slept;
    involuntary: it was preempted) of `root` and its descendants (e.g. nginx master + worker).
    Faults and switches are system time that no syscall count shows."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
    tree = {root}
    for _generation in range(3):  # children, grandchildren, ...
        tree |= {pid for pid, fields in stats.items() if int(fields[1]) in tree}
    tick = os.sysconf("SC_CLK_TCK")
    usage = {"user": 0.0, "sys": 0.0, "faults": 0.0, "vcs": 0.0, "ivcs": 0.0}
    for pid in tree & stats.keys():
        fields = stats[pid]  # stat(5) field n is fields[n - 3]
        usage["user"] += int(fields[11]) / tick
        usage["sys"] += int(fields[12]) / tick
        usage["faults"] += int(fields[7])
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                usage["vcs"] += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                usage["ivcs"] += int(line.split()[1])
    return usage


def core_times() -> list[tuple[int, int]]:
    """(busy, total) jiffies of every core, from /proc/stat."""
    cores = []
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            ticks = [int(x) for x in fields[:8]]  # user nice system idle iowait irq softirq steal
            cores.append((sum(ticks) - ticks[3] - ticks[4], sum(ticks)))
    return cores


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# ------------------------------------------------------------------------ configurations


def make_certificate(folder: Path) -> None:
    """cert.pem, key.pem and haproxy.pem (both in one file): self-signed ECDSA P-256."""
    from cryptography import x509  # noqa: PLC0415 - only needed here
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    alt = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(key_pem)
    (folder / "haproxy.pem").write_bytes(cert_pem + key_pem)


def nginx_conf(folder: Path, name: str, ports: Ports, workers: int = 1) -> Path:
    """One nginx with one worker: the backend, or a proxy to it when `ports` has "backend"."""
    tls, upstream, rewrite = "", "", ""
    if "rw" in ports:
        added = " ".join(f'add_header {n} "{v}" always;' for n, v in SECURITY_HEADERS)
        rewrite = f"""server {{ listen 127.0.0.1:{ports["rw"]} backlog=4096;
    location / {{ proxy_pass http://backend; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      {added} }} }}"""
    if "https" in ports:
        tls = (f"listen 127.0.0.1:{ports['https']} ssl backlog=4096; "
               f"ssl_certificate {folder}/cert.pem; ssl_certificate_key {folder}/key.pem;")  # fmt: skip
    if "backend" in ports:
        upstream = f"upstream backend {{ server 127.0.0.1:{ports['backend']}; keepalive 128; }}"
        locations = """location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }"""
    else:
        locations = (f'location = / {{ default_type text/plain; return 200 "{BODY}"; }}\n'
                     f"    location / {{ root {folder}/www; }}")  # fmt: skip
    conf = folder / f"{name}.conf"
    conf.write_text(f"""worker_processes {workers}; worker_rlimit_nofile 16384; daemon off;
pid {folder}/{name}.pid; error_log {folder}/{name}.log error;
events {{ worker_connections 8192; }}
http {{
  access_log off; sendfile on; keepalive_requests 100000000; keepalive_timeout 300s;
  client_body_temp_path {folder}/{name}-body; proxy_temp_path {folder}/{name}-proxy;
  {upstream}
  server {{
    listen 127.0.0.1:{ports["http"]} backlog=4096;
    {tls}
    {locations}
  }}
  {rewrite}
}}
""")
    return conf


def haproxy_conf(folder: Path, ports: Ports, workers: int = 1) -> Path:
    tls = f"bind 127.0.0.1:{ports['https']} ssl crt {folder}/haproxy.pem" if "https" in ports else ""  # fmt: skip
    rewrite = ""
    if "rw" in ports:
        headers = "\n".join(f'  http-response set-header {n} "{v}"' for n, v in SECURITY_HEADERS)
        rewrite = f"frontend rw\n  bind 127.0.0.1:{ports['rw']}\n{headers}\n  default_backend web"
    conf = folder / "haproxy.cfg"
    conf.write_text(f"""global
  nbthread {workers}
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 300s
  http-reuse always
  option forwardfor
frontend front
  bind 127.0.0.1:{ports["http"]}
  {tls}
  default_backend web
{rewrite}
backend web
  server backend 127.0.0.1:{ports["backend"]}
""")
    return conf


def probegate_conf(folder: Path, ports: Ports, workers: int = 1) -> Path:
    listeners: list[dict[str, Any]] = [{"name": "front", "port": ports["http"], "protocol": "Http"}]
    document: dict[str, Any] = {"sku": "Standard_v2", "httpListeners": listeners}
    document["workers"] = workers  # 1: the data path in the gateway's own process
    if "https" in ports:
        listeners.append({"name": "front-tls", "port": ports["https"], "protocol": "Https",
                          "sslCertificate": "front-cert"})  # fmt: skip
        shared = folder.parent  # each probegate has a folder of its own; the certificate is shared
        document["sslCertificates"] = [{"name": "front-cert", "certFile": str(shared / "cert.pem"),
                                        "keyFile": str(shared / "key.pem")}]  # fmt: skip
    document["backendAddressPools"] = [
        {"name": "web", "backendAddresses": [{"ipAddress": "127.0.0.1", "port": ports["backend"]}]}
    ]
    document["backendHttpSettingsCollection"] = [
        {"name": "web-http", "port": 80, "protocol": "Http", "requestTimeout": 30}
    ]
    document["requestRoutingRules"] = [
        {"name": f"all-{x['name']}", "ruleType": "Basic", "priority": 100 + i,
         "httpListener": x["name"], "backendAddressPool": "web", "backendHttpSettings": "web-http"}
        for i, x in enumerate(listeners)
    ]  # fmt: skip
    if "rw" in ports:
        listeners.append({"name": "front-rw", "port": ports["rw"], "protocol": "Http"})
        document["requestRoutingRules"].append(
            {"name": "all-rw", "ruleType": "Basic", "priority": 200, "httpListener": "front-rw",
             "backendAddressPool": "web", "backendHttpSettings": "web-http",
             "rewriteRuleSet": "security"}
        )  # fmt: skip
        document["rewriteRuleSets"] = [{"name": "security", "rewriteRules": [{
            "name": "headers", "ruleSequence": 100,
            "actionSet": {
                "requestHeaderConfigurations": [
                    {"headerName": "X-Forwarded-For", "headerValue": "{var_add_x_forwarded_for_proxy}"}
                ],
                "responseHeaderConfigurations": [
                    {"headerName": n, "headerValue": v} for n, v in SECURITY_HEADERS
                ],
            },
        }]}]  # fmt: skip
    document["admin"] = {"port": 0}
    folder.mkdir(exist_ok=True)
    conf = folder / "probegate.yaml"
    conf.write_text(json.dumps(document, indent=2))  # JSON is valid YAML
    return conf


# ------------------------------------------------------------------------ processes


class Fleet:
    """The processes started here; `stop_all` ends each of them, whatever happened."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, name: str, core: int | str, command: list[str], env: dict[str, str] | None = None
    ) -> None:
        with (self.folder / f"{name}.out").open("wb") as out:
            self.processes[name] = subprocess.Popen(
                ["taskset", "-c", str(core), *command],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.folder,
                env={**os.environ, **(env or {})},
            )  # fmt: skip

    def wait_ok(self, name: str, url: str, deadline: float) -> None:
        """Poll `url` until it answers 200 (probegate routes only after a passing probe)."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        end, last = time.monotonic() + deadline, "no answer"
        while time.monotonic() < end:
            if (code := self.processes[name].poll()) is not None:
                last = f"exited with status {code}"
                break
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as answer:
                    if answer.status == 200:
                        return
                    last = f"HTTP {answer.status}"
            except (OSError, HTTPException) as exc:
                last = str(exc)
            time.sleep(0.2)
        logs = sorted(self.folder.glob(f"{name}.out")) + sorted(self.folder.glob(f"{name}.log"))
        tail = "\n".join(line for p in logs for line in p.read_text().splitlines()[-15:])
        raise SystemExit(f"{name}: no 200 from {url} within {deadline:.0f} s ({last})\n{tail}")

    def stop_all(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ------------------------------------------------------------------------ wrk and one run


def wrk(url: str, seconds: int, connections: int) -> str:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
               "--latency", url]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise SystemExit(f"wrk failed on {url}:\n{done.stdout}{done.stderr}")
    return done.stdout


def parse_wrk(out: str) -> Run:
    def number(pattern: str) -> float:
        match = re.search(pattern, out, re.MULTILINE)
        return float(match[1]) if match else 0.0

    def latency_ms(q: str) -> float:
        match = re.search(rf"^\s*{q}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
        scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}
        return float(match[1]) * scale[match[2]] if match else float("nan")

    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)  # fmt: skip
    return {
        "requests": number(r"(\d+) requests in"),
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "p50_ms": latency_ms("50"),
        "p99_ms": latency_ms("99"),
        "non2xx": number(r"Non-2xx or 3xx responses: (\d+)"),
        "socket_errors": float(sum(int(x) for x in sockets.groups())) if sockets else 0.0,
    }


def measure(url: str, pid: int | None, args: argparse.Namespace) -> Run:
    wrk(url, args.warmup, args.connections)  # unrecorded: fills pools, warms caches
    use0, cores0 = tree_usage(pid) if pid else {}, core_times()
    run = parse_wrk(wrk(url, args.duration, args.connections))
    use1, cores1 = tree_usage(pid) if pid else {}, core_times()
    if pid:
        requests = max(run["requests"], 1.0)
        run["user_us"] = (use1["user"] - use0["user"]) * 1e6 / requests
        run["sys_us"] = (use1["sys"] - use0["sys"]) * 1e6 / requests
        run["cpu_us"] = run["user_us"] + run["sys_us"]
        for key in ("faults", "vcs", "ivcs"):  # per 1,000 requests
            run[f"{key}_k"] = (use1[key] - use0[key]) * 1000 / requests
    for core, ((busy0, total0), (busy1, total1)) in enumerate(zip(cores0, cores1, strict=True)):
        run[f"cpu{core}_busy"] = 100 * (busy1 - busy0) / max(total1 - total0, 1)
    run["errors"] = run["non2xx"] + run["socket_errors"]
    return run


# ------------------------------------------------------------------------ report


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    try:
        from rich.console import Console  # noqa: PLC0415 - plain columns without rich
        from rich.table import Table  # noqa: PLC0415
    except ImportError:
        widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
        print(f"\n{title}")
        for row in [headers, *rows]:
            print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        return
    table = Table(*headers, title=title, title_justify="left")
    for row in rows:
        table.add_row(*row)
    Console(width=max(200, shutil.get_terminal_size().columns)).print(table)


def report(workload: str, runs: dict[str, list[Run]], workers: int = 1) -> list[str]:
    """Print the workload's table and probegate's goals; return the goals it missed."""

    def values(target: str, key: str) -> list[float]:
        return [run[key] for run in runs.get(target, []) if key in run]

    def med(target: str, key: str) -> float:
        found = values(target, key)
        return statistics.median(found) if found else float("nan")

    def spread(target: str, key: str, spec: str) -> str:
        found = values(target, key)
        low, high = (min(found), max(found)) if found else (0.0, 0.0)
        return f"{med(target, key):{spec}} ({low:{spec}}–{high:{spec}})" if found else "-"

    def ratio(target: str, key: str) -> str:
        return "-" if target in ("direct", "nginx") else f"{med(target, key) / med('nginx', key):.2f}"  # fmt: skip

    rows = []
    for target in runs:
        cpu = "-"
        if values(target, "cpu_us"):
            cpu = f"{spread(target, 'cpu_us', '.1f')} = {med(target, 'user_us'):.1f}+{med(target, 'sys_us'):.1f}"
        rows.append([target, spread(target, "rps", ",.0f"), f"{med(target, 'p50_ms'):.2f}",
                     spread(target, "p99_ms", ".2f"), cpu, ratio(target, "rps"),
                     ratio(target, "cpu_us"), ratio(target, "p99_ms"),
                     f"{sum(values(target, 'errors')):.0f}",
                     f"{med(target, 'cpu0_busy'):.0f} / {med(target, 'cpu1_busy'):.0f}",
                     "-" if not values(target, "faults_k") else
                     f"{med(target, 'faults_k'):.1f} / {med(target, 'vcs_k'):.0f}+{med(target, 'ivcs_k'):.0f}"])  # fmt: skip
    headers = ["target", "rps (min–max)", "p50 ms", "p99 ms (min–max)",
               "µs/req (min–max) = user+sys", "rps ×nginx", "CPU ×nginx", "p99 ×nginx",
               "errors", "busy % CPU0/1", "per 1k req: faults / switches vol+invol"]  # fmt: skip
    scheme, path = WORKLOADS[workload]
    each = f", {workers} workers each" if workers != 1 else ""
    print_table(f"{workload}: GET {scheme}://…{path}, medians over rounds{each}", headers, rows)
    if "probegate" not in runs or "nginx" not in runs:
        return []
    cpu_x, rps_x, p99_x = (med("probegate", k) / med("nginx", k) for k in ("cpu_us", "rps", "p99_ms"))  # fmt: skip
    errors = sum(values("probegate", "errors"))
    rps_goal, cpu_goal, stretch, p99_goal = GOALS[workload]
    goals = [
        (f"rps {rps_x:.2f}× nginx ≥ {rps_goal}×", rps_x >= rps_goal),
        (f"CPU/req {cpu_x:.2f}× nginx ≤ {cpu_goal}×", cpu_x <= cpu_goal),
        (f"p99 {p99_x:.2f}× nginx ≤ {p99_goal}×", p99_x <= p99_goal),
        (f"errors {errors:.0f} = 0", errors == 0),
    ]
    if stretch is not None:
        goals.insert(2, (f"CPU/req {cpu_x:.2f}× nginx ≤ {stretch}× (stretch)", cpu_x <= stretch))
    print(f"probegate goals, {workload}{each} (the data path as installed: {DATA_PATH}):")
    for text, met in goals:
        print(f"  [{'PASS' if met else 'FAIL'}] {text}")
    if "probegate-interp" in runs:
        gain = med("probegate-interp", "cpu_us") / med("probegate", "cpu_us")
        print(f"  CPU per request, interpreted ÷ compiled: {gain:.2f}×")
    if med("nginx", "cpu1_busy") >= 95:
        print("  note: CPU1 (wrk + backend) was ≥ 95 % busy with nginx: rps is load-bound there")
    return [f"{workload}{each}: {text}" for text, met in goals if not met]


# ------------------------------------------------------------------------ main


def start_all(fleet: Fleet, ports: dict[str, Ports], timeout: float, workers: int = 1) -> None:
    """The backend on CPU1, each proxy on CPU0 (CPUs 0…N-1 with N workers); returns when every
    listener answers 200."""
    cores = "0" if workers == 1 else f"0-{workers - 1}"
    folder = fleet.folder
    (folder / "www").mkdir()
    (folder / "www" / "64k.bin").write_bytes(os.urandom(64 * 1024))
    make_certificate(folder)
    conf = nginx_conf(folder, "backend", ports["backend"])
    fleet.start("backend", 1, ["nginx", "-e", f"{folder}/backend.log", "-c", str(conf)])
    if "nginx" in ports:
        conf = nginx_conf(folder, "nginx", ports["nginx"], workers)
        fleet.start("nginx", cores, ["nginx", "-e", f"{folder}/nginx.log", "-c", str(conf)])
    if "haproxy" in ports:
        fleet.start("haproxy", cores, ["haproxy", "-db", "-f", str(haproxy_conf(folder, ports["haproxy"], workers))])  # fmt: skip
    python = str(PYTHON if PYTHON.exists() else sys.executable)
    for name in (p for p in PROBEGATES if p in ports):
        conf = probegate_conf(folder / name, ports[name], workers)
        env = {"PROBEGATE_DATA_PATH": "interpreted" if name == "probegate-interp" else ""}
        fleet.start(name, cores, [python, "-m", "probegate", "run", "-c", str(conf)], env)
    fleet.wait_ok("backend", f"http://127.0.0.1:{ports['backend']['http']}/64k.bin", timeout)
    for name, listen in ports.items():
        for scheme in ("http", "https", "rw"):
            if scheme in listen:
                fleet.wait_ok(name, f"{_url_scheme(scheme)}://127.0.0.1:{listen[scheme]}/", timeout)


def _url_scheme(listener: str) -> str:
    """The URL scheme of a listener kind ("rw": the plain-HTTP listener with a rewrite set)."""
    return "https" if listener == "https" else "http"


def run_workload(fleet: Fleet, workload: str, targets: list[str], ports: dict[str, Ports],
                 args: argparse.Namespace) -> dict[str, list[Run]]:  # fmt: skip
    """`args.rounds` rounds; each runs every target once, starting one further along each time."""
    scheme, path = WORKLOADS[workload]
    runs: dict[str, list[Run]] = {target: [] for target in targets}
    for round_ in range(args.rounds):
        for i in range(len(targets)):
            target = targets[(i + round_) % len(targets)]
            name = "backend" if target == "direct" else target
            pid = None if target == "direct" else fleet.processes[name].pid
            port = ports[name].get(scheme, ports[name]["http"])  # direct: no rewrite listener
            run = measure(f"{_url_scheme(scheme)}://127.0.0.1:{port}{path}", pid, args)
            runs[target].append(run)
            cpu = f"{run['cpu_us']:6.1f} µs/req" if "cpu_us" in run else "-"
            print(f"  {workload} round {round_ + 1}/{args.rounds} {target:>9}: "
                  f"{run['rps']:>9,.0f} rps  p99 {run['p99_ms']:6.2f} ms  {cpu:>13}  "
                  f"errors {run['errors']:.0f}", flush=True)  # fmt: skip
    return runs


def worker_counts(parser: argparse.ArgumentParser, text: str) -> list[int]:
    """`--workers 1,2`: each count from 1 to the number of CPUs."""
    try:
        counts = [int(n) for n in text.split(",") if n]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1 or max(counts) > (os.cpu_count() or 1):
        parser.error(f"--workers takes counts from 1 to {os.cpu_count()}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", default="small,64k,https", help="comma-separated subset")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset")
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="unrecorded seconds before each")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50, help="wrk -c (default 50)")
    parser.add_argument("--ready-timeout", type=float, default=20.0, help="seconds to a first 200")
    parser.add_argument("--json", type=Path, help="write every run's raw figures here")
    parser.add_argument("--workers", default="1",
                        help="comma-separated worker counts, each a whole run (default 1)")  # fmt: skip
    args = parser.parse_args()
    counts = worker_counts(parser, args.workers)
    workloads = [w for w in args.workloads.split(",") if w]
    targets = [t for t in args.targets.split(",") if t]
    if unknown := (set(workloads) - set(WORKLOADS)) | (set(targets) - set(TARGETS)):
        parser.error(f"unknown workload or target: {', '.join(sorted(unknown))}")

    ensure_tools()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` runs
    machine = versions()
    global DATA_PATH  # noqa: PLW0603 - one fact of the run, printed with every workload
    DATA_PATH = machine["probegate"].partition("(data path: ")[2][:-1] or "?"
    for key, value in machine.items():
        print(f"{key:>8}: {value}")
    tls = "https" in workloads
    ports = {"backend": {"http": free_port(), **({"https": free_port()} if tls else {})}}
    for name in (t for t in targets if t != "direct"):
        ports[name] = {"http": free_port(), "backend": ports["backend"]["http"]}
        ports[name] |= {"https": free_port()} if tls else {}
        ports[name] |= {"rw": free_port()} if "rewrite" in workloads else {}
    raw: list[dict[str, Any]] = []
    missed: list[str] = []
    for workers in counts:
        if len(counts) > 1:
            print(f"\n=== {workers} worker{'s' if workers > 1 else ''} per proxy", flush=True)
        with tempfile.TemporaryDirectory(prefix="probegate-bench-proxy-") as tmp:
            Path(tmp).chmod(0o755)  # nginx workers may run as an unprivileged user
            fleet = Fleet(Path(tmp))
            try:
                start_all(fleet, ports, args.ready_timeout, workers)
                for workload in workloads:
                    runs = run_workload(fleet, workload, targets, ports, args)
                    missed += report(workload, runs, workers)
                    raw += [{"workload": workload, "workers": workers, "target": target,
                             "round": i + 1, **run}
                            for target, done in runs.items() for i, run in enumerate(done)]  # fmt: skip
            finally:
                fleet.stop_all()
    if args.json:
        document = {"machine": machine, "args": vars(args), "runs": raw}
        args.json.write_text(json.dumps(document, indent=2, default=str))
    if "probegate" in targets and "nginx" in targets:
        print("\nprobegate goals missed: " + ("; ".join(missed) if missed else "none"))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: every process started here has been stopped")
