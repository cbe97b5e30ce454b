"""The server's pages as a test sees them in headless Chromium: a page plus what it did.

`Screen` wraps the hospital wall screen and the cockpit, `Console` the dispatcher's console;
each records the page's errors (and the frames or requests it sent) for the test to check.
`WAIT_MS` is Playwright's patience for anything a page should come to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Page, expect

from tests.support.server import Running

WAIT_MS = 15_000  # Playwright's patience for anything the page should come to show
SHOWS_A_CALL_MS = 1_000  # issue 8: the console shows a new call within 1 s of the POST


@dataclass
class Screen:
    """A page plus what it did that the test checks: frames it sent, errors it raised."""

    page: Page
    sent: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def open(self, live: Running, hospital_id: str, token: str) -> None:
        self.page.goto(f"{live.http}/hospital#hospital={hospital_id}&token={token}")

    def card(self, incident_id: str) -> Any:
        return self.page.locator(f'article.patient[data-incident="{incident_id}"]')


def screen_of(page: Page) -> Screen:
    """Wrap `page`, recording its uncaught errors, console errors and websocket frames sent."""
    screen = Screen(page)
    page.on("pageerror", lambda exc: screen.problems.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda msg: screen.problems.append(msg.text) if msg.type == "error" else None,
    )
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framesent", lambda p: screen.sent.append(p if isinstance(p, str) else p.decode())
        ),
    )
    return screen


@dataclass
class Console:
    """A console page plus what it did that the test checks: requests and errors."""

    page: Page
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def open(self, live: Running, token: str) -> None:
        self.page.goto(f"{live.http}/console#token={token}")

    def ready(self) -> None:
        """Connected, and the base map drawn."""
        expect(self.page.locator("#connection")).to_have_text("connected", timeout=WAIT_MS)
        expect(self.page.locator("#map-status")).to_be_hidden(timeout=WAIT_MS)

    def row(self, incident_id: str) -> Any:
        return self.page.locator(f'#queue li[data-incident="{incident_id}"]')


def console_of(page: Page) -> Console:
    """Wrap `page`, recording its uncaught errors, console errors and requested URLs."""
    console = Console(page)
    page.on("pageerror", lambda exc: console.problems.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda msg: console.problems.append(msg.text) if msg.type == "error" else None,
    )
    page.on("request", lambda request: console.requests.append(request.url))
    return console
