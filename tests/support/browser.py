"""Fixtures for the page tests: the system Chromium (a pytest plugin, see tests/conftest.py).

`browser` is one headless Chromium per test module (nothing is downloaded: `/usr/bin/chromium`
or `$JIJIU_CHROMIUM`), `console` a fresh console page in it, and `artefacts` the folder the
screenshots go to. Without Chromium or Playwright a page test skips locally and fails under
CI=true (`require_service`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.services import require_service

try:
    from playwright.sync_api import sync_playwright

    from tests.support.pages import console_of
except ImportError:  # the `browser` fixture skips, or fails under CI=true
    sync_playwright = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.support.pages import Console

#: The page tests read the pages' English text unless they choose otherwise: the pages default
#: to the city's language (Chinese for the bundled Hangzhou), so every context starts as if English
#: had been picked on the language switch (localStorage "jijiu.lang"), unless a choice is stored.
PIN_ENGLISH = (
    "try { if (!localStorage.getItem('jijiu.lang')) localStorage.setItem('jijiu.lang', 'en'); }"
    " catch (err) {}"
)

#: The system Chromium the page tests drive (nothing is downloaded).
CHROMIUM = os.environ.get("JIJIU_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless system Chromium per test module (the page tests); each test opens its own
    context. Without Chromium or Playwright: a skip locally, a failure under CI=true."""
    require_service("playwright (pip)", sync_playwright is not None)
    require_service("chromium", CHROMIUM is not None)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        from tests.support.frames import watch_pages  # a plugin of its own: imported by pytest

        watch_pages(chromium)  # every frame a page receives is checked against docs/schemas
        pin_english(chromium)
        yield chromium
        chromium.close()


def pin_english(browser: Browser) -> None:
    """Every context `browser` opens from now on starts its pages in English (PIN_ENGLISH)."""
    new_context = browser.new_context

    def opened(*args: object, **kwargs: object) -> object:
        context = new_context(*args, **kwargs)  # type: ignore[arg-type]
        context.add_init_script(PIN_ENGLISH)
        return context

    browser.new_context = opened  # type: ignore[method-assign,assignment]


@pytest.fixture
def console(browser: Browser) -> Iterator[Console]:
    """A fresh browser context (own sessionStorage) with one page, 1600x900 like a desk screen."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        yield console_of(context.new_page())
    finally:
        context.close()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $JIJIU_TEST_ARTIFACTS, else test-artifacts/ in pytest's tmp."""
    env = os.environ.get("JIJIU_TEST_ARTIFACTS")
    path = Path(env) if env else tmp_path_factory.getbasetemp() / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
