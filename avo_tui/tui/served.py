"""The driver of a view that ``avo serve`` started for a page (web/pages.py names it).

Textual's web driver reads the server's keys from its input and, when that input closes,
only stops reading: the app went on, with no page and no server, drawing into a pipe nobody
reads. Here a closed input ends the app: the server that started it is gone."""

from __future__ import annotations

from textual import messages
from textual.drivers.web_driver import WebDriver


class ServedWebDriver(WebDriver):
    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # the input closed, not the app
            self._app.post_message(messages.ExitApp())
