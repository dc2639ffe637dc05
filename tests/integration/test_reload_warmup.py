"""Warm-up and draining over real sockets: a target whose protocol a reload changed keeps serving
on its previous connection settings until the new ones pass (or the warm-up ends); an undecided
server is named in the 502 with its latest failing reason; a drained member takes no new
requests while its pinned clients stay."""

from __future__ import annotations

from pathlib import Path

from probegate.demo.backends import wait_until
from probegate.state.snapshot import GroupKey
from tests.integration.proxykit import RecordingBackend, RunningGateway, config, free_port, get


def _closed_port() -> int:
    return free_port()  # nothing listens there: connects are refused


def test_a_protocol_switch_keeps_serving_on_the_previous_protocol_during_its_warm_up(
    tmp_path: Path,
) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        document = config(port, {"web": [a]})
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            document["backendHttpSettingsCollection"][0]["protocol"] = "Https"
            document["probes"][0]["protocol"] = "Https"
            assert gw.reload(document) == []
            # The same address and port, now Https: a's verdict says nothing about TLS, so the
            # group serves on the previous (Http) target until the Https probe decides.
            assert gw.gateway is not None
            (server,) = [v for v in gw.gateway.snapshot().targets if v.previous]
            assert server.probe.target.settings.protocol.value == "Http"
            assert get(port).body == b"a"
            # a speaks no TLS: the new target never passes; after timeout (1 s) + 1 s, a 502.
            wait_until(lambda: gw.routable("web") == 0, 5, "the warm-up to end")
            reply = get(port)
            assert reply.status == 502
            assert b"pool 'web'" in reply.body


def test_a_502_names_an_undecided_server_by_its_latest_failing_reason(tmp_path: Path) -> None:
    port = free_port()
    document = config(port, {"app": []})
    document["backendAddressPools"][0]["backendAddresses"] = [
        {"ipAddress": "127.0.0.1", "port": _closed_port()}
    ]
    document["probes"][0]["unhealthyThreshold"] = 3
    document["probes"][0]["interval"] = 30  # one probe in this test's time
    with RunningGateway(tmp_path, document) as gw:
        assert gw.gateway is not None
        group = GroupKey("app", "s")

        def probed() -> bool:
            assert gw.gateway is not None
            found = gw.gateway.store.routes[group].unrouted
            return bool(found) and found[0].failures == 1

        wait_until(probed, 10, "the first probe to fail")
        reply = get(port)
    assert reply.status == 502
    assert reply.body == (
        b"the server of pool 'app' is not routable: 1 unknown (tcp-connect-error, 1 of 3 failures)\n"
    )


def test_a_drained_member_takes_no_new_requests_and_comes_back_when_undrained(
    tmp_path: Path,
) -> None:
    with RecordingBackend("a") as a, RecordingBackend("b") as b:
        port = free_port()
        document = config(port, {"web": [a, b]})
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 2)
            assert gw.gateway is not None

            async def drain(on: bool) -> list[str]:
                assert gw.gateway is not None
                return gw.gateway.drain("web", b.address, on)

            assert gw.call(drain(True)) == [b.address]
            assert {get(port).body for _ in range(6)} == {b"a"}
            states = {
                v.probe.target.key.server: v.record.state.value
                for v in gw.gateway.snapshot().targets
            }
            assert states == {a.address: "Healthy", b.address: "Draining"}
            assert gw.call(drain(False)) == [b.address]
            assert {get(port).body for _ in range(6)} == {b"a", b"b"}
