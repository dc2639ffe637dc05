"""`probegate backend-health` over three real `probegate run` instances (the fleet view): the
server that fails on one instance only reads `Healthy on 2 of 3 instances` with that instance's
reason; `--json` field by field; an instance that cannot be reached; `--instances FILE` with
per-entry tokens; Korean."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probegate.demo.backends import unused_port
from tests.e2e.fleetkit import TOKEN, Fleet, three_instances

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with three_instances(tmp_path_factory.mktemp("fleet")) as found:
        yield found


def probegate(*args: str | Path, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROBEGATE_")}
    if token:
        env["PROBEGATE_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "probegate", *map(str, args)],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


def urls(fleet: Fleet, *names: str) -> list[str]:
    return [arg for name in names for arg in ("--url", fleet.url(name))]


def row(document: dict[str, Any], address: str) -> dict[str, Any]:
    (found,) = [s for s in document["servers"] if s["address"] == address]
    assert isinstance(found, dict)
    return found


def test_the_table_joins_three_instances_and_shows_the_one_that_disagrees(fleet: Fleet) -> None:
    done = probegate("backend-health", *urls(fleet, "a", "b", "c"))
    assert done.returncode == 1, done.stderr  # api is Unhealthy on c
    assert done.stderr == ""
    out = done.stdout
    assert "Backend health on 3 instances" in out
    assert "Healthy on 2 of 3 instances" in out  # api: Unhealthy on c only
    assert "Healthy on 3 of 3 instances" in out  # web: everywhere
    assert "⚠ Healthy on 2 of 3 instances" in out  # the disagreement is marked
    assert "http-status-code-mismatch" in out  # c's reason code…
    assert "404" in out  # …and its message, which names the status it got
    assert "2 servers on 3 of 3 instances: 1 Healthy everywhere · 1 with a disagreement" in out
    for name in ("a", "b", "c"):
        assert fleet.url(name).removeprefix("http://") in out  # the default column names


def test_json_gives_the_same_data_field_by_field(fleet: Fleet) -> None:
    done = probegate("backend-health", *urls(fleet, "a", "b", "c"), "--json")
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    names = [fleet.url(n).removeprefix("http://") for n in ("a", "b", "c")]
    assert document["instances"] == [
        {"name": n, "url": fleet.url(i), "reachable": True, "problem": None}
        for n, i in zip(names, ("a", "b", "c"), strict=True)
    ]
    assert document["summary"] == {
        "instances": 3, "reachable": 3, "unreachable": 0, "servers": 2,
        "healthyEverywhere": 1, "disagreements": 1,
    }  # fmt: skip
    api = row(document, fleet.api)
    assert {k: v for k, v in api.items() if k != "instances"} == {
        "backendAddressPool": "api",
        "backendHttpSettings": "api-http",
        "address": fleet.api,
        "state": "Mixed",
        "agree": False,
        "healthyOn": 2,
        "reportedBy": 3,
        "verdict": "Healthy on 2 of 3 instances",
    }
    cells = api["instances"]
    assert [c["instance"] for c in cells] == names
    assert [c["health"] for c in cells] == ["Healthy", "Healthy", "Unhealthy"]
    assert [c["reason"] for c in cells] == ["success", "success", "http-status-code-mismatch"]
    assert [c["missing"] for c in cells] == [None, None, None]
    assert "404" in cells[2]["message"]
    web = row(document, fleet.web)
    assert (web["state"], web["agree"], web["healthyOn"], web["verdict"]) == (
        "Healthy", True, 3, "Healthy on 3 of 3 instances"
    )  # fmt: skip


def test_an_unreachable_instance_is_shown_without_hiding_the_others(fleet: Fleet) -> None:
    dead = f"http://127.0.0.1:{unused_port()}"
    done = probegate("backend-health", *urls(fleet, "a", "c"), "--url", dead)
    assert done.returncode == 3, done.stderr  # an instance could not be asked
    assert "Traceback" not in done.stdout + done.stderr
    assert f"{dead.removeprefix('http://')} ({dead}) could not be asked: connection-refused" in done.stdout  # fmt: skip
    assert "Healthy on 1 of 2 instances" in done.stdout  # a and c still joined
    document = json.loads(probegate("backend-health", *urls(fleet, "a", "c"), "--url", dead, "--json").stdout)  # fmt: skip
    down = document["instances"][2]
    assert (down["reachable"], down["problem"]["code"], down["problem"]["status"]) == (False, "connection-refused", None)  # fmt: skip
    assert row(document, fleet.api)["instances"][2] == {
        "instance": down["name"], "health": None, "reason": None, "message": None,
        "missing": "unreachable",
    }  # fmt: skip
    assert document["summary"]["unreachable"] == 1


def test_a_wrong_token_is_an_unreachable_instance_with_its_401(fleet: Fleet) -> None:
    done = probegate("backend-health", *urls(fleet, "a", "b"), "--json", token="not-the-token")
    assert done.returncode == 2, done.stderr  # no instance answered: as for one gateway
    document = json.loads(done.stdout)
    assert [i["problem"]["code"] for i in document["instances"]] == ["unauthorized"] * 2
    assert [i["problem"]["status"] for i in document["instances"]] == [401, 401]
    assert document["servers"] == []


def test_an_instances_file_names_them_with_tokens_of_their_own(
    fleet: Fleet, tmp_path: Path
) -> None:
    (tmp_path / "c.token").write_text(f"{TOKEN}\n", encoding="ascii")
    path = tmp_path / "fleet.yaml"
    path.write_text(
        "instances:\n"
        f"  - {{url: '{fleet.url('a')}', name: east}}\n"  # the shared token (--token)
        f"  - {{url: '{fleet.url('b')}', name: west, token: wrong-token}}\n"  # its own wins
        f"  - {{url: '{fleet.url('c')}', name: north, tokenFile: c.token}}\n",
        encoding="utf-8",
    )
    done = probegate("backend-health", "--instances", path, "--token", TOKEN, "--json", token=None)
    assert done.returncode == 3, done.stderr
    document = json.loads(done.stdout)
    assert [(i["name"], i["reachable"]) for i in document["instances"]] == [
        ("east", True), ("west", False), ("north", True)
    ]  # fmt: skip
    assert document["instances"][1]["problem"]["code"] == "unauthorized"
    api = row(document, fleet.api)
    assert api["verdict"] == "Healthy on 1 of 2 instances"
    assert [c["instance"] for c in api["instances"]] == ["east", "west", "north"]


def test_korean(fleet: Fleet) -> None:
    done = probegate("backend-health", *urls(fleet, "a", "b", "c"), "--lang", "ko")
    assert done.returncode == 1, done.stderr
    assert "인스턴스 3개 중 2개에서 Healthy" in done.stdout
    assert "인스턴스 3개의 백엔드 상태" in done.stdout


def test_watch_into_a_pipe_asks_again_at_each_refresh(fleet: Fleet) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROBEGATE_")}
    watch = subprocess.Popen(
        [sys.executable, "-m", "probegate", "backend-health", *urls(fleet, "a", "b", "c"),
         "--watch", "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**env, "PROBEGATE_TOKEN": TOKEN},
    )  # fmt: skip
    assert watch.stdout is not None
    stamps, seen = 0, []
    deadline = time.monotonic() + 30
    while stamps < 2 and time.monotonic() < deadline:
        line = watch.stdout.readline()  # each refresh arrives flushed, line by line
        seen.append(line)
        stamps += "every 0.2 s" in line
    watch.send_signal(signal.SIGINT)
    _, err = watch.communicate(timeout=15)
    assert stamps == 2, seen
    assert watch.returncode == 0, err
    assert "Traceback" not in err
    text = "".join(seen)
    assert text.count("Healthy on 2 of 3 instances") >= 1
    assert "\x1b[" not in text  # plain text into a pipe


def test_usage_errors_say_what_to_change(fleet: Fleet, tmp_path: Path) -> None:
    both = probegate("backend-health", *urls(fleet, "a", "b"), "--history")
    assert both.returncode == 2
    assert "--history reads one gateway" in both.stderr
    watch_json = probegate("backend-health", *urls(fleet, "a", "b"), "--watch", "--json")
    assert watch_json.returncode == 2
    assert "--watch draws a table" in watch_json.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("instances:\n  - {url: 'http://127.0.0.1:1', colour: blue}\n", encoding="utf-8")
    refused = probegate("backend-health", "--instances", bad)
    assert refused.returncode == 2
    assert "instances[0]: unknown key 'colour'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_dashboard_serves_the_joined_document_to_its_token_only(
    fleet: Fleet, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(
        f"- {{url: '{fleet.url('a')}', name: east, token: {TOKEN}}}\n"
        f"- {{url: '{fleet.url('c')}', name: north, token: {TOKEN}}}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROBEGATE_")}
    board = subprocess.Popen(
        [sys.executable, "-m", "probegate", "dashboard", "--instances", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert board.stdout is not None
    try:
        line = board.stdout.readline()
        assert "fleet dashboard of 2 instances (east, north) at http://127.0.0.1:" in line, line
        base, token = line.rsplit(" at ", 1)[1].strip().split("/#token=")
        request = urllib.request.Request(f"{base}/fleet?lang=ko")
        request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as answer:
            document = json.load(answer)
        assert [i["name"] for i in document["instances"]] == ["east", "north"]
        assert row(document, fleet.api)["verdict"] == "인스턴스 2개 중 1개에서 Healthy"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/fleet", timeout=30)
        refused.value.close()
        assert refused.value.code == 401
        with urllib.request.urlopen(f"{base}/", timeout=30) as page:  # the page needs no token
            assert "Fleet backend health" in page.read().decode()
    finally:
        board.send_signal(signal.SIGTERM)
        _, err = board.communicate(timeout=15)
    assert board.returncode == 0, err
