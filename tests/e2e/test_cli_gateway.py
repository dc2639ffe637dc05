"""The commands that talk to a running gateway, in a subprocess against a real `probegate run`:
finding it (its own file, PROBEGATE_URL), `reload`, `run --pid-file`, the log's format, and
`backend-health --watch` into a pipe."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_run import Gateway, backend, config, free_port, settled

__all__ = ["backend"]  # the fixture, shared with test_run

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def probegate(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PROBEGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "probegate", *map(str, args)],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
        env={**environment, **(env or {})},
    )  # fmt: skip


def fixed_admin(text: str, port: int, token: str | None = None) -> str:
    admin = f"admin: {{port: {port}" + (f", token: {token}}}" if token else "}")
    return re.sub(r"admin: \{port: 0[^}]*\}", admin, text)


@pytest.fixture
def fixed_file(tmp_path: Path, backend: int) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(fixed_admin(config(backend, free_port()), free_port()), encoding="utf-8")
    return path


def test_commands_find_the_gateway_from_its_own_file(fixed_file: Path) -> None:
    gateway = Gateway(fixed_file)
    try:
        gateway.wait_for(settled)
        # Nothing runs on the default 127.0.0.1:9090 address the test could reach by luck: the
        # file's admin port is a random one, found only by reading the file.
        found = probegate("backend-health", "--gateway-config", fixed_file, "--json")
        assert found.returncode == 1, found.stderr  # one of the two servers is down
        assert json.loads(found.stdout)["backendAddressPools"][0]["backendAddressPool"]["name"] == "web"  # fmt: skip
        by_env = probegate("backend-health", "--json", env={"PROBEGATE_URL": gateway.url})
        assert by_env.returncode == 1, by_env.stderr
        probe = probegate("probe", "-g", fixed_file, "--pool", "web", "--settings", "web-http")
        assert "on-demand probe" in probe.stdout, probe.stderr
        assert "failures" not in probe.stdout  # one probe per server: no run of failures
        typo = probegate("probe", "-g", fixed_file, "--pool", "web", "--settings", "web-htp")
        assert typo.returncode == 2
        assert "--settings: no backend HTTP settings item is named 'web-htp'; did you mean 'web-http'?" in typo.stderr  # fmt: skip
    finally:
        gateway.stop()


def test_token_comes_from_the_file_too(tmp_path: Path, backend: int) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(fixed_admin(config(backend, free_port()), free_port(), "s3cret"), encoding="utf-8")  # fmt: skip
    gateway = Gateway(path)
    try:
        result = probegate("backend-health", "-g", path, "--json")
        assert result.returncode in (0, 1), result.stderr
        assert "backendAddressPools" in result.stdout
        refused = probegate("backend-health", "--url", gateway.url)
        assert refused.returncode == 2
        assert "401" in refused.stderr
        assert "--token or PROBEGATE_TOKEN" in refused.stderr
    finally:
        gateway.stop()


def test_a_refused_connection_says_how_to_point_at_the_gateway() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = probegate("backend-health", "--url", url)
    assert result.returncode == 2
    assert f"cannot reach the admin API at {url} (--url): connection refused" in result.stderr
    assert "PROBEGATE_URL" in result.stderr
    assert "--gateway-config FILE" in result.stderr
    assert "Traceback" not in result.stderr
    both = probegate("backend-health", "--url", url, "--gateway-config", "x.yaml")
    assert both.returncode == 2
    assert "give one" in both.stderr


def test_reload_prints_what_happened_or_every_problem(fixed_file: Path) -> None:
    gateway = Gateway(fixed_file)
    try:
        good = fixed_file.read_text(encoding="utf-8")
        done = probegate("reload", "-c", fixed_file)
        assert done.returncode == 0, done.stderr
        assert f"{gateway.url}: reloaded (2 probe targets)" in done.stdout
        assert "changes.targetsKept: 2" in done.stdout  # what the reload changed
        assert "changes.listenersAdded: none" in done.stdout
        fixed_file.write_text(good.replace("interval: 1", "intervall: 1"), encoding="utf-8")
        # The rest of the file does not validate, yet its admin section still finds the gateway,
        # which answers with every problem and keeps its running configuration.
        refused = probegate("reload", "-c", fixed_file)
        assert refused.returncode == 1
        assert "reload refused; the running configuration stays" in refused.stderr
        assert "probes[0].intervall: unknown key; did you mean 'interval'?" in refused.stderr
        by_url = probegate("reload", "--url", gateway.url)
        assert by_url.returncode == 1
    finally:
        gateway.stop()


def test_run_writes_a_pid_file_and_logs_utc_json_lines(tmp_path: Path, backend: int) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(config(backend, free_port()) + "logging: {format: json}\n", encoding="utf-8")
    pid_file = tmp_path / "run" / "probegate.pid"
    pid_file.parent.mkdir()
    gateway = Gateway(path, "--pid-file", str(pid_file), "--log-level", "INFO")
    try:
        assert pid_file.read_text(encoding="ascii").strip() == str(gateway.process.pid)
        gateway.wait_for(settled)
    finally:
        assert gateway.stop() == 0
    assert not pid_file.exists()
    lines = [json.loads(line) for line in gateway.stderr.splitlines()]
    assert lines, "the gateway logged nothing"
    for line in lines:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["timeStamp"])
    assert lines[-1]["message"] == "stopped"
    assert lines[-1]["level"] == "INFO"
    recovered = [x for x in lines if "→ Healthy" in x["message"]]
    assert recovered, lines
    assert {x["level"] for x in recovered} == {"INFO"}
    assert any(x["level"] == "WARNING" and "→ Unhealthy" in x["message"] for x in lines)


def test_command_line_log_options_win_over_the_file(tmp_path: Path, backend: int) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(config(backend, free_port()) + "logging: {format: json}\n", encoding="utf-8")
    gateway = Gateway(path, "--log-format", "text", "--log-level", "error")
    try:
        gateway.wait_for(settled)
    finally:
        gateway.stop()
    assert gateway.stderr == ""  # no ERROR line: health changes are WARNING/INFO, stop is INFO


def test_watch_into_a_pipe_prints_each_refresh_as_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(config(free_port(), free_port()), encoding="utf-8")
    watch = subprocess.Popen(
        [sys.executable, "-m", "probegate", "backend-health", "-c", str(path), "--watch", "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert watch.stdout is not None
    stamps, seen = 0, []
    deadline = time.monotonic() + 30
    while stamps < 2 and time.monotonic() < deadline:
        line = watch.stdout.readline()  # each refresh arrives flushed, line by line
        seen.append(line)
        stamps += "every 0.2 s" in line
    watch.terminate()
    watch.communicate(timeout=15)
    assert stamps == 2, seen
    text = "".join(seen)
    assert "\x1b[" not in text  # no cursor movement or colour codes into a pipe
    assert "tcp-connect-error" in text


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    members = ", ".join(f"{{ipAddress: 127.0.0.{i}}}" for i in range(1, 255))
    path = tmp_path / "gateway.yaml"
    path.write_text(  # 254 targets: a JSON explanation far larger than a pipe's buffer
        f"""\
httpListeners: [{{name: front, port: {free_port()}, protocol: Http}}]
backendAddressPools: [{{name: web, backendAddresses: [{members}]}}]
backendHttpSettingsCollection: [{{name: web-http, port: 80, protocol: Http}}]
requestRoutingRules:
  - {{name: all, ruleType: Basic, httpListener: front, backendAddressPool: web, backendHttpSettings: web-http}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "probegate", "explain", "-c", str(path), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.read(100)  # `| head -c 100`: then the reader goes away
    process.stdout.close()
    _, stderr = process.communicate(timeout=30)
    assert b"Traceback" not in stderr, stderr.decode()
    assert b"BrokenPipeError" not in stderr
    assert process.returncode == 1


def test_sigusr1_reopens_the_access_log_after_rotation(tmp_path: Path, backend: int) -> None:
    log = tmp_path / "access.jsonl"
    text = config(backend, free_port()) + f"accessLog: {{enabled: true, path: {log}}}\n"
    listener = int(re.search(r"name: front, port: (\d+)", text).group(1))  # type: ignore[union-attr]
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    gateway = Gateway(path)
    try:
        gateway.wait_for(lambda servers: any(s["health"] == "Healthy" for s in servers))
        url = f"http://127.0.0.1:{listener}/first"
        urllib.request.urlopen(url, timeout=10).close()
        wait_for_file(log, "/first")
        rotated = log.rename(tmp_path / "access.jsonl.1")
        gateway.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while "/second" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "no entry in the reopened file"
            urllib.request.urlopen(f"http://127.0.0.1:{listener}/second", timeout=10).close()
            time.sleep(0.3)
        assert "/second" not in rotated.read_text()
    finally:
        gateway.stop()
    assert "access log reopened" in gateway.stderr


def wait_for_file(path: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while not (path.exists() and text in path.read_text()):
        assert time.monotonic() < deadline, f"{text} never reached {path}"
        time.sleep(0.05)
