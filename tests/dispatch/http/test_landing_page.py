"""The start page at `/`: links to every page and the API docs, in Chinese and English.

The links are read from the served HTML and each one is fetched from the live server (all but
the crew tablet, which another page owns, must answer 200); headless Chromium follows one.
"""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
from playwright.sync_api import Browser, expect

from tests.support.pages import WAIT_MS
from tests.support.server import Running

#: The pages the start page must link, by their `data-page`.
PAGES = {
    "console": "/console",
    "login": "/login",
    "cockpit": "/cockpit",
    "hospital": "/hospital",
    "tablet": "/tablet",
    "docs": "/docs",
}


class Links(HTMLParser):
    """The `data-page` links of a page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, str] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("data-page"):
            self.pages[str(found["data-page"])] = str(found.get("href"))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_start_page_links_every_page_in_both_languages(live: Running) -> None:
    """`/` is HTML under the pages' CSP linking console, login, cockpit, hospital, tablet and
    the API docs, labelled 调度台 / Console and so on; each linked page (the tablet aside) is
    served."""
    r = httpx.get(f"{live.http}/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    links = Links()
    links.feed(r.text)
    assert links.pages == PAGES
    text = " ".join(links.text)
    for words in (
        "调度台",
        "Console",
        "数据驾驶舱",
        "Cockpit",
        "车组平板",
        "Crew tablet",
        "API docs",
    ):
        assert words in text
    for page, path in PAGES.items():
        if page != "tablet":  # the crew tablet page is another helper's (issue 21, item 1)
            assert httpx.get(f"{live.http}{path}").status_code == 200, path


def test_a_link_opens_its_page_in_chromium(live: Running, browser: Browser) -> None:
    """Clicking 数据驾驶舱 Cockpit on the start page opens /cockpit."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live.http}/")
        page.locator('a[data-page="cockpit"]').click()
        expect(page).to_have_url(f"{live.http}/cockpit", timeout=WAIT_MS)
    finally:
        context.close()
