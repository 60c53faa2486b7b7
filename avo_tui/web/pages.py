"""The view ``avo serve`` starts for each page: its own process group, ended with its page.

textual-serve starts a page's app through a shell in the server's own process group, and
when the page goes it asks the app to quit and then waits, without limit, for the app's
output to close. An app that did not answer (busy, or writing to a page already gone) thus
outlived its page, held the server's SIGTERM up forever, and outlived the server too.

Here a page's view is its own process group (started without a shell), and its end is
bounded: asked to quit, then after ``QUIT_S`` a SIGTERM to its group, then after ``TERM_S`` a
SIGKILL. The server ends every view this way before it stops (server.py). A view whose
server died without ending it (SIGKILL) sees its input close and leaves by itself
(``tui/served.py``, named below as the app's driver)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from asyncio.subprocess import PIPE, Process

from textual_serve.app_service import AppService

QUIT_S = 10.0  # a view that was asked to quit has this long to leave on a loaded machine
TERM_S = 5.0  # then one sent SIGTERM has this long before SIGKILL
DRIVER = "avo_tui.tui.served:ServedWebDriver"


class PageView(AppService):
    """One page's app process, ended with the page (:meth:`stop`) at the latest after
    ``QUIT_S + TERM_S`` seconds."""

    _ending: asyncio.Task[None] | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        environment = self._build_environment(width=width, height=height)
        environment["TEXTUAL_DRIVER"] = DRIVER
        self._process = process = await asyncio.create_subprocess_exec(
            *shlex.split(self.command), stdin=PIPE, stdout=PIPE, stderr=PIPE, env=environment,
            start_new_session=True)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def stop(self) -> None:
        """Ends the view, once however often it is asked (the page's handler and the
        server's shutdown both ask); a caller that is cancelled does not cut the ending
        short."""
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end())
        await asyncio.shield(self._ending)

    async def _end(self) -> None:
        process, reading = self._process, self._task
        if process is None:
            return
        with contextlib.suppress(Exception):  # its input may be closed already
            await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
            await asyncio.wait_for(self.send_meta({"type": "quit"}), QUIT_S)
        if not await _exited(process, QUIT_S):
            _signal_group(process, signal.SIGTERM)
            if not await _exited(process, TERM_S):
                _signal_group(process, signal.SIGKILL)
                await process.wait()
        if reading is not None:  # its output is closed now: the relay ends
            await asyncio.wait({reading}, timeout=TERM_S)
            reading.cancel()
        self._task = None


async def _exited(process: Process, seconds: float) -> bool:
    try:
        await asyncio.wait_for(process.wait(), seconds)
    except TimeoutError:
        return False
    return True


def _signal_group(process: Process, signum: int) -> None:
    """Only while the leader is not yet reaped: its pid still names this group alone."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
