"""The pieces of worker processes that need no worker: the control channel (messages whole, a
listening socket handed over), the store telling which route groups changed, a worker's copy
of the routes, `workers` in the file and `--workers` on the command line."""

from __future__ import annotations

import asyncio
import copy
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from probegate.admin.api import workers_problem
from probegate.cli import build_parser
from probegate.config.compile import compile_plan
from probegate.config.effective import effective_probes
from probegate.config.load import load_document, validate_document
from probegate.health.codes import Reason
from probegate.health.result import ProbeResult
from probegate.runtime import usable_cpus
from probegate.state.snapshot import GroupKey, RouteGroup
from probegate.state.store import HealthStore
from probegate.workers.channel import Channel
from probegate.workers.child import WorkerHealth
from tests.unit.fakeclock import Clock


def document(**extra: Any) -> dict[str, Any]:
    return {
        "httpListeners": [
            {"name": "front", "port": 8080, "protocol": "Http"},
            {"name": "other", "port": 8082, "protocol": "Http"},
        ],
        "backendAddressPools": [
            {"name": "web", "backendAddresses": [{"ipAddress": "127.0.1.1"}]},
            {"name": "api", "backendAddresses": [{"ipAddress": "127.0.1.2"}]},
        ],
        "backendHttpSettingsCollection": [{"name": "http", "port": 8081, "protocol": "Http"}],
        "requestRoutingRules": [
            {
                "name": "web",
                "ruleType": "Basic",
                "priority": 1,
                "httpListener": "front",
                "backendAddressPool": "web",
                "backendHttpSettings": "http",
            },
            {
                "name": "api",
                "ruleType": "Basic",
                "priority": 2,
                "httpListener": "other",
                "backendAddressPool": "api",
                "backendHttpSettings": "http",
            },
        ],
        **extra,
    }


# ---------------------------------------------------------------------- the control channel


def _ignore(*_: object) -> None:
    return


def test_the_channel_carries_whole_messages_and_a_listening_socket() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        got: list[tuple[object, list[socket.socket]]] = []
        closed: list[bool] = []
        sender = Channel(left, _ignore, _ignore).start(loop)
        receiver = Channel(right, lambda m, s: got.append((m, s)), lambda: closed.append(True))
        receiver.start(loop)
        listening = socket.create_server(("127.0.0.1", 0))
        big = b"x" * 3_000_000  # many reads, and a full socket buffer on the way
        sender.send(("start", big), [listening.fileno()])
        sender.send(("after", 1))
        while len(got) < 2:
            await asyncio.sleep(0.01)
        (first, socks), (second, none) = got
        assert first == ("start", big)
        assert second == ("after", 1)
        assert none == []
        assert len(socks) == 1
        assert socks[0].getsockname() == listening.getsockname()  # the same listening socket
        client = socket.create_connection(listening.getsockname())
        accepted, _ = socks[0].accept()  # accepted through the received descriptor
        for sock in (accepted, client, listening, *socks):
            sock.close()
        sender.close()
        while not closed:
            await asyncio.sleep(0.01)
        assert closed == [True]
        receiver.close()
        sender.close()

    asyncio.run(main())


def test_descriptors_given_to_the_channel_are_closed_once_sent() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        got: list[list[socket.socket]] = []
        sender = Channel(left, _ignore, _ignore).start(loop)
        receiver = Channel(right, lambda _, s: got.append(s), _ignore).start(loop)
        ours, theirs = socket.socketpair()
        sender.send("take it", [theirs.detach()], give=True)
        while not got:
            await asyncio.sleep(0.01)
        (travelled,) = got[0]
        travelled.sendall(b"hi")  # the copy that travelled works
        assert ours.recv(2) == b"hi"
        travelled.close()
        assert ours.recv(2) == b""  # end of stream: no other copy is left open on the way
        for end in (ours, sender, receiver):
            end.close()

    asyncio.run(main())


# ---------------------------------------------------------------------- publishing routes


def test_the_store_tells_which_route_groups_changed() -> None:
    plan = compile_plan(load_document(document(), "test", Path.cwd()))
    published: list[tuple[dict[GroupKey, RouteGroup], bool]] = []
    store = HealthStore(plan.tier, effective_probes(plan), monotonic=Clock())
    store.on_publish = lambda groups, whole: published.append((dict(groups), whole))
    summary = store.reload(plan.tier, effective_probes(plan))
    assert summary.kept
    assert published[-1][1] is True  # a reload publishes every group
    assert set(published[-1][0]) == {GroupKey("web", "http"), GroupKey("api", "http")}
    web = next(p for p in store.probes if p.target.key.pool == "web")
    store.record(web.target.key, ProbeResult(Reason.SUCCESS, {}, 0.0, 1.0, {}))
    groups, whole = published[-1]
    assert whole is False
    assert set(groups) == {GroupKey("web", "http")}  # only the group that changed
    assert [t.key.server for t in groups[GroupKey("web", "http")].routable] == ["127.0.1.1:8081"]


def test_a_worker_holds_routes_naming_its_own_plan_objects() -> None:
    plan = compile_plan(load_document(document(), "test", Path.cwd()))
    sent: list[object] = []

    class Recorder:
        def send(self, message: object) -> None:
            sent.append(message)

    health = WorkerHealth(Recorder())  # type: ignore[arg-type]
    health.use_plan(plan)
    target = copy.deepcopy(plan.targets[0])  # as unpickled from the supervisor: equal, not same
    group = RouteGroup((target,), 1, ())
    health.update({GroupKey("web", "http"): group}, True)
    before: Mapping[GroupKey, RouteGroup] = health.routes
    assert before[GroupKey("web", "http")].routable[0] is plan.targets[0]
    health.update({GroupKey("api", "http"): RouteGroup((), 1, ())}, False)
    assert set(health.routes) == {GroupKey("web", "http"), GroupKey("api", "http")}
    assert health.routes is not before  # replaced as a whole, never changed in place
    health.update({}, True)
    assert dict(health.routes) == {}
    assert health.eject(plan.targets[0].key, {"what": "x"}) is False  # the supervisor decides
    assert sent == [("eject", plan.targets[0].key, {"what": "x"})]


# ---------------------------------------------------------------------- configuration and CLI


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (4, 4), ("auto", None), ("AUTO", None)])
def test_workers_takes_a_number_or_auto(value: object, expected: int | None) -> None:
    plan = compile_plan(load_document(document(workers=value), "test", Path.cwd()))
    assert plan.workers == expected


def test_workers_defaults_to_auto() -> None:
    assert compile_plan(load_document(document(), "test", Path.cwd())).workers is None


@pytest.mark.parametrize("value", [0, 257, "2", True, "many", 1.5])
def test_workers_refuses_anything_else(value: object) -> None:
    _, issues = validate_document(document(workers=value), Path.cwd())
    assert [(i.path, i.message) for i in issues] == [
        ("workers", f"give a number of workers (1-256) or 'auto', got {value!r}")
    ]


def test_run_workers_on_the_command_line() -> None:
    parser = build_parser()
    assert parser.parse_args(["run", "-c", "g.yaml", "--workers", "3"]).workers == 3
    assert parser.parse_args(["run", "-c", "g.yaml", "--workers", "auto"]).workers == usable_cpus()
    assert parser.parse_args(["run", "-c", "g.yaml"]).workers is None
    for wrong in ("0", "x", "300"):
        with pytest.raises(SystemExit):
            parser.parse_args(["run", "-c", "g.yaml", "--workers", wrong])


def test_healthz_fails_while_no_worker_serves() -> None:
    assert workers_problem(None) is None  # one process: nothing to say
    running = {"worker": 1, "pid": 10, "state": "running", "restarts": 0}
    starting = {"worker": 2, "pid": 11, "state": "starting", "restarts": 3}
    assert workers_problem([running, starting]) is None
    assert workers_problem([starting]) == (
        "no worker process is serving traffic (worker 2 starting)"
    )
    assert workers_problem([]) == "no worker process is serving traffic (none left)"


def test_a_target_of_another_plan_stays_as_received() -> None:
    """The same key with other settings (a reload's warm-up still serving the previous plan's
    target): it must not be taken for this plan's target, or its retired upstream is skipped."""
    plan = compile_plan(load_document(document(), "test", Path.cwd()))
    changed = document()
    changed["backendHttpSettingsCollection"][0]["requestTimeout"] = 45
    previous = compile_plan(load_document(changed, "test", Path.cwd()))
    health = WorkerHealth(None)  # type: ignore[arg-type]
    health.use_plan(plan)
    old, new = previous.targets[0], copy.deepcopy(plan.targets[0])
    assert old.key == new.key
    health.update({GroupKey("web", "http"): RouteGroup((old, new), 2, ())}, True)
    kept = health.routes[GroupKey("web", "http")].routable
    assert kept[0] is old  # not this plan's: as received
    assert kept[1] is plan.targets[0]
