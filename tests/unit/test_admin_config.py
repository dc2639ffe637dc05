"""The admin section and the strings probes put on the wire (issue 10, points 5 and 7).

- the token: strength on a non-loopback address, `tokenFile`, `${env:NAME}`, never quoted back;
- `allowedHosts`: host names or IP literals;
- probe paths and hosts: control characters and what cannot go on the wire are refused with the
  JSON path, in the file as in on-demand overrides; sizes are capped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from probegate.admin.ondemand_request import parse_ondemand
from probegate.config.compile import compile_plan
from probegate.config.load import LoadedConfig, validate_document
from probegate.health.ondemand import OnDemandError
from tests.unit.test_config_invalid import apply, base_document

STRONG = "0123456789abcdef0123"


def issues(edits: list[tuple[str, Any]], base_dir: Path) -> list[tuple[str, str]]:
    _, found = validate_document(apply(base_document(), edits), base_dir)
    return [(i.path, i.message) for i in found]


def admin_plan(section: dict[str, Any], base_dir: Path) -> Any:
    model, found = validate_document(apply(base_document(), [("admin", section)]), base_dir)
    assert not found, found
    assert model is not None
    return compile_plan(LoadedConfig(model, "gateway.json", base_dir, ())).admin


# ------------------------------------------------------------------------ the token


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param(
            {"bindAddress": "0.0.0.0", "token": "a"},
            [
                (
                    "admin.token",
                    "must be at least 16 characters when the admin API listens on a "
                    "non-loopback address, got 1; make one with 'openssl rand -hex 24'",
                )
            ],
            id="weak-on-network",
        ),
        pytest.param({"bindAddress": "0.0.0.0", "token": STRONG}, [], id="strong-on-network"),
        pytest.param({"token": "a"}, [], id="short-on-loopback"),
        pytest.param(
            {"token": "two words"},
            [
                (
                    "admin.token",
                    "must hold only visible ASCII characters, no spaces (it is sent in a header)",
                )
            ],
            id="space",
        ),
        pytest.param(
            {"token": STRONG, "tokenFile": "token.txt"},
            [("admin", "give 'token' or 'tokenFile', not both")],
            id="both",
        ),
        pytest.param(
            {"token": "${env:PROBEGATE_TEST_NOT_SET}"},
            [
                (
                    "admin.token",
                    "the environment variable PROBEGATE_TEST_NOT_SET is not set, or empty",
                )
            ],
            id="env-unset",
        ),
        pytest.param(
            {"token": "${env:}"},
            [("admin.token", "name an environment variable as '${env:NAME}'")],
            id="env-malformed",
        ),
        pytest.param(
            {"bindAddress": "0.0.0.0", "tokenFile": "missing.txt"},
            "cannot read",
            id="file-missing",
        ),
        pytest.param(
            {"allowedHosts": ["admin.example.test", "[::1]", "bad host"]},
            [
                (
                    "admin.allowedHosts[2]",
                    "must not contain control characters or spaces, got a space at position 3",
                )
            ],
            id="allowed-hosts",
        ),
    ],
)
def test_admin_section(section: dict[str, Any], expected: Any, tmp_path: Path) -> None:
    found = issues([("admin", section)], tmp_path)
    if isinstance(expected, str):
        assert len(found) == 1
        assert found[0][0] == "admin.tokenFile"
        assert expected in found[0][1]
    else:
        assert found == expected


def test_no_message_quotes_the_token(tmp_path: Path) -> None:
    for token in ("short-secret", "with space secret"):
        found = issues([("admin", {"bindAddress": "0.0.0.0", "token": token})], tmp_path)
        assert found
        assert all(token not in message for _, message in found)


def test_token_from_a_file_and_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token.txt").write_text(STRONG + "\n", encoding="ascii")
    plan = admin_plan({"bindAddress": "0.0.0.0", "tokenFile": "token.txt"}, tmp_path)
    assert plan.token == STRONG  # relative to the configuration file, newline dropped
    (tmp_path / "weak.txt").write_text("abc\n", encoding="ascii")
    found = issues([("admin", {"bindAddress": "0.0.0.0", "tokenFile": "weak.txt"})], tmp_path)
    assert [path for path, _ in found] == ["admin.tokenFile"]
    monkeypatch.setenv("PROBEGATE_TEST_TOKEN", STRONG[::-1])
    plan = admin_plan({"bindAddress": "0.0.0.0", "token": "${env:PROBEGATE_TEST_TOKEN}"}, tmp_path)
    assert plan.token == STRONG[::-1]
    plan = admin_plan({"allowedHosts": ["Admin.Example.Test.", "[::1]"]}, tmp_path)
    assert plan.allowed_hosts == ("admin.example.test", "::1")


# ------------------------------------------------------------------------ what goes on the wire

WIRE = [
    pytest.param("/a\x00b", "got U+0000 at position 2", id="nul"),
    pytest.param("/a\x7fb", "got U+007F at position 2", id="del"),
    pytest.param("/a\r\nX-Injected: 1", "got U+000D at position 2", id="crlf"),
    pytest.param("/a b", "got a space at position 2", id="space"),
    pytest.param("/café", "write it percent-encoded: '/caf%C3%A9'", id="non-ascii"),
    pytest.param("/" + "a" * 3000, "must be at most 2048 characters, got 3001", id="too-long"),
]


@pytest.mark.parametrize(("path", "message"), WIRE)
def test_probe_path_in_the_file(path: str, message: str, tmp_path: Path) -> None:
    found = issues([("probes[0].path", path)], tmp_path)
    assert [p for p, _ in found] == ["probes[0].path"]
    assert message in found[0][1]
    assert len(found[0][1]) < 200  # a long value is not echoed back


@pytest.mark.parametrize(("path", "message"), WIRE)
def test_probe_path_on_demand(path: str, message: str) -> None:
    with pytest.raises(OnDemandError, match="'path'") as refused:
        parse_ondemand({"backendAddressPool": "p", "backendHttpSettings": "s", "path": path})
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("host", "message"),
    [
        pytest.param("app\x00.test", "got U+0000 at position 3", id="nul"),
        pytest.param("app\n.test", "got U+000A at position 3", id="lf"),
        pytest.param("::1%\x00", "got U+0000 at position 4", id="zone-control"),
        pytest.param("fe80::1%eth0", "must not hold a zone", id="zone"),
        pytest.param("café.test", "ASCII form", id="non-ascii"),
    ],
)
def test_probe_host(host: str, message: str, tmp_path: Path) -> None:
    found = issues([("probes[0].host", host)], tmp_path)
    assert [p for p, _ in found] == ["probes[0].host"]
    assert message in found[0][1]
    with pytest.raises(OnDemandError, match="'host'") as refused:
        parse_ondemand({"backendAddressPool": "p", "backendHttpSettings": "s", "host": host})
    assert message in str(refused.value)


def test_a_plain_path_with_a_query_is_fine(tmp_path: Path) -> None:
    assert issues([("probes[0].path", "/ready?full=1&x=%20")], tmp_path) == []
