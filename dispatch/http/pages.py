"""The pages jijiu serves to browsers: the hospital wall screen (`GET /hospital`), the
dispatcher's console (`GET /console`), the login page (`GET /login`) and their assets.

The files live in `dispatch/static/` (shipped as package data) and are read once when the app
is built: small files, no build step, nothing fetched from another origin, so the page
works offline. Each answer carries an ETag and `Cache-Control: no-cache` (the browser keeps its
copy but revalidates on every load, so a new release shows at the next reload) and a
Content-Security-Policy that allows scripts, styles and fetches from this server only, and
websockets to this host's websocket port only (`ws_base`: the same host, the port beside).

Each page reads its token from the URL fragment, which browsers never send, so it
reaches no access log; it then passes it in the websocket handshake (`?token=`), as every
websocket client does (docs/wire-protocol.md). The caller's tracking link is `/track#token=`
for the same reason, not `/track/{token}`: a path lands in every access log and proxy log.
`/` is a start page linking the others. The login page puts a person's session token
where the console reads it (this tab's sessionStorage), then opens the console.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from importlib import resources
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import Response

from dispatch.http.common import error_response, ws_base

#: The files served, by name under /static/ (the pages also at /hospital and /console).
ASSETS = (
    "hospital.html",
    "hospital.js",
    "hospital.css",
    "console.html",
    "console.js",
    "console.css",
    "protocol.js",  # the console's call-taking questions and telephone-CPR panel (key q)
    "protocol.css",
    "cockpit.html",
    "cockpit.js",
    "cockpit.css",
    "login.html",
    "login.js",
    "login.css",
    "track.html",  # the caller's tracking page
    "track.js",
    "track.css",
    "index.html",  # the start page at /
    "index.css",
    "tablet.html",  # the crew tablet, installable: its manifest, icon and service worker
    "tablet.js",
    "tablet.css",
    "tablet-icon.svg",
    "manifest.webmanifest",
    "sw.js",
    "i18n.js",  # the pages' languages: message catalogues, t(), the language switch
    "i18n/zh-CN.json",
    "i18n/en.json",
    "news2.js",  # NEWS2 early-warning scoring for the hospital page
)
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "webmanifest": "application/manifest+json",
    "svg": "image/svg+xml",
    "json": "application/json",
}

#: Each page's path and its file: the dispatcher's console (call queue, selected call, live
#: map), a person's login, the receiving ED's wall screen, the data cockpit, the crew tablet
#: with its web app manifest and service worker (at the root, so its scope covers /tablet),
#: the start page linking them all, and a caller's tracking page (`/track#token=…`).
PAGES = {
    "/": "index.html",
    "/console": "console.html",
    "/login": "login.html",
    "/hospital": "hospital.html",
    "/cockpit": "cockpit.html",
    "/tablet": "tablet.html",
    "/manifest.webmanifest": "manifest.webmanifest",
    "/sw.js": "sw.js",
    "/track": "track.html",
}


def _page_route(
    serve: Callable[[str, Request], Response], name: str
) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        return serve(name, request)

    return page


def content_security_policy(request: Request) -> str:
    """Nothing from other origins; websockets to this host's websocket port only (or to the
    path a proxy maps them to: a source ending in "/" allows what lies under it)."""
    sockets = ws_base(request)
    sockets = sockets if urlsplit(sockets).path in ("", "/") else sockets + "/"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "manifest-src 'self'; worker-src 'self'; "
        f"connect-src 'self' {sockets}; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def mount_pages(app: FastAPI) -> None:
    """Serve each page of PAGES at its path, their assets at /static/{name}."""
    static = resources.files("dispatch.http").joinpath("static")
    files = {name: static.joinpath(*name.split("/")).read_bytes() for name in ASSETS}
    etags = {
        name: '"' + hashlib.sha256(body).hexdigest()[:32] + '"' for name, body in files.items()
    }

    def serve(name: str, request: Request) -> Response:
        headers = {
            "ETag": etags[name],
            "Cache-Control": "no-cache",
            "Content-Security-Policy": content_security_policy(request),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        if request.headers.get("if-none-match") == etags[name]:
            return Response(status_code=304, headers=headers)
        media_type = MEDIA_TYPES[name.rsplit(".", 1)[1]]
        return Response(files[name], media_type=media_type, headers=headers)

    for path, name in PAGES.items():
        app.add_api_route(path, _page_route(serve, name), methods=["GET"], include_in_schema=False)

    @app.get("/static/i18n/{name}", include_in_schema=False)
    async def catalogue(name: str, request: Request) -> Response:
        """A message catalogue (`zh-CN.json`, `en.json`); anything else is 404."""
        if f"i18n/{name}" not in files:
            return error_response(404, "unknown_file")
        return serve(f"i18n/{name}", request)

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str, request: Request) -> Response:
        """One of the page's files; anything else is 404."""
        if name not in files:
            return error_response(404, "unknown_file")
        return serve(name, request)
