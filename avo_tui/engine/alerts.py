"""Alerts: the events worth a look from afar, and a command of the user's that hears of them.

A week-long run is watched now and then. The events that want a person are few: a new best,
a result held for review, a run that stopped (or paused, or finished; not one the app handed to
a process of its own, which goes on there), the supervisor finding the search stalled, and an
error. The settings file names a command for them::

    [alerts]
    command = "notify-send avo \\"$(jq -r .line)\\""   # or curl a webhook with -d @-
    on = ["new_best", "held", "stopped", "stalled", "error"]   # the default: all of them

Each alert runs the command through ``/bin/sh -c``, the alert as one JSON object on its
standard input (the alert's name, the session, a line saying what happened, and the event),
in the background: a slow or failing command never holds the run up, and its failures are said
once on the run's error stream, never raised. An attached app rings the terminal bell on the
same alerts (:func:`alert_of`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..settings_file import SettingsFileError, read_table
from ..store import Event, EventKind
from .commands import handed_off

NEW_BEST, HELD, STOPPED, STALLED, ERROR = "new_best", "held", "stopped", "stalled", "error"
ALERTS = (NEW_BEST, HELD, STOPPED, STALLED, ERROR)
ENDED = frozenset({"stopped", "finished", "paused", "interrupted", "crashed"})
COMMAND_TIMEOUT_S = 60.0  # a command still running then is left to itself, and said so


class AlertSettingsError(SettingsFileError):
    """The [alerts] table cannot be used: one line saying why."""


def alert_of(event: Event, best: Callable[[], str | None]) -> str | None:
    """The alert ``event`` raises, if any. ``best`` gives the best version's id as the
    session stands (a commit is a new best when it is the best)."""
    data = event.data
    if event.kind == EventKind.COMMIT and data.get("version") and best() == data["version"]:
        return NEW_BEST
    if event.kind == EventKind.SUSPECT and data.get("action") == "held":
        return HELD
    if event.kind == EventKind.STATUS and data.get("lane") is None and (
            data.get("status") in ENDED) and not handed_off(str(data.get("reason", ""))):
        return STOPPED  # a run handed to a process of its own goes on there: no stop
    if event.kind == EventKind.SUPERVISOR and data.get("action") == "redirect":
        return STALLED
    if event.kind == EventKind.ERROR:
        return ERROR
    return None


@dataclass(frozen=True)
class AlertCommand:
    """The user's alert command, subscribed to a run's events."""

    command: str
    on: frozenset[str]
    session: str
    best: Callable[[], str | None]
    describe: Callable[[Event], str]

    @classmethod
    def from_settings(cls, session: str, best: Callable[[], str | None],
                      describe: Callable[[Event], str]) -> AlertCommand | None:
        """The settings file's [alerts], or None where it names no command."""
        table = read_table("alerts")
        command = table.get("command")
        if command is None:
            return None
        if not isinstance(command, str) or not command.strip():
            raise AlertSettingsError("[alerts] command must be a shell command line (a string)")
        on = table.get("on", list(ALERTS))
        if not isinstance(on, list) or any(name not in ALERTS for name in on):
            raise AlertSettingsError(f"[alerts] on must list some of {', '.join(ALERTS)}, "
                                     f"not {on!r}")
        return cls(command, frozenset(on), session, best, describe)

    def __call__(self, event: Event) -> None:
        alert = alert_of(event, self.best)
        if alert is None or alert not in self.on:
            return
        doc = {"alert": alert, "session": self.session, "line": self.describe(event),
               "event": event.to_doc()}
        threading.Thread(target=self._run, args=(json.dumps(doc, default=str) + "\n",),
                         name="avo-alert", daemon=True).start()

    def _run(self, text: str) -> None:
        try:
            process = subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       start_new_session=True)
            _, err = process.communicate(text.encode(), timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"avo: the alert command still runs after {COMMAND_TIMEOUT_S:.0f} s; left "
                  "to itself", file=sys.stderr)
            return
        except OSError as error:
            print(f"avo: the alert command could not run: {error}", file=sys.stderr)
            return
        if process.returncode:
            said = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
            print(f"avo: the alert command exited with {process.returncode}: {said[0]}",
                  file=sys.stderr)
