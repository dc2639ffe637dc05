"""wire.py: the front end's HTTP/1.1 rules and the gateway's own answers (pure)."""

from __future__ import annotations

from random import Random

import httptools
import pytest
from hypothesis import given
from hypothesis import strategies as st

from probegate.proxy import wire
from probegate.proxy.wire import Reject

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"app.example.test", id="name"),
        pytest.param(b"app.example.test.", id="trailing-dot"),
        pytest.param(b"app.example.test:8080", id="port"),
        pytest.param(b"127.0.0.1:65535", id="ipv4-highest-port"),
        pytest.param(b"[::1]:8080", id="ipv6-literal"),
        pytest.param(b"under_score", id="underscore"),
    ],
)
def test_hosts_that_may_reach_routing(value: bytes) -> None:
    assert wire.check_host(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(b"", "invalid Host", id="empty"),
        pytest.param(b"a b", "invalid Host", id="space"),
        pytest.param(b"user@host", "invalid Host", id="userinfo"),
        pytest.param(b"host/path", "invalid Host", id="path"),
        pytest.param(b".host", "invalid Host", id="leading-dot"),
        pytest.param(b"a..b", "invalid Host", id="empty-label"),
        pytest.param(b"host:65536", "invalid port in Host", id="port-over-65535"),
        pytest.param(b"host:123456", "invalid Host", id="port-six-digits"),
    ],
)
def test_hosts_refused_with_400(value: bytes, reason: str) -> None:
    with pytest.raises(Reject) as refused:
        wire.check_host(value)
    assert (refused.value.status, refused.value.reason) == (400, reason)


@pytest.mark.parametrize(
    ("version", "status"),
    [
        pytest.param("1.1", None, id="1.1"),
        pytest.param("1.0", None, id="1.0"),
        pytest.param("0.9", 505, id="0.9"),
        pytest.param("2.0", 505, id="2.0"),
    ],
)
def test_versions(version: str, status: int | None) -> None:
    if status is None:
        wire.check_version(version)
        return
    with pytest.raises(Reject) as refused:
        wire.check_version(version)
    assert refused.value.status == status


@pytest.mark.parametrize(
    ("value", "version", "status"),
    [
        pytest.param(b"chunked", "1.1", None, id="chunked"),
        pytest.param(b" Chunked\t", "1.1", None, id="chunked-case-and-space"),
        pytest.param(b"chunked", "1.0", 400, id="on-http-1.0"),
        pytest.param(b"gzip, chunked", "1.1", 501, id="coding-list"),
        pytest.param(b"identity", "1.1", 501, id="identity"),
        pytest.param(b"chunked;x", "1.1", 400, id="not-a-coding-list"),
    ],
)
def test_transfer_encodings(value: bytes, version: str, status: int | None) -> None:
    if status is None:
        wire.check_transfer_encoding(value, version)
        return
    with pytest.raises(Reject) as refused:
        wire.check_transfer_encoding(value, version)
    assert refused.value.status == status


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        pytest.param(b"GET", b"/a?b=c", (None, b"/a", b"b=c"), id="origin"),
        pytest.param(b"GET", b"/a?", (None, b"/a", b""), id="origin-empty-query"),
        pytest.param(b"GET", b"/a", (None, b"/a", None), id="origin-no-query"),
        pytest.param(b"OPTIONS", b"*", (None, b"*", None), id="asterisk"),
        pytest.param(b"GET", b"http://h.test/x?y", (b"h.test", b"/x", b"y"), id="absolute"),
        pytest.param(b"GET", b"HTTPS://h.test", (b"h.test", b"/", None), id="absolute-no-path"),
        pytest.param(b"GET", b"http://h.test?q", (b"h.test", b"/", b"q"), id="absolute-query"),
    ],
)
def test_request_targets(
    method: bytes, url: bytes, expected: tuple[bytes | None, bytes, bytes | None]
) -> None:
    assert wire.split_target(method, url) == expected


@pytest.mark.parametrize(
    ("method", "url"),
    [
        pytest.param(b"GET", b"*", id="asterisk-not-options"),
        pytest.param(b"GET", b"h.test:80", id="authority"),
        pytest.param(b"GET", b"ftp://h.test/", id="other-scheme"),
        pytest.param(b"GET", b"http:///x", id="no-authority"),
        pytest.param(b"GET", b"http://u@h.test/", id="userinfo"),
        pytest.param(b"GET", b"http://bad host/", id="bad-authority"),
    ],
)
def test_request_targets_refused(method: bytes, url: bytes) -> None:
    with pytest.raises(Reject) as refused:
        wire.split_target(method, url)
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        pytest.param(b"/a/b", b"/a/b", id="plain"),
        pytest.param(b"/a/./b", b"/a/b", id="dot"),
        pytest.param(b"/a/../b", b"/b", id="dot-dot"),
        pytest.param(b"/a/b/..", b"/a/", id="trailing-dot-dot"),
        pytest.param(b"/public/%2e%2e/admin", b"/admin", id="encoded-dots"),
        pytest.param(b"/%7Euser", b"/~user", id="unreserved-decoded"),
        pytest.param(b"/a%2Fb", b"/a%2Fb", id="reserved-kept"),
        pytest.param(b"/.", b"/", id="root-dot"),
    ],
)
def test_paths_are_normalised(path: bytes, normal: bytes) -> None:
    assert wire.normalise_path(path) == normal


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(b"/..", id="above-root"),
        pytest.param(b"/a/../../b", id="climbs-out"),
        pytest.param(b"/%zz", id="bad-percent"),
        pytest.param(b"/%4", id="short-percent"),
    ],
)
def test_paths_refused(path: bytes) -> None:
    with pytest.raises(Reject) as refused:
        wire.normalise_path(path)
    assert refused.value.status == 400


@given(st.lists(st.sampled_from([b"a", b".", b"..", b"%2e", b"%41", b""]), max_size=8))
def test_a_normal_path_has_no_dot_segments_and_is_stable(segments: list[bytes]) -> None:
    path = b"/" + b"/".join(segments)
    try:
        normal = wire.normalise_path(path)
    except Reject:
        return
    assert normal.startswith(b"/")
    assert b"/./" not in normal + b"/"
    assert b"/../" not in normal + b"/"
    assert wire.normalise_path(normal) == normal


@pytest.mark.parametrize(
    ("value", "tokens"),
    [
        pytest.param(b"close", [b"close"], id="one"),
        pytest.param(b" Keep-Alive , X-Foo ,", [b"keep-alive", b"x-foo"], id="spaces-case-empty"),
        pytest.param(b",,", [], id="only-commas"),
    ],
)
def test_connection_tokens(value: bytes, tokens: list[bytes]) -> None:
    assert wire.connection_tokens(value) == tokens


def test_headers_a_connection_header_names_are_dropped() -> None:
    lines = [b"X-Foo", b": ", b"1", b"\r\n", b"Keep", b": ", b"2", b"\r\n"]
    assert wire.without_named(lines, [b"x-foo", b"close"]) == lines[4:]
    assert wire.without_named(lines, [b"close", b"keep-alive", b"upgrade"]) is lines


class _Parsed:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.body = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body += body


@pytest.mark.parametrize(
    ("status", "close", "head_only"),
    [
        pytest.param(404, False, False, id="404"),
        pytest.param(502, True, False, id="502-close"),
        pytest.param(400, True, True, id="400-head"),
        pytest.param(599, False, False, id="unknown-status"),
    ],
)
def test_own_answers_are_whole_http_responses(status: int, close: bool, head_only: bool) -> None:
    answer = wire.answer(status, "why\n", close=close, head_only=head_only)
    parsed = _Parsed()
    parser = httptools.HttpResponseParser(parsed)
    parser.feed_data(answer)
    assert parser.get_status_code() == status
    assert parsed.headers[b"content-length"] == b"4"
    assert parsed.headers[b"server"] == wire.SERVER
    assert (parsed.headers.get(b"connection") == b"close") is close
    assert answer.endswith(b"\r\n\r\n" if head_only else b"\r\n\r\nwhy\n")


def test_chunks() -> None:
    assert wire.chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert wire.LAST_CHUNK == b"0\r\n\r\n"


_NAMED = wire.HOP_BY_HOP | wire.OWN_REQUEST_HEADERS | {b"content-length", b"host"}
_TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~", min_size=1, max_size=20)  # fmt: skip


@given(st.sampled_from(sorted(_NAMED)), st.randoms(), st.sampled_from([b"", b":", b": v", b":v"]))
def test_a_named_header_is_found_in_any_spelling_as_a_name_or_a_line(
    name: bytes, rnd: Random, rest: bytes
) -> None:
    spelling = bytes(c ^ 0x20 if 97 <= c <= 122 and rnd.random() < 0.5 else c for c in name)
    assert wire.named(wire.name_table(_NAMED), spelling + rest) == name


@given(_TOKEN.map(str.encode), st.sampled_from([b"", b": value"]))
def test_named_answers_exactly_what_lowering_and_a_set_would(token: bytes, rest: bytes) -> None:
    table = wire.name_table(_NAMED)
    expected = token.lower() if token.lower() in _NAMED else b""
    assert wire.named(table, token + rest) == expected


def test_named_tells_a_longer_or_shorter_name_apart() -> None:
    table = wire.name_table(frozenset({b"connection", b"te"}))
    assert wire.named(table, b"Connection") == b"connection"
    assert wire.named(table, b"connections") == b""
    assert wire.named(table, b"Connectio") == b""
    assert wire.named(table, b"TE: trailers") == b"te"
    assert wire.named(table, b"Tex: 1") == b""
    assert wire.named(table, b"") == b""
    assert wire.spelled(b"x-forwarded-for") == b"X-Forwarded-For"


_PATH_BYTES = st.binary(max_size=40) | st.lists(st.sampled_from([b"/", b".", b"%", b"a"])).map(
    b"".join
)


@given(_PATH_BYTES)
def test_plain_path_is_no_percent_and_no_dot_after_a_slash(path: bytes) -> None:
    assert wire.plain_path(path) is (b"%" not in path and b"/." not in path)


@given(st.lists(st.sampled_from([b"\r\n", b" ", b"  ", b"GET", b"/", b"\n", b"x"])).map(b"".join))
def test_spaced_request_line_looks_at_the_first_line_after_empty_ones(data: bytes) -> None:
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\n", start)
    line = data[start:] if end < 0 else data[start:end]
    assert wire.spaced_request_line(data) is (b"  " in line)


def test_lower_equals_matches_a_name_in_any_case_and_nothing_else() -> None:
    assert wire.lower_equals(b"Content-Length: 5", b"content-length")
    assert wire.lower_equals(b"KEEP-ALIVE", b"keep-alive")
    assert not wire.lower_equals(b"Content-Lengt", b"content-length")  # too short
    assert not wire.lower_equals(b"Content_Length", b"content-length")
    assert not wire.lower_equals(b"Connection", b"content-length")


def test_final_status_line_tells_a_final_answer_from_an_interim_one_or_a_short_read() -> None:
    assert wire.final_status_line(b"HTTP/1.1 200 OK\r\n")
    assert wire.final_status_line(b"HTTP/1.0 503 Service Unavailable\r\n")
    assert not wire.final_status_line(b"HTTP/1.1 103 Early Hints\r\n")
    assert not wire.final_status_line(b"HTTP/1.1 200")  # too short to be sure of the line
    assert not wire.final_status_line(b"\r\nHTTP/1.1 200 OK\r\n")  # llhttp skips the CRLF
    assert not wire.final_status_line(b"HTTP/2.0 200 OK\r\n")
