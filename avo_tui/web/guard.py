"""The door of ``avo serve``: no request reaches the app without the token.

textual-serve has no authentication, and the app it serves can steer a multi-day run, so
every request is checked here first, the page, its static files and the websocket alike:

- The token is 32 random bytes (``secrets``), made when the server starts, printed once in
  the address to open, and kept nowhere else: not in a file, not in a log (the server logs
  no requests), not in the session.
- The first request carries it in the address (``?token=...``). A right one is answered with
  a cookie holding it (HttpOnly, SameSite=Strict, named for the port, so two servers on one
  host keep theirs apart) and a redirect to the same address without it, so it does not stay
  in the address bar; later requests, the websocket's included, show the cookie.
- Anything else is 403: no token, a wrong one, or a websocket opened by a page of another
  origin (a browser sends the cookie with it; the Origin header says whose page it is).
- Tokens are compared with ``hmac.compare_digest``: in time that does not depend on how much
  of a guess was right.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

TOKEN = "token"  # the address's query parameter
REFUSED = ("403: avo serve needs its token. Open the address it printed when it started "
           "(http://HOST:PORT/?token=...).\n")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def cookie_name(port: int) -> str:
    return f"avo-token-{port}"


def same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def token_guard(token: str, port: int) -> Middleware:
    """The aiohttp middleware that lets through only requests showing ``token``."""
    cookie = cookie_name(port)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if TOKEN in request.query:
            if not same(request.query[TOKEN], token):
                return refused()
            if request.method == "GET" and not _websocket(request):
                return _enter(request, token, cookie)
        elif not same(request.cookies.get(cookie), token):
            return refused()
        if _websocket(request) and not _same_origin(request):
            return refused()
        return await handler(request)

    return guard


def refused() -> web.Response:
    return web.Response(status=403, text=REFUSED)


def _enter(request: web.Request, token: str, cookie: str) -> web.StreamResponse:
    """The cookie, and the same address without the token."""
    rest = {k: v for k, v in request.query.items() if k != TOKEN}
    response = web.Response(status=303, headers={"Location": str(request.rel_url.with_query(rest))})
    response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
    return response


def _websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _same_origin(request: web.Request) -> bool:
    """A page of this server opened it: its Origin names this host (a client that is not a
    browser sends none, and has shown the token)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host
