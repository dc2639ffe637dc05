"""A tiny authoritative DNS server on loopback, for resolver and scenario tests and the demo
(no daemon needed).

Rules of this module:
- loopback only: UDP and TCP on one port of 127.0.0.x (port 0, read back), in its own event loop
  thread (`backends.LoopThread`);
- authoritative for every name: a name it was not told about is NXDOMAIN;
- the zone can be changed while the server runs (to turn a good name bad, for last-good tests),
  and every query is counted per (name, type), so tests can assert when a resolver asked.

    with DnsServer() as dns_server:
        dns_server.answer("app.example.test", "127.0.0.11", ttl=30)
        dns_server.nxdomain("gone.example.test")
        dns_server.fail("broken.example.test", dns.rcode.SERVFAIL)
        dns_server.silence("slow.example.test")  # never answers: the resolver times out
        ... Resolver(servers=(dns_server.address,)) ...
        assert dns_server.count("app.example.test") == 2  # A and AAAA
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Self, cast

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from probegate.demo.backends import LoopThread, Served, shown

BIND_ATTEMPTS = 20  # UDP port 0 may already be taken for TCP; try another this many times


@dataclass(frozen=True, slots=True)
class Entry:
    """What the server says for one name."""

    addresses: tuple[str, ...] = ()
    ttl: int = 60
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    silent: bool = False  # drop the query: no answer at all
    delay: float = 0.0  # seconds before the answer is sent


class DnsServer(Served):
    """Answers A/AAAA for the names it holds, NXDOMAIN for the rest; see the module header."""

    def __init__(self, host: str = "127.0.0.53") -> None:
        self.host = host
        self._zone: dict[str, Entry] = {}
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()
        self._udp, self._tcp = _bind_pair(host)
        self.port: int = self._udp.getsockname()[1]
        self._thread = LoopThread(f"dns-{shown(host, self.port)}")
        self._transport: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> tuple[str, int]:
        """(host, port), as `GatewayPlan.dns_servers` holds a server."""
        return self.host, self.port

    @property
    def label(self) -> str:
        """'127.0.0.53:port', as `Resolution.resolver` names this server."""
        return shown(self.host, self.port)

    # ---------------------------------------------------------------- the zone

    def answer(self, name: str, *addresses: str, ttl: int = 60, delay: float = 0.0) -> None:
        """`name` has these addresses (IPv4 → A, IPv6 → AAAA), sent after `delay` seconds; no
        addresses at all: NOERROR without records."""
        self._set(name, Entry(addresses=addresses, ttl=ttl, delay=delay))

    def nxdomain(self, name: str) -> None:
        self._set(name, Entry(rcode=dns.rcode.NXDOMAIN))

    def fail(self, name: str, rcode: dns.rcode.Rcode = dns.rcode.SERVFAIL) -> None:
        self._set(name, Entry(rcode=rcode))

    def silence(self, name: str) -> None:
        self._set(name, Entry(silent=True))

    def _set(self, name: str, entry: Entry) -> None:
        with self._lock:
            self._zone[name.rstrip(".").lower()] = entry

    # ---------------------------------------------------------------- what was asked

    def count(self, name: str | None = None, rdtype: str | None = None) -> int:
        """Queries received, for one name and/or type, or all of them."""
        with self._lock:
            return sum(
                n
                for (asked, kind), n in self._counts.items()
                if name in (None, asked) and rdtype in (None, kind)
            )

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        self._thread.start()
        self._thread.call(self._open())
        return self

    def stop(self) -> None:
        try:
            self._thread.call(self._close())
        finally:
            self._thread.stop()
            self._udp.close()
            self._tcp.close()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=self._udp)
        self._server = await asyncio.start_server(self._serve_tcp, sock=self._tcp)

    async def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
                reply = self.reply(await reader.readexactly(size))
                if reply is None:
                    continue
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client is done
        finally:
            writer.close()

    # ---------------------------------------------------------------- answering

    def reply(self, wire: bytes) -> bytes | None:
        """The response to one query in wire format; None: stay silent."""
        found = self.lookup(wire)
        return None if found is None else found[0]

    def lookup(self, wire: bytes) -> tuple[bytes, float] | None:
        """The response to one query and the delay before sending it; None: stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        with self._lock:
            self._counts[name, dns.rdatatype.to_text(question.rdtype)] += 1
            entry = self._zone.get(name, Entry(rcode=dns.rcode.NXDOMAIN))
        if entry.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.set_rcode(entry.rcode)
        matching = [a for a in entry.addresses if _rdtype(a) == question.rdtype]
        if entry.rcode == dns.rcode.NOERROR and matching:
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, entry.ttl, dns.rdataclass.IN, question.rdtype, matching
                )
            )
        return response.to_wire(), entry.delay


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        found = self.server.lookup(data)
        if found is None or self.transport is None:
            return
        reply, delay = found
        if delay:
            asyncio.get_running_loop().call_later(delay, self._send, reply, addr)
        else:
            self._send(reply, addr)

    def _send(self, reply: bytes, addr: tuple[str | object, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


def _rdtype(address: str) -> dns.rdatatype.RdataType:
    if ipaddress.ip_address(address).version == 6:
        return dns.rdatatype.AAAA
    return dns.rdatatype.A


def _bind_pair(host: str) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to one port of `host` (port 0 for UDP, then the same for TCP)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(BIND_ATTEMPTS):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            tcp.bind((host, udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(16)
        return udp, tcp
    raise OSError(f"no port free for both UDP and TCP on {host}")
