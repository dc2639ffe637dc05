"""The fleet dashboard (`probegate dashboard --url A --url B …`) in Debian's Chromium: three real
`probegate run` instances over the same backends, pool `api` failing on instance `c` only, and a
fourth URL where nothing listens. The page shows one table with a column per instance, marks the
disagreement with `c`'s reason, shows the unreachable instance, speaks Korean, and asks for the
dashboard's token when it arrives without one. The screenshot goes next to the dashboard's
(tests/browser/artifacts/fleet.png)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from probegate.demo.backends import unused_port
from tests.browser.test_dashboard import SCREENSHOT, browser, page
from tests.e2e.fleetkit import TOKEN, Fleet, three_instances

with contextlib.suppress(ImportError):  # the `browser` fixture reports it
    from playwright.sync_api import Page, expect

__all__ = ["browser", "page"]  # the fixtures, shared with test_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@dataclass(frozen=True)
class Board:
    url: str  # with the #token=… fragment, as printed
    fleet: Fleet
    dead: str  # the instance nothing answers for


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    with three_instances(tmp_path_factory.mktemp("fleet")) as fleet:
        dead = f"http://127.0.0.1:{unused_port()}"
        urls = [arg for name in ("a", "b", "c") for arg in ("--url", fleet.url(name))]
        process = subprocess.Popen(
            [sys.executable, "-m", "probegate", "dashboard", *urls, "--url", dead],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PROBEGATE_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if " at http://" not in line:
            process.kill()
            pytest.fail(f"the dashboard did not start: {line}{process.communicate()[1]}")
        try:
            yield Board(line.rsplit(" at ", 1)[1].strip(), fleet, dead)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=15)
            assert process.returncode == 0, err
            assert "Traceback" not in err


def test_the_fleet_view_joins_three_instances_and_marks_the_disagreement(
    page: Page, board: Board
) -> None:
    fleet = board.fleet

    def name(key: str) -> str:  # an instance's column: its URL's host:port
        return fleet.url(key).removeprefix("http://")

    page.goto(board.url)
    expect(page).to_have_title("Fleet backend health · probegate")
    expect(page).not_to_have_url(re.compile("token="))  # moved to sessionStorage at once
    expect(page.get_by_role("table", name="Each server’s health on each instance")).to_be_visible()
    table = page.locator("#fleet")  # by id: its accessible name changes with the language
    headers = table.locator("thead th")
    expect(headers).to_have_text(
        ["Server", name("a"), name("b"), name("c"), board.dead.removeprefix("http://"), "Verdict"]
    )
    api = table.locator(f'tbody tr[data-address="{fleet.api}"]')
    web = table.locator(f'tbody tr[data-address="{fleet.web}"]')
    expect(api.locator(".verdict")).to_have_text("Healthy on 2 of 3 instances")
    expect(api).to_have_class(re.compile(r"\bdisagree\b"))
    expect(api.locator(".verdict")).to_have_class(re.compile(r"\bdisagree\b"))
    failing = api.locator(f'td[data-instance="{name("c")}"]')
    expect(failing.locator(".badge")).to_have_text("Unhealthy")
    expect(failing.locator(".reason")).to_have_text("http-status-code-mismatch")
    expect(failing.locator(".message")).to_contain_text("404")
    expect(api.locator(f'td[data-instance="{name("a")}"] .reason')).to_have_text("success")
    expect(web.locator(".verdict")).to_have_text("Healthy on 3 of 3 instances")
    expect(web).to_have_class(re.compile(r"\bagree\b"))
    expect(web.locator(".reason")).to_have_count(0)  # agreed and passing: nothing to explain
    dead = board.dead.removeprefix("http://")
    expect(api.locator(f'td[data-instance="{dead}"]')).to_have_text("unreachable")
    down = page.locator(f'#instances li[data-instance="{dead}"]')
    expect(down).to_contain_text("unreachable")
    expect(down.locator(".reason")).to_have_text("connection-refused")
    expect(page.locator("#gateway")).to_have_text(
        "3 of 4 instances answering · 2 servers · 1 with a disagreement"
    )
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT.with_name("fleet.png"), full_page=True)

    page.get_by_role("button", name="한국어").click()
    expect(page).to_have_title("인스턴스 전체의 백엔드 상태 · probegate")
    expect(api.locator(".verdict")).to_have_text("인스턴스 3개 중 2개에서 정상")
    expect(failing.locator(".message")).to_contain_text("404 이며")  # c's own Korean message
    expect(api.locator(f'td[data-instance="{dead}"]')).to_have_text("연결 불가")
    expect(down.locator(".message")).to_contain_text("연결 거부됨")
    page.screenshot(path=SCREENSHOT.with_name("fleet-ko.png"), full_page=True)

    page.reload()  # the token stays in this tab
    expect(api.locator(".verdict")).to_have_text("인스턴스 3개 중 2개에서 정상")


def test_without_its_token_the_page_asks_for_it(page: Page, board: Board) -> None:
    bare = board.url.split("#", 1)[0]
    page.goto(bare + "?lang=en")
    expect(page.locator("#auth")).to_be_visible()
    expect(page.locator("#fleet-view")).to_be_hidden()
    page.get_by_label("Dashboard token").fill(board.url.rsplit("#token=", 1)[1])
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#auth")).to_be_hidden()
    api = page.locator(f'#fleet-rows tr[data-address="{board.fleet.api}"]')
    expect(api.locator(".verdict")).to_have_text("Healthy on 2 of 3 instances")
