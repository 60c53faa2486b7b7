"""The contract between the engine and a variation operator.

The engine calls ``step`` again and again. A step sees the session (lineage, attempts, files)
through a :class:`StepContext`, evaluates candidates with it, and asks it to commit the ones
worth keeping; the commit gate decides. In a run of several lanes (docs/engine.md) each lane
has its own operator instance and context, and the lineage moves under a step as other lanes
commit: the gate judges every request against the best at that moment, and says so
(:class:`GateAnswer`). The context's ``session`` is a read-only view: only
the gate writes the lineage. ``safe_point``, ``take_hints``, ``evaluate`` and
``commit`` are safe points: a pause takes effect there, and a rollback or stop ends the step by
raising :class:`StepInterrupted`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..evaluation import EvalResult, TargetSpec
from ..store import TO_THE_GATE, Attempt, Payload, Score, Version
from ..store.view import SessionView


class OperatorUnavailable(ValueError):
    """The operator cannot run here (unknown name, no API key, bad settings)."""


class StepInterrupted(Exception):
    """The ground moved under a step (rollback, hand edit, stop): the engine ends it."""


@dataclass(frozen=True)
class Trial:
    """One evaluated candidate, recorded as an attempt."""

    attempt: Attempt
    result: EvalResult
    files: dict[str, str]
    key: str  # hash of the whole source
    # For a twin of a kernel read earlier in this run (engine/twins.py), not timed again:
    # that first reading, which the gate is asked about in its place.
    reading: Trial | None = None

    @property
    def outcome(self) -> str:
        return self.attempt.outcome

    def for_the_gate(self) -> Trial | None:
        """What a commit request takes to the gate: this trial's first reading, or its twin's,
        where it is one the gate is asked about (a gain, or too noisy to call); else None."""
        if self.outcome in TO_THE_GATE:
            return self
        if self.reading is not None and self.reading.outcome in TO_THE_GATE:
            return Trial(self.reading.attempt, self.reading.result, self.files, self.key)
        return None

    @property
    def score(self) -> Score | None:
        return self.attempt.score


@dataclass(frozen=True)
class StepResult:
    summary: str
    committed: Version | None = None
    exhausted: bool = False  # the operator has nothing new left to try
    transcript: str | None = None  # the agent's whole conversation, kept as a blob
    failed: bool = False  # a fault ended the step (a bug, a request the API refused)
    # An attempt whose promising reading the step left ungated, for the lane's next step to
    # start from (LineageContext.carried); the engine drops it if the operator moved the
    # lineage (a rollback, a hand edit, an approval) during or after the step.
    carry: str | None = None


@dataclass(frozen=True)
class GateAnswer:
    """The gate's answer to a lane's latest commit request: the attempt it recorded (its
    outcome: committed, suspect, not_confirmed, unchanged or a failure's kind, and why in its
    detail), the best version it judged against, and where the best was when the step began
    if another lane's commit has moved it since (``moved_from``). A lane so overtaken that
    committed nothing is rebased: its step now builds on the best (``rebased_onto``)."""

    attempt: Attempt
    best: str | None = None
    moved_from: str | None = None
    rebased_onto: str | None = None

    def moved(self) -> str:
        """A sentence for the operator when the best moved under its step, else ''."""
        if not self.moved_from or not self.best:
            return ""
        rebased = (f", and this step now builds on {self.rebased_onto}"
                   if self.rebased_onto else "")
        return (f"The best moved from {self.moved_from} to {self.best} while this step ran "
                f"(another lane committed): the gate judged the kernel against "
                f"{self.best}{rebased}.")


@dataclass(frozen=True)
class Spending:
    """What the session has spent, against its budgets (None: no limit)."""

    cost_usd: float = 0.0
    max_cost_usd: float | None = None
    tokens: int = 0
    max_tokens: int | None = None
    steps: int = 0  # steps done
    max_steps: int | None = None
    last_step_cost_usd: float = 0.0  # what the latest step to end cost


class LineageContext(Protocol):
    """What a step reads: the target, the lineage and attempts, where it starts, the device."""

    target: TargetSpec

    @property
    def session(self) -> SessionView:
        """The lineage, attempts and files, read-only: only ``commit`` (the gate) writes."""
        ...
    def head(self) -> Version | None:
        """The version this step builds on; None while the session has no version yet (a
        target with no seed: this step writes v0)."""
        ...
    def best(self) -> Version | None: ...
    def carried(self) -> Attempt | None:
        """The candidate this lane's last step left promising and ungated for this one to
        start from (StepResult.carry); None when it left none, or the operator has since
        moved the lineage (a rollback, a hand edit, an approval)."""
        ...
    @property
    def lane(self) -> int | None:
        """This step's lane in a run of several (1, 2 ...); None when the run has one."""
        ...
    @property
    def lanes(self) -> int:
        """How many lanes the run has."""
        ...
    @property
    def step_number(self) -> int:
        """The number of the step under way (1 for a session's first)."""
        ...
    def hardware(self) -> dict[str, object]:
        """The evaluation device: host facts (GPU, driver, versions) and measured ones
        (SMs, memory, registers, the bf16 matmul peak), as far as an evaluation has shown."""
        ...
    def baselines(self) -> dict[str, dict[str, float]]:
        """{configuration: {baseline: throughput}} measured on this host, where known."""
        ...
    @property
    def quick(self) -> bool:
        """Whether the run scores on the target's quick grid (--quick)."""
        ...


class SteeringContext(Protocol):
    """The operator's side of control: safe points, pauses, hints, guidance, plans, events."""

    def safe_point(self) -> None:
        """Apply waiting commands; block while paused; raise StepInterrupted on stop/rollback."""
        ...
    def pause(self, reason: str) -> None:
        """Pause the run (takes effect at the next safe point) with a reason the operator sees."""
        ...
    def take_hints(self) -> list[str]:
        """The hints that arrived since the last call; each must be acknowledged."""
        ...
    def acknowledge_hint(self, text: str, used: bool, note: str) -> None: ...
    @property
    def guidance(self) -> str | None:
        """The standing guidance; None where there is none, or it asked one step only and
        that step had it (spend_guidance)."""
        ...
    def spend_guidance(self, text: str) -> None:
        """Guidance ``text`` asked one step only, and this step has it: it is not ``guidance``
        again, across restarts, until guidance is sent again."""
        ...
    def plan(self, text: str) -> None: ...
    def announce(self, payload: Payload) -> None:
        """Record an event (tool call, supervisor review ...) for the views."""
        ...
    def progress(self, text: str) -> None: ...


class MemoryContext(Protocol):
    """What an operator keeps across steps, restarts and crashes."""

    def memory(self) -> dict[str, Any]:
        """What the operator kept across steps and restarts (``remember``)."""
        ...
    def remember(self, **fields: Any) -> None: ...
    def update_memory(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """``remember(**change(memory()))`` in one go: the other lanes of the run share the
        memory, and one of them may write it between a read and a write."""
        ...
    def save_conversation(self, doc: dict[str, Any]) -> None:
        """Keep the step's conversation so far, crash-safe: after a crash or a kill, the same
        step resumes from it (``saved_conversation``). The engine drops it when the step ends."""
        ...
    def saved_conversation(self) -> dict[str, Any] | None:
        """What the unfinished step of a dead run saved last, or None."""
        ...


class EvaluationContext(Protocol):
    """Scoring candidates, asking the gate to commit them, and paying for the step."""

    def evaluate(
        self, files: dict[str, str], *, base: str | None, note: str = "", quick: bool = False,
        idea: str | None = None,
    ) -> Trial:
        """Score a candidate built on version ``base`` (None: on none, a first version);
        ``quick``: on the quick grid, outcome ``checked`` at best; ``idea`` says what the
        candidate tries."""
        ...
    def commit(self, trial: Trial, message: str, transcript: str | None = None) -> Version | None:
        """Re-evaluate ``trial`` independently; commit it if the gate accepts. None if not."""
        ...
    def commit_bar(self) -> str:
        """What a commit needs now, in words (the gate's rule against the best)."""
        ...
    def gate_answer(self) -> GateAnswer | None:
        """What the gate answered to this lane's latest ``commit`` (None before any)."""
        ...
    def reading(self, attempt: str) -> Trial | None:
        """Attempt ``attempt``'s first reading as a Trial, where it is one the gate may be
        asked about (promising or inconclusive), this run's or read back from the store;
        else None."""
        ...
    def charge(self, cost_usd: float, tokens: int) -> None:
        """Count spending against the session's budgets."""
        ...
    def spending(self) -> Spending:
        """What the session has spent so far, and its budgets."""
        ...


class StepContext(LineageContext, SteeringContext, MemoryContext, EvaluationContext, Protocol):
    """Everything a step may use; each operator declares the parts it takes (the tuner
    needs no memory)."""


class Operator(Protocol):
    name: str  # the author of its versions: "tuner" or "agent"

    def step(self, ctx: StepContext) -> StepResult: ...
    def redirect(self, ctx: StepContext, reason: str) -> None:
        """The supervisor found the search stalled: change direction."""
        ...

