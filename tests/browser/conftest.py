"""The browser tests' fixtures: the embedded platform (as `make run` starts it),
Debian's Chromium driven by Playwright (one browser per module, a fresh context per test), and the
directory where each step's screenshot is kept."""

import os
import re
from pathlib import Path

import pytest

from motcua import stack as stacks

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MOTCUA_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def platform_url(tmp_path_factory) -> str:
    """The embedded platform on free ports, stopped when the browser tests are done."""
    stack = stacks.embedded(tmp_path_factory.mktemp("browser-logs"), tmp_path_factory.mktemp("browser-data"))
    try:
        stack.wait_ready()
        yield stack.gateway
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium from the distribution (Playwright cannot download its own build here). A missing
    browser fails the test with the way to install it: never a skip.

    One per module (the tests live in one module, so one per session): Playwright's sync API keeps an
    event loop marked running in this thread while it is open, and pytest-asyncio's tests that run later
    in the session (tests/e2e, …) could not start theirs."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run deploy/local/browser.sh (make test does) "
                    "or set MOTCUA_CHROMIUM to a Chromium executable.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots go to $MOTCUA_ARTIFACTS (default var/artifacts/browser/ in the clone)."""
    path = Path(os.environ.get("MOTCUA_ARTIFACTS") or ROOT / "var" / "artifacts" / "browser")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Shots:
    """Numbered screenshots of one test's steps: <test>-<nn>-<step>.png."""

    def __init__(self, directory: Path, test: str):
        self.directory, self.test, self.count = directory, re.sub(r"[^a-z0-9_-]+", "-", test.lower()), 0
        for old in directory.glob(f"{self.test}-*.png"):  # an earlier run's pictures of this test
            old.unlink()

    def __call__(self, page, step: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.test}-{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shot(artifacts, request) -> Shots:
    return Shots(artifacts, request.node.name)


@pytest.fixture
def context(browser, platform_url):
    """A fresh browser profile (no cookies) at a phone-and-kiosk friendly size, Vietnamese by default."""
    context = browser.new_context(base_url=platform_url, locale="vi-VN", viewport={"width": 1024, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"
