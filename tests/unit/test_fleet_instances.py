"""Which instances the fleet view asks: `--url`, the instances file, names and tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from probegate.errors import UsageError
from probegate.fleet.instances import Instance, gather


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_urls_are_named_by_host_and_port_and_share_the_token() -> None:
    found = gather(["http://127.0.0.1:9090/", "http://[::1]:9091"], None, None,
                   environ={"PROBEGATE_TOKEN": "shared"})  # fmt: skip
    assert found == [
        Instance("127.0.0.1:9090", "http://127.0.0.1:9090", "shared"),
        Instance("[::1]:9091", "http://[::1]:9091", "shared"),
    ]


def test_the_file_comes_first_and_its_entries_bring_their_own_tokens(tmp_path: Path) -> None:
    (tmp_path / "west.token").write_text("from-file\n", encoding="ascii")
    path = write(
        tmp_path,
        "instances:\n"
        "  - {url: 'http://10.0.0.4:9090', name: east, token: '${env:EAST}'}\n"
        "  - {url: 'http://10.0.0.5:9090', tokenFile: west.token}\n"
        "  - http://10.0.0.6:9090\n",
    )
    found = gather(["http://10.0.0.7:9090"], path, "given", environ={"EAST": "from-env"})
    assert [(i.name, i.token) for i in found] == [
        ("east", "from-env"), ("10.0.0.5:9090", "from-file"), ("10.0.0.6:9090", "given"),
        ("10.0.0.7:9090", "given"),
    ]  # fmt: skip


def test_a_top_level_list_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "- http://10.0.0.4:9090\n- {url: 'http://10.0.0.5:9090', name: b}\n")
    assert [i.name for i in gather([], path, None, environ={})] == ["10.0.0.4:9090", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("instances: []\n", "expected `instances:` with a list", id="empty"),
        pytest.param("instances: [{name: x}]\n", "instances[0] needs a `url`", id="no-url"),
        pytest.param("instances: ['ftp://x']\n", "instances[0].url: 'ftp://x' is not an http://", id="scheme"),
        pytest.param("instances: [{url: 'http://x', colour: 1}]\n", "unknown key 'colour'", id="unknown-key"),
        pytest.param("instances: [{url: 'http://x', name: ''}]\n", "instances[0].name takes a non-empty string", id="empty-name"),
        pytest.param("instances: [{url: 'http://x', token: a, tokenFile: b}]\n", "not both", id="two-tokens"),
        pytest.param("instances: [{url: 'http://x', token: '${env:NOPE}'}]\n", "instances[0].token: the environment variable NOPE", id="env-unset"),
        pytest.param("instances: [{url: 'http://x', tokenFile: missing.token}]\n", "instances[0].tokenFile: cannot read", id="token-file-missing"),
        pytest.param("instances: ['http://x:1', {url: 'http://y', name: 'x:1'}]\n", "two instances are named 'x:1'", id="duplicate-name"),
        pytest.param("instances: [\n", "is not YAML", id="not-yaml"),
    ],
)  # fmt: skip
def test_problems_name_the_file_and_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        gather([], path, None, environ={})
    assert message in str(caught.value)


def test_no_instance_at_all_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--url"):
        gather([], None, None, environ={})


def test_a_folder_or_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a folder"):
        gather([], tmp_path, None, environ={})
    with pytest.raises(UsageError, match="cannot read"):
        gather([], tmp_path / "nope.yaml", None, environ={})
