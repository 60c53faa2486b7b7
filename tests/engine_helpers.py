"""A live engine on a real session, a real tuner and a real CPU worker, run in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from avo_tui.engine import (
    Budgets,
    Engine,
    Evaluator,
    RunSettings,
    SupervisorLimits,
    create_session,
    seed_files,
)
from avo_tui.evaluation import Worker, get_target
from avo_tui.operators import Operator, Tuner
from avo_tui.store import Event, Session

TARGET = get_target("cpu-attention")


def new_session(directory: Path, worker: Worker, **settings: object) -> Session:
    evaluator = Evaluator(TARGET, worker, quick=True)
    return create_session(
        directory, TARGET, RunSettings(quick=True, **settings), seed_files(TARGET), evaluator
    )


@dataclass
class LiveRun:
    engine: Engine
    thread: threading.Thread
    events: list[Event] = field(default_factory=list)
    evaluating: threading.Event = field(default_factory=threading.Event)
    result: list[str] = field(default_factory=list)

    def wait(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; events: {[e.kind for e in self.events]}")
            if not self.thread.is_alive() and not predicate():
                raise AssertionError(f"the run ended early: {self.result}")
            time.sleep(0.02)

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def finish(self, timeout: float = 60.0) -> str:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the engine did not stop"
        return self.result[0]


def start(
    session: Session, worker: Worker, *, max_steps: int | None = 50, seed: int = 1,
    before: Callable[[Engine], None] | None = None, operator: Operator | None = None,
    budgets: Budgets | None = None, limits: SupervisorLimits | None = None,
) -> LiveRun:
    """Run an engine in a thread: the tuner unless ``operator`` is given."""
    evaluator = Evaluator(TARGET, worker, quick=True)
    engine = Engine(session, operator or Tuner(seed), evaluator,
                    budgets=budgets or Budgets(max_steps=max_steps), limits=limits)
    thread = threading.Thread(target=lambda: live.result.append(engine.run()), daemon=True)
    live = LiveRun(engine, thread)
    engine.subscribe(live.events.append)
    engine.on_progress(lambda text: live.evaluating.set() if text.startswith("check") else None)
    if before:
        before(engine)
    thread.start()
    return live
