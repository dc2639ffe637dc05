"""The demo's sample backends and DNS server: one misbehaving server per scenario of SPEC section 11.

Rules of this module:
- loopback only: every server binds 127.0.0.x (each scenario its own address, so the report is
  readable; 127.0.0.1 alone where the system offers no other loopback address); the DNS server
  answers for the demo's names and the gateway asks no other resolver;
- a `Lab` is a context manager: entering starts everything (or stops what it had started and
  raises), leaving stops everything;
- each `Scenario` records the pool, the backend address member, what the server does (English
  and Korean) and the reason code it must produce, so the demo can check itself.
"""

from __future__ import annotations

import socket
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Self, TypeVar

from probegate.demo.backends import Backend, HttpBackend, Served, TlsBackend, shown
from probegate.demo.certs import Chain, DemoPki, make_pki
from probegate.demo.dnsserver import DnsServer
from probegate.demo.faults import GARBAGE, PARTIAL_HEAD, FullAcceptQueue, RawBytes, closed_port
from probegate.health.codes import Reason
from probegate.i18n import Words

DOMAIN = "probegate.test"  # RFC 6761: never delegated, so no real resolver could answer it
APP_HOST = f"app.{DOMAIN}"  # probe host of every setting; the FQDN member the DNS server knows
GONE_HOST = f"gone.{DOMAIN}"  # the FQDN member the DNS server answers NXDOMAIN
SLOW_SECONDS = 3.0

B = TypeVar("B", bound=AbstractContextManager[object])


@dataclass(frozen=True, slots=True)
class Scenario:
    gateway: str  # "demo" (v2) or "legacy" (v1)
    pool: str
    member: dict[str, object]  # the backendAddresses entry
    server: str  # the address as the health report names it
    what: Words
    expected: Reason


@cache
def host(last: int) -> str:
    """127.0.0.`last`, or 127.0.0.1 where only that loopback address can be bound."""
    candidate = f"127.0.0.{last}"
    try:
        with socket.socket() as probe:
            probe.bind((candidate, 0))
    except OSError:
        return "127.0.0.1"
    return candidate


def _ok(name: str) -> bytes:
    return b'{"status":"ok","server":"%s"}' % name.encode()


class Lab(Served):
    """Every sample backend and the DNS server, running; `scenarios` in report order."""

    def __init__(self, now: datetime) -> None:
        self.pki: DemoPki = make_pki(APP_HOST, now)
        self.scenarios: list[Scenario] = []
        self.skipped: list[str] = []
        self.dns_answers: dict[str, str] = {}  # what the DNS server says for each demo name
        self._stack = ExitStack()
        self.dns: DnsServer = DnsServer(host(53))

    def start(self) -> Self:
        try:
            self._stack.enter_context(self.dns)
            self._web()
            self._status_codes()
            self._content()
            self._tls()
            self._legacy()
        except BaseException:
            self._stack.close()
            raise
        return self

    def stop(self) -> None:
        self._stack.close()

    # ---------------------------------------------------------------- helpers

    def _start(self, backend: B) -> B:
        self._stack.enter_context(backend)
        return backend

    def _add(
        self, pool: str, backend: Backend, what: Words, expected: Reason, gateway: str = "demo"
    ) -> None:
        member: dict[str, object] = {"ipAddress": backend.host, "port": backend.port}
        self.scenarios.append(Scenario(gateway, pool, member, backend.address, what, expected))

    # ---------------------------------------------------------------- the pools

    def _web(self) -> None:
        for last in (11, 12):
            backend = self._start(HttpBackend(200, _ok(f"web-{last}"), host=host(last)))
            self._add("web", backend, _HEALTHY, Reason.SUCCESS)
        named = self._start(HttpBackend(200, _ok("web-13"), host=host(13)))
        self.dns.answer(APP_HOST, named.host, ttl=30)
        self.dns_answers[APP_HOST] = named.host
        self._fqdn(APP_HOST, named.port, _RESOLVED, Reason.SUCCESS)
        slow = self._start(HttpBackend(200, _ok("slow"), delay=SLOW_SECONDS, host=host(14)))
        self._add("web", slow, _SLOW, Reason.BACKEND_SERVER_TIMEOUT)
        refused_host = host(15)
        refused = closed_port(refused_host)
        self.scenarios.append(
            Scenario("demo", "web", {"ipAddress": refused_host, "port": refused},
                     shown(refused_host, refused), _REFUSED, Reason.TCP_CONNECT_ERROR)
        )  # fmt: skip
        self._full_queue()
        self.dns.nxdomain(GONE_HOST)
        self.dns_answers[GONE_HOST] = "NXDOMAIN"
        self._fqdn(GONE_HOST, 80, _NXDOMAIN, Reason.DNS_RESOLUTION_ERROR)

    def _fqdn(self, name: str, port: int, what: Words, expected: Reason) -> None:
        member: dict[str, object] = {"fqdn": name, "port": port}
        self.scenarios.append(Scenario("demo", "web", member, f"{name}:{port}", what, expected))

    def _full_queue(self) -> None:
        try:
            queue = self._start(FullAcceptQueue(host(16)))
        except (AssertionError, OSError) as exc:  # a kernel that queues differently
            self.skipped.append(f"accept queue full: {exc}")
            return
        self.scenarios.append(
            Scenario("demo", "web", {"ipAddress": queue.host, "port": queue.port}, queue.address,
                     _QUEUE_FULL, Reason.TCP_CONNECT_ERROR)
        )  # fmt: skip

    def _status_codes(self) -> None:
        for last, status in ((21, 401), (22, 403), (23, 404), (24, 405), (25, 500), (26, 503)):
            backend = self._start(HttpBackend(status, b"nope", host=host(last)))
            what = Words(f"answers {status}", f"{status} 응답")
            self._add("status-codes", backend, what, Reason.HTTP_STATUS_CODE_MISMATCH)

    def _content(self) -> None:
        degraded = self._start(HttpBackend(200, b'{"status":"degraded"}', host=host(31)))
        self._add("content", degraded, _DEGRADED, Reason.HTTP_RESPONSE_BODY_MISMATCH)
        garbage = self._start(RawBytes(GARBAGE, host=host(32)))
        self._add("content", garbage, _GARBAGE, Reason.INVALID_HTTP_RESPONSE)
        partial = self._start(RawBytes(PARTIAL_HEAD, host=host(33)))
        self._add("content", partial, _PARTIAL, Reason.INVALID_HTTP_RESPONSE)
        login = self._start(HttpBackend(401, b"login first", host=host(41)))
        self._add("login", login, _LOGIN, Reason.SUCCESS)

    def _tls(self) -> None:
        pki = self.pki
        cases: list[tuple[int, Chain, Words, Reason]] = [
            (61, pki.chain(pki.leaf, pki.intermediate), _HEALTHY_TLS, Reason.SUCCESS),
            (62, pki.chain(pki.expiring, pki.intermediate), _EXPIRING, Reason.SUCCESS),
            (63, pki.chain(pki.leaf), _NO_INTERMEDIATE, Reason.INTERMEDIATE_MISSING),
            (64, pki.chain(pki.intermediate, pki.leaf), _WRONG_ORDER, Reason.LEAF_NOT_TOPMOST),
            (65, pki.chain(pki.wrong_name, pki.intermediate), _WRONG_NAME, Reason.NAME_MISMATCH),
            (66, pki.chain(pki.expired, pki.intermediate), _EXPIRED,
             Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID),
            (67, pki.chain(pki.other_leaf, pki.other_intermediate), _OTHER_CA,
             Reason.TRUSTED_ROOT_MISMATCH),
            (68, pki.chain(pki.client_only, pki.intermediate), _CLIENT_ONLY,
             Reason.CERTIFICATE_VERIFICATION_FAILED),
            (73, pki.chain(pki.other_leaf, pki.other_intermediate, pki.other_root),
             _OTHER_ROOT_SENT, Reason.TRUSTED_ROOT_MISMATCH_ROOT_PRESENTED),
            (74, pki.chain(pki.intermediate, pki.root), _NO_LEAF, Reason.LEAF_MISSING),
        ]  # fmt: skip
        for last, chain, what, expected in cases:
            backend = self._start(TlsBackend(chain.pems, chain.key_pem, body=_ok(f"secure-{last}"), host=host(last)))  # fmt: skip
            self._add("secure", backend, what, expected)
        plain = self._start(HttpBackend(200, _ok("plain"), host=host(69)))
        self._add("secure", plain, _PLAIN_HTTP, Reason.TLS_HANDSHAKE_ERROR)
        public_cases: list[tuple[int, Chain, Words, Reason]] = [
            (70, pki.chain(pki.self_signed), _SELF_SIGNED, Reason.INTERMEDIATE_MISSING),
            (75, pki.chain(pki.leaf, pki.intermediate, pki.root), _PRIVATE_ROOT_SENT,
             Reason.CERTIFICATE_INVALID_CA),
            (76, pki.chain(pki.leaf, pki.intermediate), _PRIVATE_NO_ROOT,
             Reason.INTERMEDIATE_NOT_WELL_KNOWN),
        ]  # fmt: skip
        for last, chain, what, expected in public_cases:
            backend = self._start(TlsBackend(chain.pems, chain.key_pem, host=host(last)))
            self._add("public", backend, what, expected)

    def _legacy(self) -> None:
        pki = self.pki
        good = pki.chain(pki.legacy, pki.intermediate)
        backend = self._start(TlsBackend(good.pems, good.key_pem, body=_ok("legacy-71"), host=host(71)))  # fmt: skip
        self._add("legacy", backend, _V1_MATCH, Reason.SUCCESS, gateway="legacy")
        other = pki.chain(pki.leaf, pki.intermediate)
        backend = self._start(TlsBackend(other.pems, other.key_pem, host=host(72)))
        self._add("legacy", backend, _V1_MISMATCH, Reason.AUTHENTICATION_CERTIFICATE_MISMATCH, gateway="legacy")  # fmt: skip


# What each server does, as the report's server column shows it.
_HEALTHY = Words("healthy: answers 200", "정상: 200 응답")
_RESOLVED = Words("healthy, found through the demo DNS server", "정상, 데모 DNS 서버로 이름 해석")
_SLOW = Words(
    f"answers after {SLOW_SECONDS:.0f} s; the probe waits 1 s",
    f"{SLOW_SECONDS:.0f}초 뒤에 응답; 프로브는 1초만 기다림",
)
_REFUSED = Words("nothing listens on the port", "포트에서 리스닝하는 프로세스 없음")
_QUEUE_FULL = Words("accept queue full: connects time out", "accept 큐 가득 참: 연결 시간 초과")
_NXDOMAIN = Words("the DNS server answers NXDOMAIN", "DNS 서버가 NXDOMAIN 응답")
_DEGRADED = Words(
    'answers 200 without "status":"ok" in the body', '200 응답, 본문에 "status":"ok" 없음'
)
_GARBAGE = Words("answers bytes that are not HTTP", "HTTP 가 아닌 바이트를 응답")
_PARTIAL = Words("closes inside the response head", "응답 헤더 도중에 연결을 닫음")
_LOGIN = Words("answers 401; its probe accepts 401", "401 응답; 이 프로브는 401 을 정상으로 봄")
_HEALTHY_TLS = Words(
    "TLS: leaf + intermediate, to the uploaded root",
    "TLS: 리프 + 중간 인증서, 업로드한 루트로 검증",
)
_EXPIRING = Words("TLS: leaf expires in 5 days", "TLS: 리프가 5일 뒤 만료")
_NO_INTERMEDIATE = Words("TLS: sends the leaf only", "TLS: 리프 인증서만 보냄")
_WRONG_ORDER = Words("TLS: sends the intermediate first", "TLS: 중간 인증서를 먼저 보냄")
_WRONG_NAME = Words(f"TLS: certificate for shop.{DOMAIN}", f"TLS: shop.{DOMAIN} 용 인증서")
_EXPIRED = Words("TLS: leaf expired 2 days ago", "TLS: 리프가 2일 전에 만료됨")
_OTHER_CA = Words("TLS: issued by a CA nobody uploaded", "TLS: 업로드되지 않은 CA 가 발급")
_CLIENT_ONLY = Words(
    "TLS: a client certificate (no serverAuth)", "TLS: 클라이언트 인증서 (serverAuth 없음)"
)
_PLAIN_HTTP = Words("plain HTTP on an HTTPS setting", "HTTPS 설정에 평문 HTTP 서버")
_SELF_SIGNED = Words(
    "TLS: self-signed, not a CA (taken for a leaf without its issuer)",
    "TLS: 자체 서명, CA 아님 (발급자 없는 리프로 판정)",
)
_OTHER_ROOT_SENT = Words(
    "TLS: sends its own root, which nobody uploaded", "TLS: 업로드되지 않은 자기 루트를 함께 보냄"
)
_NO_LEAF = Words("TLS: sends the intermediate and root, no leaf", "TLS: 리프 없이 중간·루트만 보냄")
_PRIVATE_ROOT_SENT = Words(
    "TLS: private CA, root sent, no trusted root uploaded",
    "TLS: 사설 CA, 루트도 보냄, 신뢰 루트 업로드 안 함",
)
_PRIVATE_NO_ROOT = Words(
    "TLS: private CA, leaf + intermediate, no trusted root uploaded",
    "TLS: 사설 CA, 리프 + 중간 인증서, 신뢰 루트 업로드 안 함",
)
_V1_MATCH = Words(
    "v1: presents the authentication certificate", "v1: 인증 인증서와 같은 인증서를 제시"
)
_V1_MISMATCH = Words("v1: presents another certificate", "v1: 인증 인증서와 다른 인증서를 제시")
