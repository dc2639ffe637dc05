"""The callback-driven plain-HTTP probe (`health/plain.py`) against real sockets: what sets it
apart from the transport path — no task per probe, the outcome delivered by a callback and never
from inside `start`, cancellation at every stage, the connect permit never lost. (What a probe
observes is the runner's contract; tests/integration/test_runner.py checks it through this path
for every plain-HTTP case.)"""

from __future__ import annotations

import _socket
import asyncio
from dataclasses import replace

from probegate.config.effective import Decided
from probegate.demo.backends import HttpBackend
from probegate.demo.faults import Silent, closed_port
from probegate.health.capacity import Capacity
from probegate.health.codes import Reason
from probegate.health.evaluate import Outcome
from probegate.health.observation import Failure, Observation, Phase
from probegate.health.plain import PlainProbe, applies
from probegate.health.prober import Prober
from probegate.resolver import Resolver
from tests.integration.test_runner import make_probe, run


def plain(
    host: str,
    port: int,
    capacity: Capacity | None,
    done: list[Observation],
    headers: tuple[tuple[str, str], ...] = (),
) -> PlainProbe:
    probe = replace(make_probe(host, port), headers=Decided(headers, "the test's"))
    return PlainProbe(
        probe,
        capacity,
        done.append,
        wall_clock=lambda: 0.0,
        monotonic=asyncio.get_running_loop().time,
    )


def test_a_plain_probe_runs_without_a_task() -> None:
    async def scenario(backend: HttpBackend) -> tuple[int, Outcome | Exception]:
        ended: asyncio.Future[Outcome | Exception] = asyncio.get_running_loop().create_future()
        probe = make_probe(backend.host, backend.port)
        assert applies(probe)
        Prober(Resolver()).start(probe, ended.set_result)
        while not backend.requests:  # the request arrived; the answer is 0.2 s away
            await asyncio.sleep(0.005)
        tasks = len(asyncio.all_tasks())
        return tasks, await ended

    with HttpBackend(delay=0.2) as backend:
        tasks, outcome = run(scenario(backend))
    assert tasks == 1  # this test's own
    assert isinstance(outcome, Outcome)
    assert outcome.result.reason is Reason.SUCCESS
    assert outcome.result.status == 200


def test_the_outcome_of_a_refused_connect_comes_after_start_returns() -> None:
    async def scenario() -> tuple[int, list[Observation]]:
        done: list[Observation] = []
        one = plain("127.0.0.1", closed_port(), None, done)
        one.start()
        seen_in_start = len(done)
        while not done:
            await asyncio.sleep(0.005)
        return seen_in_start, done

    seen_in_start, done = run(scenario())
    assert seen_in_start == 0
    (seen,) = done
    assert (seen.failure, seen.phase, seen.detail) == (
        Failure.CONNECT_REFUSED,
        Phase.CONNECT,
        "refused",
    )


def test_cancelling_a_probe_that_waits_for_a_permit_leaves_the_queue() -> None:
    async def scenario(backend: HttpBackend) -> tuple[bool, list[Observation]]:
        capacity = Capacity(1)
        assert capacity.try_take()  # another probe holds the only permit
        done: list[Observation] = []
        one = plain(backend.host, backend.port, capacity, done)
        one.start()
        one.cancel()
        capacity.release()
        await asyncio.sleep(0.05)
        return capacity.try_take(), done

    with HttpBackend() as backend:
        free, done = run(scenario(backend))
    assert free  # the permit came back to the pool, not to the cancelled probe
    assert done == []
    assert backend.connections == 0


def test_a_permit_handed_to_a_probe_cancelled_meanwhile_is_passed_on() -> None:
    async def scenario(backend: HttpBackend) -> tuple[bool, list[Observation]]:
        capacity = Capacity(1)
        assert capacity.try_take()
        done: list[Observation] = []
        one = plain(backend.host, backend.port, capacity, done)
        one.start()
        capacity.release()  # handed to the waiting probe; its callback has not run yet
        one.cancel()
        await asyncio.sleep(0.05)
        return capacity.try_take(), done

    with HttpBackend() as backend:
        free, done = run(scenario(backend))
    assert free
    assert done == []


def test_cancelling_a_probe_in_flight_closes_its_socket_and_reports_nothing() -> None:
    async def scenario(backend: Silent) -> tuple[int, list[Observation], Capacity]:
        capacity = Capacity(1)
        done: list[Observation] = []
        one = plain(backend.host, backend.port, capacity, done)
        one.start()
        while not backend.connections:
            await asyncio.sleep(0.005)
        sock = one._sock
        assert isinstance(sock, _socket.socket)  # the C type: plain.py needs no more
        one.cancel()
        await asyncio.sleep(0.05)
        return sock.fileno(), done, capacity

    with Silent() as backend:
        fileno, done, capacity = run(scenario(backend))
    assert fileno == -1
    assert done == []
    assert capacity.try_take()  # released when the connect completed, not held by the cancel


def test_a_long_request_is_written_whole() -> None:
    headers = tuple((f"X-Filler-{i}", "x" * 200) for i in range(40))  # ~9 KB of request head

    async def scenario(backend: HttpBackend) -> list[Observation]:
        done: list[Observation] = []
        one = plain(backend.host, backend.port, None, done, headers=headers)
        one.start()
        while not done:
            await asyncio.sleep(0.005)
        return done

    with HttpBackend() as backend:
        (seen,) = run(scenario(backend))
    assert seen.failure is None
    assert backend.requests[0].header("X-Filler-39") == "x" * 200
