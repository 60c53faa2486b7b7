"""``avo serve``'s web server: textual-serve's, which starts the app command anew for each
page that connects and relays its screen and keys over a websocket, behind the token guard
(guard.py), on the address the operator chose.

Three of textual-serve's ways are changed here. Its page names the websocket and the static
files by the address the server was started with, so a page opened through an SSH tunnel
(``localhost:9000``) would connect to the wrong one: this page names them by the address it
was opened at. Its page loads a font from the internet: this one loads nothing from outside
(the machines avo runs on are often closed). And its server logs every request, with its
address, so the token would be written to the console: this one logs none."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

from .guard import token_guard

TEMPLATES = Path(__file__).parent  # app_index.html


class GuardedServer(Server):
    def __init__(self, command: str, host: str, port: int, title: str, token: str) -> None:
        super().__init__(command, host=host, port=port, title=title,
                         templates_path=TEMPLATES)
        self.token = token

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

    async def on_startup(self, app: web.Application) -> None:
        """Says nothing: ``avo serve`` prints its own lines once it listens."""

    async def run(self, listening: Callable[[int], None]) -> None:
        """Serve until SIGINT or SIGTERM; ``listening`` is told the port once it listens (the
        one asked for, or the one the system gave for port 0). The socket is bound first, so
        the guard's cookie is named for the port it really is."""
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
            await runner.cleanup()
