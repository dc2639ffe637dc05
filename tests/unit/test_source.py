"""Reading configuration text: byte-order marks, comments in JSON, plain-word parse errors, the
place of each JSON path in the file, and finding a running gateway."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from probegate.config import source
from probegate.errors import ConfigError, UsageError
from probegate.gatewayclient import DEFAULT_ADMIN, locate


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]
)
def test_text_with_or_without_a_byte_order_mark_is_decoded(encoding: str) -> None:
    text = "sku: Standard_v2  # café\n"
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):  # what PowerShell writes carries its mark
        data = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + data
    assert source.decode(data, "x") == text


def test_a_folder_is_said_to_be_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        source.read_text(tmp_path)


def test_json_comments_are_removed_but_strings_kept() -> None:
    text = '{\n  // a comment\n  "a": "http://x/y", /* block\n spanning */ "b": "/* not */"\n}'
    assert source.parse_text(text, "t.json") == {"a": "http://x/y", "b": "/* not */"}
    broken = '{\n  // note\n  /* two\n lines */\n  "a": 1,\n}'
    with pytest.raises(ConfigError, match="line 6, column 1"):  # lines counted as written
        source.parse_text(broken, "t.json")


def test_positions_of_yaml_and_json_paths() -> None:
    yaml_text = "probes:\n  - name: a\n    interval: 5\nsku: Standard\n"
    where = source.positions(yaml_text)
    assert where["probes[0].interval"] == (3, 5)
    assert where["sku"] == (4, 1)
    assert source.locate("probes[0].timeout", where) == (2, 5)  # missing: its parent's place
    assert source.locate("nothing", where) is None
    json_text = '{\n  "probes": [\n    {"name": "a", "port": 1}\n  ]\n}'
    assert source.positions(json_text)["probes[0].port"] == (3, 19)


def test_locating_the_gateway_in_order_of_precedence(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "admin: {bindAddress: 0.0.0.0, port: 19090, token: t0123456789abcdef}\nprobes: [oops]\n"
    )
    env = {"PROBEGATE_URL": "http://127.0.0.5:1/", "PROBEGATE_TOKEN": "e"}
    assert locate(None, None, None, {}).url == DEFAULT_ADMIN
    assert locate(None, None, None, env).url == "http://127.0.0.5:1"
    assert locate(None, None, None, env).token == "e"
    from_file = locate(None, path, None, {})  # the rest of the file may be broken
    assert (from_file.url, from_file.token) == ("http://127.0.0.1:19090", "t0123456789abcdef")
    assert locate(None, path, "cli", env).token == "cli"
    assert locate("http://127.0.0.9:2", None, None, env).url == "http://127.0.0.9:2"
    ipv6 = tmp_path / "v6.yaml"
    ipv6.write_text("admin: {bindAddress: '::', port: 9191}\n")
    assert locate(None, ipv6, None, {}).url == "http://[::1]:9191"
    for url, folder, message in (
        ("localhost:9090", None, "is not an http:// URL"),
        ("http://x", path, "give one"),
        (None, tmp_path, "is a folder"),
    ):
        with pytest.raises(UsageError, match=message):
            locate(url, folder, None, {})


def test_the_token_of_the_file_is_read_as_the_gateway_reads_it(tmp_path: Path) -> None:
    (tmp_path / "admin.token").write_text("0123456789abcdef0123\n")
    path = tmp_path / "gateway.yaml"
    path.write_text("admin: {port: 19090, tokenFile: admin.token}\n")
    assert locate(None, path, None, {}).token == "0123456789abcdef0123"
    named = tmp_path / "env.yaml"
    named.write_text("admin: {port: 19090, token: '${env:PG_ADMIN_TOKEN}'}\n")
    with pytest.raises(UsageError, match=r"admin\.token"):
        locate(None, named, None, {})  # the variable is not set in this test's environment
