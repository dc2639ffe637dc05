"""An answer's head read two ways gives the client the same answer.

A final answer's head is read from its bytes in one pass (response.py `_read_head`, with the
parser that has no header callback), kept until it is whole when it comes over several reads;
a 1xx, a rewrite or a first read too short to show the status go through the connection's
`fields` parser, one header callback at a time. Hypothesis builds heads llhttp accepts, the test
feeds each whole, cut in two inside the head, and cut before the status code, and compares what
reached the client, as llhttp parses it."""

from __future__ import annotations

from typing import Any

import httptools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.proxyrig import Rig

pytestmark = pytest.mark.datapath

GET = b"GET / HTTP/1.1\r\nHost: app.example.test\r\n\r\n"
BODY = b"hello"

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~"
_VALUE_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789 ,;=/:\t"()'
# Names the gateway treats specially, or that share their first letter with one, in mixed case.
_SPECIAL = [
    "Connection", "CONNECTION", "keep-alive", "Keep-Alive", "Proxy-Connection", "Proxy-Thing",
    "TE", "Trailer", "Transfer-Encoding-Not", "Upgrade", "Upgrade-Insecure-Requests",
    "Content-Type", "Cache-Control", "Pragma", "Tk", "x-drop-me", "X-Keep-Me",
]  # fmt: skip


class _Parsed:
    """What llhttp makes of the bytes the client got."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.complete = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value.strip(b" \t")))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete += 1


def _client_view(answer: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    parsed = _Parsed()
    parser = httptools.HttpResponseParser(parsed)
    parser.feed_data(answer)
    assert parsed.complete == 1, answer
    return parser.get_status_code(), parsed.headers, parsed.body


def _through(response: bytes, cut: int | None) -> tuple[bytes, Any]:
    """`response` sent by the backend to a GET, whole or in two reads; the client's bytes."""
    rig = Rig()
    client, to_client = rig.client()
    backend, _ = rig.backend()
    client.data_received(GET)
    if cut is None:
        backend.data_received(response)
    else:
        backend.data_received(response[:cut])
        backend.data_received(response[cut:])
    return to_client.take(), backend


header = st.tuples(
    st.one_of(st.sampled_from(_SPECIAL), st.text(_NAME_CHARS, min_size=1, max_size=12)),
    st.text(" \t", max_size=2),
    st.text(_VALUE_CHARS, max_size=20).map(lambda v: v.strip(" \t")),
    st.text(" \t", max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(200, 599).filter(lambda s: s not in (204, 304)),
    headers=st.lists(header, max_size=8),
    connection=st.sampled_from(["", "keep-alive", "close", "x-drop-me", "X-DROP-ME, keep-alive"]),
    cut_at=st.integers(1, 10_000),
)
def test_a_head_read_whole_and_a_head_read_in_pieces_reach_the_client_alike(
    status: int, headers: list[tuple[str, str, str, str]], connection: str, cut_at: int
) -> None:
    lines = [f"{name}:{lead}{value}{trail}" for name, lead, value, trail in headers]
    lines = [line for line in lines if not line.lower().startswith(("connection:", "upgrade:"))]
    if connection:
        lines.append(f"Connection: {connection}")
    head = f"HTTP/1.1 {status} Whatever\r\n" + "".join(f"{line}\r\n" for line in lines)
    response = head.encode("latin-1") + b"Content-Length: 5\r\n\r\n" + BODY
    whole, fast = _through(response, None)
    pieces, kept = _through(response, 13 + cut_at % (len(head) - 13))
    short, slow = _through(response, 1 + cut_at % 11)
    if connection != "close":  # (closing a connection drops its parsers)
        assert fast.fields is None  # read from the bytes: the per-header parser was never made
        assert kept.fields is None
        assert slow.fields is not None
    assert _client_view(whole) == _client_view(pieces) == _client_view(short)
    status_seen, forwarded, body = _client_view(whole)
    assert (status_seen, body) == (status, BODY)
    names = [name for name, _ in forwarded]
    assert names.count(b"content-length") == 1
    for dropped in (b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade"):
        assert dropped not in names
    if "drop" in connection:
        assert b"x-drop-me" not in names


def test_a_head_read_whole_forwards_its_lines_as_they_came() -> None:
    response = (
        b"HTTP/1.1 200 OK\r\nServer:  nginx \r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
        b"Keep-Alive: timeout=5\r\nCache-Control: no-store\r\n\r\nok"
    )
    answer, backend = _through(response, None)
    assert backend.fields is None
    assert answer == (
        b"HTTP/1.1 200 OK\r\nServer:  nginx \r\nCache-Control: no-store\r\n"
        b"Content-Length: 2\r\n\r\nok"
    )


def test_an_interim_answer_and_a_read_too_short_for_the_status_use_the_header_callbacks() -> None:
    interim, backend = _through(
        b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        None,
    )
    assert backend.fields is not None
    assert interim == (
        b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    )
    split, backend = _through(b"HTTP/1.1 200 OK\r\nA: b\r\nContent-Length: 0\r\n\r\n", 10)
    assert backend.fields is not None
    assert split == b"HTTP/1.1 200 OK\r\nA: b\r\nContent-Length: 0\r\n\r\n"


def test_a_head_read_from_its_bytes_is_kept_until_whole_up_to_64_kib() -> None:
    long_line = b"X-Long: " + b"a" * 1000 + b"\r\n"
    answer, backend = _through(
        b"HTTP/1.1 200 OK\r\n" + long_line * 3 + b"Content-Length: 2\r\n\r\nok", 600
    )
    assert backend.fields is None
    assert answer == b"HTTP/1.1 200 OK\r\n" + long_line * 3 + b"Content-Length: 2\r\n\r\nok"
    rig = Rig()
    client, to_client = rig.client()
    backend, to_backend = rig.backend()
    client.data_received(GET)
    backend.data_received(b"HTTP/1.1 200 OK\r\n")
    for _ in range(70):
        backend.data_received(long_line)
    assert to_client.take().startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert to_backend.aborted


def test_a_connection_answers_with_either_parser_in_turn() -> None:
    """The two parsers share the connection: each answer starts on a message boundary."""
    rig = Rig()
    client, to_client = rig.client()
    backend, _ = rig.backend()
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
        b"HTTP/1.1 2",  # too short to tell a final answer: the `fields` parser
        b"00 OK\r\nContent-Length: 1\r\n\r\nb",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc",
    ]
    for reads in (answers[:1], answers[1:3], answers[3:]):
        client.data_received(GET)
        for read in reads:
            backend.data_received(read)
        assert to_client.take().endswith(reads[-1][-1:])
        assert rig.proxy.pools[backend.pool.upstream.key].idle == [backend]
