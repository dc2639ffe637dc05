"""`probegate run` with worker processes (`workers: 2`): a killed worker is replaced and only its
requests in flight fail; a verdict reaches every worker; cookie affinity, draining, /metrics and
the access log are the same whichever worker answers; SIGTERM drains every worker; a reload adds
and retires workers. Real processes on loopback.

Timings are recorded and printed (run with -s to see them), never asserted as bounds on a
shared machine: the tests assert the order of events and generous outer limits."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import ssl
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest
import trustme

from tests.e2e.workerkit import (
    Answer,
    Backend,
    Load,
    Running,
    backends,
    document,
    request,
    running,
    wait_until,
)

pytestmark = pytest.mark.e2e


def two_workers_seen(answers: Sequence[Answer]) -> bool:
    return len({a.worker for a in answers if a.worker}) >= 2


def test_a_killed_worker_is_replaced_and_only_its_requests_in_flight_fail(tmp_path: Path) -> None:
    with (
        backends(Backend("a", delay=0.02)) as (a,),
        running(tmp_path / "g.json", document([a])) as gateway,
    ):
        assert wait_until(lambda: gateway.routable() == {a.address})
        before = {w["worker"]: w["pid"] for w in gateway.workers()}
        assert len(before) == 2
        with Load(gateway.port, clients=8, keep_alive=4) as load:
            assert wait_until(lambda: two_workers_seen(load.ok()) and len(load.ok()) > 100)
            killed_at = time.time()
            os.kill(before[1], signal.SIGKILL)
            assert wait_until(
                lambda: any(
                    w["worker"] == 1 and w["pid"] != before[1] and w["state"] == "running"
                    for w in gateway.workers()
                ),
                10,
            )
            replaced_at = time.time()
            assert wait_until(lambda: len([x for x in load.ok() if x.at > replaced_at]) > 100)
        answers = load.answers
        failed = [x for x in answers if x.status != 200]
        after = [x for x in answers if x.status == 200 and x.at > killed_at]
        # A client has at most one request in flight: each fails at most once, and only after
        # the kill (nothing failed before it).
        per_client = Counter(x.client for x in failed)
        assert all(count == 1 for count in per_client.values()), failed
        assert all(x.at >= killed_at for x in failed), failed
        assert len(failed) <= load.clients
        assert after, "no answer after the kill"
        resumed = after[0].at - killed_at
        last_failure = max((x.at for x in failed), default=killed_at)
        assert any(x.at > last_failure for x in after)  # answers went on after the last failure
        workers = {w["worker"]: w for w in gateway.workers()}
        assert workers[1]["restarts"] == 1
        assert workers[2]["restarts"] == 0
        assert workers[2]["pid"] == before[2]
        metrics = gateway.text("/metrics")
        assert 'probegate_worker_restarts_total{worker="1"} 1.0' in metrics
        print(
            f"\nkill → first answer after it {resumed * 1000:.0f} ms, → replacement running "
            f"{(replaced_at - killed_at) * 1000:.0f} ms (as seen by polling /healthz); "
            f"{len(failed)} of {len(answers)} requests failed: "
            f"{Counter(x.detail.split(':')[0] for x in failed)}"
        )
    assert gateway.process.returncode == 0, gateway.stderr[-2000:]
    assert "worker 1 (pid" in gateway.stderr
    assert "died; replacing it" in gateway.stderr
    assert "Traceback" not in gateway.stderr


def test_a_verdict_reaches_every_worker(tmp_path: Path) -> None:
    """B fails its probe, then passes: every worker routes to it after its Healthy verdict,
    none before it."""
    with (
        backends(Backend("a"), Backend("b", healthy=False)) as (a, b),
        running(tmp_path / "g.json", document([a, b])) as gateway,
    ):
        assert wait_until(lambda: gateway.routable() == {a.address})
        with Load(gateway.port, clients=6) as load:
            assert wait_until(lambda: two_workers_seen(load.ok()))
            b.healthy.set()
            assert wait_until(
                lambda: len({x.worker for x in load.ok() if x.backend == "b"}) >= 2, 20
            )
        events = gateway.get_json(f"/backendhealth/events?server={b.address}")["events"]
        healthy = [e for e in events if e["to"] == "Healthy"]
        assert len(healthy) == 1, events
        verdict = _epoch(healthy[0]["time"])
        first_b: dict[str, float] = {}
        for answer in load.ok():
            if answer.backend == "b":
                first_b.setdefault(answer.worker, answer.at)
        assert len(first_b) >= 2
        delays = {w: t - verdict for w, t in first_b.items()}
        # The event's time has millisecond precision, and the answer is stamped when the
        # client read it: none comes before the verdict.
        assert all(d > -0.01 for d in delays.values()), delays
        assert all(d < 5.0 for d in delays.values()), delays  # generous: a loaded machine
        shown = ", ".join(f"{d * 1000:.0f} ms" for d in sorted(delays.values()))
        print(f"\nverdict → first request routed to it, per worker: {shown}")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_cookie_affinity_pins_whichever_worker_answers(tmp_path: Path) -> None:
    with (
        backends(Backend("a"), Backend("b")) as (a, b),
        running(tmp_path / "g.json", document([a, b], affinity=True)) as gateway,
    ):
        assert wait_until(lambda: gateway.routable() == {a.address, b.address})
        first, reply = request(gateway.port)
        assert reply is not None
        assert first.status == 200
        cookie = reply.getheader("Set-Cookie")
        assert cookie is not None
        assert cookie.startswith("ApplicationGatewayAffinity=")
        pinned = {"Cookie": cookie.split(";", 1)[0]}
        with Load(gateway.port, clients=4, headers=pinned) as load:
            assert wait_until(lambda: two_workers_seen(load.ok()) and len(load.ok()) > 200)
        answers = load.ok()
        assert {x.backend for x in answers} == {first.backend}
        assert len({x.worker for x in answers}) == 2


def test_draining_through_the_api_acts_in_every_worker(tmp_path: Path) -> None:
    with (
        backends(Backend("a"), Backend("b")) as (a, b),
        running(tmp_path / "g.json", document([a, b])) as gateway,
    ):
        assert wait_until(lambda: gateway.routable() == {a.address, b.address})
        with Load(gateway.port, clients=4) as load:
            assert wait_until(
                lambda: len({(x.worker, x.backend) for x in load.ok()}) == 4  # both, in both
            )
            status, body = gateway.post_json(
                "/backendhealth/drain", {"backendAddressPool": "app", "address": b.address}
            )
            assert status == 200, body
            drained_at = time.time()
            assert wait_until(lambda: len([x for x in load.ok() if x.at > drained_at]) > 300)
        after = [x for x in load.ok() if x.at > drained_at + 1.0]  # the drain has spread
        assert after
        assert {x.backend for x in after} == {"a"}
        assert len({x.worker for x in after}) == 2
        late = [x.at - drained_at for x in load.ok() if x.backend == "b" and x.at > drained_at]
        print(f"\nanswers from the drained member after the drain call: {len(late)}")


def _samples(text: str, name: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith(name):
            labels, _, value = line.rpartition(" ")
            found[labels] = float(value)
    return found


def test_metrics_sum_every_workers_counters(tmp_path: Path) -> None:
    with backends(Backend("a")) as (a,), running(tmp_path / "g.json", document([a])) as gateway:
        assert wait_until(lambda: gateway.routable() == {a.address})
        seen: list[Answer] = []
        while not two_workers_seen(seen) or len(seen) < 40:
            answer, _ = request(gateway.port)
            assert answer.status == 200
            seen.append(answer)
        by_worker = Counter(x.worker for x in seen)
        key = 'probegate_response_status_total{listener="front",status_group="2xx"}'

        def counted() -> float:
            return _samples(gateway.text("/metrics"), key).get(key, 0.0)

        # The worker counts an answer just after writing it: wait for the last one's count.
        assert wait_until(lambda: counted() >= len(seen), 5)
        text = gateway.text("/metrics")
        assert counted() == len(seen)
        assert _samples(text, "probegate_workers ") == {"probegate_workers": 2.0}
        server = _samples(text, "probegate_backend_response_status_total")
        assert sum(server.values()) == len(seen)
        durations = _samples(text, "probegate_request_duration_seconds_count")
        assert sum(durations.values()) == len(seen)  # the workers' histograms, summed
        print(f"\nanswers per worker: {dict(by_worker)}")


@pytest.mark.parametrize("where", ["file", "stdout"])
def test_one_access_log_with_whole_lines(tmp_path: Path, where: str) -> None:
    log = tmp_path / "access.jsonl"
    path = str(log) if where == "file" else "-"
    with backends(Backend("a")) as (a,):
        doc = document([a], accessLog={"enabled": True, "path": path})
        with running(tmp_path / "g.json", doc) as gateway:
            assert wait_until(lambda: gateway.routable() == {a.address})
            long = "/" + "x" * 1500  # lines of ~2 kB: a batch is many pipe-sized writes
            with Load(gateway.port, clients=8) as load:
                load.headers["X-Pad"] = "p"
                assert wait_until(lambda: two_workers_seen(load.ok()) and len(load.ok()) > 600)
            sent = len(load.answers)
            for _ in range(3):
                request(gateway.port, long)
                sent += 1
        text = log.read_text() if where == "file" else "".join(gateway.lines)
    lines = text.splitlines()
    entries = [json.loads(line) for line in lines]  # a mixed line would not parse
    assert len(entries) == sent
    assert len({e["transactionId"][:16] for e in entries}) == 2  # both workers wrote
    assert sum(e["requestUri"] == long for e in entries) == 3


def test_sigterm_drains_every_worker(tmp_path: Path) -> None:
    with backends(Backend("slow", delay=1.5)) as (slow,):
        gateway_cm = running(tmp_path / "g.json", document([slow]))
        gateway = gateway_cm.__enter__()
        try:
            assert wait_until(lambda: gateway.routable() == {slow.address})
            answers: list[Answer] = []
            clients = [
                threading.Thread(target=lambda: answers.append(request(gateway.port)[0]))
                for _ in range(8)
            ]
            for client in clients:
                client.start()
            time.sleep(0.5)  # the requests are at the backend, on both workers
            gateway.signal(signal.SIGTERM)
            for client in clients:
                client.join(15)
        finally:
            gateway_cm.__exit__(None, None, None)
    assert gateway.process.returncode == 0, gateway.stderr[-2000:]
    assert [a.status for a in answers] == [200] * 8
    assert len({a.worker for a in answers}) == 2
    assert "Traceback" not in gateway.stderr


def test_a_reload_adds_and_retires_workers(tmp_path: Path) -> None:
    with backends(Backend("a")) as (a,), running(tmp_path / "g.json", document([a])) as gateway:
        assert wait_until(lambda: gateway.routable() == {a.address})
        first = {w["worker"]: w["pid"] for w in gateway.workers()}
        doc = json.loads(gateway.path.read_text())
        for count in (3, 1):
            doc["workers"] = count
            gateway.path.write_text(json.dumps(doc))
            status, body = gateway.post_json("/reload", {})
            assert status == 200, body
            assert wait_until(partial(_all_running, gateway, count))
        assert [w["pid"] for w in gateway.workers()] == [first[1]]  # slot 1 served throughout
        answer, _ = request(gateway.port)
        assert answer.status == 200
    assert re.search(r"\d+ workers retiring", gateway.stderr)


def _all_running(gateway: Running, count: int) -> bool:
    return [w["state"] for w in gateway.workers()] == ["running"] * count


def test_live_failures_in_the_workers_eject_through_the_supervisors_store(tmp_path: Path) -> None:
    """passiveHealth: b answers every live request with 500 (its probe passes); the workers' runs
    of failures reach the supervisor's store, which ejects b for every worker."""
    passive = {"enabled": True, "consecutiveFailures": 3, "failures": ["5xx"]}
    with (
        backends(Backend("a"), Backend("b", failing=True)) as (a, b),
        running(tmp_path / "g.json", document([a, b], passive=passive)) as gateway,
    ):
        assert wait_until(lambda: gateway.routable() == {a.address, b.address})
        with Load(gateway.port, clients=4) as load:
            assert wait_until(lambda: gateway.routable() == {a.address}, 20)
            ejected_at = time.time()
            assert wait_until(lambda: len([x for x in load.ok() if x.at > ejected_at + 1]) > 100)
        after = [x for x in load.answers if x.at > ejected_at + 1.0]
        assert {x.status for x in after} == {200}  # b's 500s stopped in both workers
        assert len({x.worker for x in after}) == 2
        events = gateway.get_json(f"/backendhealth/events?server={b.address}")["events"]
        assert any(e["toReason"] == "passive-ejection" for e in events), events


def test_a_reload_moving_a_port_from_http_to_https_rebinds_it_for_every_worker(
    tmp_path: Path,
) -> None:
    """The old socket must close in every worker (and the supervisor) before the port can be
    bound again for TLS: the supervisor asks the workers to let it go, then binds and hands over."""
    ca = trustme.CA()
    issued = ca.issue_cert("app.test", "127.0.0.1")
    chain, key = tmp_path / "gw.pem", tmp_path / "gw.key"
    chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    key.write_bytes(issued.private_key_pem.bytes())
    with backends(Backend("a")) as (a,), running(tmp_path / "g.json", document([a])) as gateway:
        assert wait_until(lambda: gateway.routable() == {a.address})
        assert request(gateway.port)[0].status == 200
        doc = json.loads(gateway.path.read_text())
        doc["sslCertificates"] = [{"name": "gw", "certFile": str(chain), "keyFile": str(key)}]
        doc["httpListeners"][0] |= {"protocol": "Https", "sslCertificate": "gw"}
        gateway.path.write_text(json.dumps(doc))
        status, body = gateway.post_json("/reload", {})
        assert status == 200, body
        assert body["changes"]["listenersAdded"] == [f"https://127.0.0.1:{gateway.port}"]
        context = ssl.create_default_context()
        ca.configure_trust(context)
        workers: set[str] = set()
        for _ in range(200):
            connection = http.client.HTTPSConnection(
                "127.0.0.1", gateway.port, timeout=10, context=context
            )
            connection.request("GET", "/", headers={"Host": "app.test"})
            reply = connection.getresponse()
            text = reply.read().decode()
            connection.close()
            assert reply.status == 200, text
            workers.add(text.partition(" ")[2][:16])
            if len(workers) == 2:
                break
        assert len(workers) == 2  # both workers accept on the new TLS socket
        plain = request(gateway.port)[0]
        assert plain.status == 400  # plain HTTP reaching the HTTPS port now
    assert "Traceback" not in gateway.stderr


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to read its status has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_workers_and_the_launcher_end_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """No orphan keeps the port: the workers see their channel close and drain, the launcher
    sees its socket close."""
    with backends(Backend("a")) as (a,), running(tmp_path / "g.json", document([a])) as gateway:
        assert wait_until(lambda: gateway.routable() == {a.address})
        workers = [w["pid"] for w in gateway.workers()]
        stat = Path(f"/proc/{workers[0]}/stat").read_text()
        launcher = int(stat.rsplit(")", 1)[1].split()[1])
        assert launcher != gateway.process.pid  # the workers' parent is the launcher
        assert request(gateway.port)[0].status == 200
        gateway.process.kill()
        gateway.process.wait(10)
        assert wait_until(lambda: not any(map(_alive, [*workers, launcher])), 20)
        assert request(gateway.port)[0].status == 0  # nothing holds the listener any more


def test_workers_on_the_command_line_win_over_the_file_on_reload(tmp_path: Path) -> None:
    with (
        backends(Backend("a")) as (a,),
        running(tmp_path / "g.json", document([a], workers=3), "--workers", "2") as gateway,
    ):
        assert wait_until(lambda: gateway.routable() == {a.address})
        assert _all_running(gateway, 2)  # not the file's 3
        doc = json.loads(gateway.path.read_text())
        doc["workers"] = 1
        gateway.path.write_text(json.dumps(doc))
        status, body = gateway.post_json("/reload", {})
        assert status == 200, body
        assert _all_running(gateway, 2)  # --workers 2 holds for the process's life
        assert request(gateway.port)[0].status == 200


def test_sigusr1_reopens_the_access_log_in_every_worker(tmp_path: Path) -> None:
    log, moved = tmp_path / "access.jsonl", tmp_path / "access.jsonl.1"
    with backends(Backend("a")) as (a,):
        doc = document([a], accessLog={"enabled": True, "path": str(log)})
        with running(tmp_path / "g.json", doc) as gateway:
            assert wait_until(lambda: gateway.routable() == {a.address})
            before: list[Answer] = []
            while not two_workers_seen(before):
                before.append(request(gateway.port)[0])
            assert wait_until(
                lambda: log.exists() and len(log.read_text().splitlines()) == len(before)
            )
            log.rename(moved)
            gateway.signal(signal.SIGUSR1)
            time.sleep(0.5)  # the workers take the message; their writers reopen at the next batch
            after: list[Answer] = []
            while not two_workers_seen(after):
                after.append(request(gateway.port)[0])
            assert wait_until(
                lambda: log.exists() and len(log.read_text().splitlines()) == len(after)
            )
        old = [json.loads(line) for line in moved.read_text().splitlines()]
        new = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(old) == len(before)
    assert len({e["transactionId"][:16] for e in new}) == 2  # both workers write the new file
