"""``avo serve``'s web server: textual-serve's, which starts the app command anew for each
page that connects and relays its screen and keys over a websocket, behind the token guard
(guard.py), on the address the operator chose.

Three of textual-serve's ways are changed here. Its page names the websocket and the static
files by the address the server was started with, so a page opened through an SSH tunnel
(``localhost:9000``) would connect to the wrong one: this page names them by the address it
was opened at. Its page loads a font from the internet: this one loads nothing from outside
(the machines avo runs on are often closed). And its server logs every request, with its
address, so the token would be written to the console: this one logs none.

And a page's app is a :class:`~.pages.PageView`: its own process group, ended with its page
or, on SIGINT or SIGTERM, with the server, within a bounded time (pages.py)."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

from .guard import token_guard
from .pages import PageView

TEMPLATES = Path(__file__).parent  # app_index.html


class GuardedServer(Server):
    def __init__(self, command: str, host: str, port: int, title: str, token: str) -> None:
        super().__init__(command, host=host, port=port, title=title,
                         templates_path=TEMPLATES)
        self.token = token
        self.pages: set[PageView] = set()  # the views of the pages open now

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(token_guard(self.token, self.port))
        return app

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        scheme = "wss" if request.secure else "ws"
        font = request.query.get("fontsize", "16")
        return {"title": self.title, "static_url": "/static/",
                "websocket_url": f"{scheme}://{request.host}/ws",
                "font_size": int(font) if font.isdigit() and 6 <= int(font) <= 48 else 16}

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's, with a :class:`PageView` for the page's app, ended when the
        page's websocket closes (or the server stops)."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)

        async def close() -> None:  # the app has left: so does the page
            await websocket.close()

        page = PageView(self.command, write_bytes=websocket.send_bytes,
                        write_str=websocket.send_str, close=close,
                        download_manager=self.download_manager, debug=self.debug)
        self.pages.add(page)
        try:
            await page.start(width, height)
            await self._process_messages(websocket, page)
        except asyncio.CancelledError:
            await websocket.close()
        finally:
            await page.stop()
            self.pages.discard(page)
        return websocket

    async def on_startup(self, app: web.Application) -> None:
        """Says nothing: ``avo serve`` prints its own lines once it listens."""

    async def run(self, listening: Callable[[int], None]) -> None:
        """Serve until SIGINT or SIGTERM, then end every page's view and stop; ``listening``
        is told the port once it listens (the one asked for, or the one the system gave for
        port 0). The socket is bound first, so the guard's cookie is named for the port it
        really is."""
        family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((self.host, self.port), family=family)
        self.port = sock.getsockname()[1]
        runner = web.AppRunner(await self._make_app(), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        listening(self.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await asyncio.gather(*(page.stop() for page in list(self.pages)))
            await runner.cleanup()
