"""The engine's inbox keeps the order commands were sent in: waiting for one takes nothing."""

from __future__ import annotations

import threading
from pathlib import Path

from avo_tui.engine import Hint, Pause, Resume, send
from avo_tui.engine.inbox import Inbox


def test_a_pause_and_a_resume_waiting_together_keep_their_order() -> None:
    inbox = Inbox()
    inbox.put(Pause())
    inbox.put(Resume())
    inbox.wait(0.0)  # what a paused engine does before it drains
    assert inbox.drain() == [Pause(), Resume()]


def test_a_command_arriving_while_the_engine_waits_comes_after_the_one_it_woke_for() -> None:
    inbox = Inbox()
    woke = threading.Event()

    def wait() -> None:
        inbox.wait(30.0)
        woke.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    inbox.put(Pause())
    assert woke.wait(30.0)
    inbox.put(Resume())
    waiter.join()
    assert inbox.drain() == [Pause(), Resume()]


def test_waiting_takes_nothing_and_drain_takes_everything_once() -> None:
    inbox = Inbox()
    inbox.put(Hint("tile 128"))
    inbox.wait(0.0)
    inbox.wait(0.0)
    assert inbox.drain() == [Hint("tile 128")]
    assert inbox.drain() == []


def test_commands_from_other_processes_come_first_in_the_order_they_were_written(
        tmp_path: Path) -> None:
    send(tmp_path, Pause())
    send(tmp_path, Resume())
    inbox = Inbox(tmp_path)
    inbox.put(Hint("later"))
    assert inbox.drain() == [Pause(), Resume(), Hint("later")]
