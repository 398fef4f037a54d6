"""The dashboard in a real browser: Debian's Chromium driven by Playwright, the app served by
uvicorn on a free loopback port in a background thread, over a real embedded store.

Skipped (with the reason) when Playwright or /usr/bin/chromium is missing, unless
``SELFMEM_REQUIRE_BROWSER=1`` (CI), which turns the skip into a failure. Every step waits for
a selector or an expectation, never for a fixed time. Screenshots of each page are saved
under ``tests/artifacts/ui/`` (git-ignored).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .ui_seed import Seeded, seed

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts" / "ui"
_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]  # fmt: skip


def _missing() -> str | None:
    for module, extra in (("playwright", "playwright"), ("uvicorn", "ui"), ("jinja2", "ui")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'selfmem[test]' / [{extra}])"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    return None


_REASON = _missing()
if _REASON is not None:
    if os.environ.get("SELFMEM_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SELFMEM_REQUIRE_BROWSER=1 but {_REASON}", pytrace=False)
    pytest.skip(_REASON, allow_module_level=True)

import uvicorn  # noqa: E402
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from selfmem.ui import build_app  # noqa: E402


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data = seed(tmp_path_factory.mktemp("ui-browser") / "mem")
    yield data
    data.memory.close()


@pytest.fixture(scope="module")
def base_url(seeded: Seeded) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = build_app(seeded.memory, location=str(seeded.location))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.01):  # until uvicorn says it listens (or died)
        if server.started:
            started.set()
        elif not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    foreign: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(base_url) else None)
    yield page
    context.close()
    assert foreign == []  # everything the pages load comes from the dashboard itself


_TIMINGS: dict[str, float] = {}


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    timing: Any = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return n ? n.duration : null; }"
    )
    if timing is not None:
        _TIMINGS[name] = round(float(timing), 1)
        (ARTIFACTS / "timings.json").write_text(json.dumps(_TIMINGS, indent=1))


def test_every_page_opens(page: Page) -> None:
    for url, name, selector in [
        ("/", "episodes", "table#episodes"),
        ("/patterns", "patterns", "#patterns table"),
        ("/learning", "learning", "svg.chart"),
        ("/ask", "ask", "form#ask-form"),
        ("/health", "health", "table#stats"),
    ]:
        page.goto(url)
        page.wait_for_selector(selector)
        expect(page.locator("h1")).to_be_visible()
        _shot(page, name)
    page.goto("/learning")
    expect(page.locator("svg.chart")).to_have_count(3)
    page.goto("/health")
    expect(page.locator("table#stats")).to_contain_text("episodes")


def test_click_episode_then_pattern_then_evidence(page: Page, seeded: Seeded) -> None:
    page.goto("/?task_type=debugging&outcome=success")
    page.locator("a.episode-link").first.click()
    expect(page.locator("#episode h4", has_text="Timeline")).to_be_visible()
    expect(page.locator("table.timeline")).to_contain_text("run_tests")
    _shot(page, "episode")
    page.locator("#episode table.patterns a[href^='/patterns/']").first.click()
    expect(page.locator("table#evidence")).to_be_visible()
    expect(page.locator("#pattern-fields")).to_contain_text("confidence")
    _shot(page, "pattern")
    evidence = page.locator("a.evidence-link").first
    task = evidence.inner_text()
    evidence.click()
    expect(page.locator("#episode h3.task")).to_have_text(task)
    expect(page.locator("table.reward")).to_contain_text("efficiency")


def test_filter_by_outcome(page: Page, seeded: Seeded) -> None:
    page.goto("/")
    expect(page.locator("table#episodes tbody tr")).to_have_count(22)
    page.select_option("select[name=outcome]", "failure")
    page.click("button#apply")
    page.wait_for_url("**outcome=failure**")
    rows = page.locator("table#episodes tbody tr")
    expect(rows).to_have_count(len(seeded.failed_ids))
    for i in range(len(seeded.failed_ids)):
        expect(rows.nth(i)).to_contain_text("failure")
    _shot(page, "episodes-filtered")


def test_untrusted_text_is_text_in_the_browser(page: Page, seeded: Seeded) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"/episodes/{seeded.docs_ids[0]}")
    expect(page.locator("#episode h3.task")).to_contain_text("<script>alert('x')</script>")
    expect(page.locator("table.timeline")).to_contain_text("<b>bold</b>")
    assert page.locator("#episode script").count() == 0
    assert dialogs == []


def test_ask_form(page: Page) -> None:
    page.goto("/ask")
    page.fill("input[name=task]", "login test fails with 401")
    page.fill("input[name=domain]", "web")
    page.fill("input[name=task_type]", "debugging")
    page.click("button#ask")
    page.wait_for_url("**task=login**")
    expect(page.locator("#answer pre.prompt")).to_contain_text("Suggested tool sequence")
    expect(page.locator("table#recommended tbody tr").first).to_contain_text("run_tests")
    expect(page.locator("table#signals")).to_contain_text("BM25")
    _shot(page, "ask-answer")
