"""The records of a session: versions, attempts, events, and the scores they carry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

AUTHORS = ("seed", "agent", "tuner", "operator")
# What every view says of a session whose target has no seed, before the agent's first commit
# (its head is None): docs/engine.md, "A run without a seed".
NO_VERSION_YET = "no version yet: the agent writes v0"


def base_label(base: str | None) -> str:
    """How a view names the version a record was built on: ``-`` for none (a candidate for
    v0, before the session had a version), as the lineage's parent column names v0's."""
    return "-" if base is None else base


class EventKind(StrEnum):
    SESSION = "session"
    PLAN = "plan"
    TOOL_CALL = "tool_call"
    COMPILE = "compile"
    CORRECTNESS = "correctness"
    BENCHMARK = "benchmark"
    ATTEMPT = "attempt"
    COMMIT = "commit"
    HINT = "hint"
    GUIDANCE = "guidance"
    PAUSE = "pause"
    RESUME = "resume"
    ROLLBACK = "rollback"
    SUPERVISOR = "supervisor"
    SUSPECT = "suspect"  # a flagged result held for the operator: held, approved, rejected
    STEP = "step"
    STEP_RESUMED = "step_resumed"  # an interrupted agent step continued from its saved turns
    STATUS = "status"
    ERROR = "error"
    OPERATOR = "operator"  # the session's variation operator was switched on a resume
    QUEUED = "queued"  # a run starts with commands sent while no run was live
    RESEARCH = "research"  # the research record of an agent step, or a pre-commit review
    RESCORE = "rescore"  # the operator re-scored a version (avo rescore), or its score followed
    # a version read slower against the anchor beside a candidate than it was recorded
    FLAGGED = "flagged"


class Outcome(StrEnum):
    """What became of an attempt when it did not fail; a failed attempt's outcome is its
    failure's kind instead (compile, incorrect, timeout ...: evaluation/results.py)."""

    PROMISING = "promising"  # correct, and its first reading beats the best by more than the noise
    # correct, no gain on its first reading (zero or negative), but too noisy to rule one out:
    # the top of its 99% interval reaches the gate's floor, so the gate measures it longer
    INCONCLUSIVE = "inconclusive"
    WITHIN_NOISE = "within_noise"  # above the best, but not by more than the measured noise
    SLOWER = "slower"
    CHECKED = "checked"  # correct on the quick grid, which gives no score to commit on
    COMMITTED = "committed"
    NOT_CONFIRMED = "not_confirmed"  # the gate's independent re-evaluation did not confirm it
    # the gate could not tell: the machine too rough for its checks (engine/anchor_check.py);
    # no decision, no strike, measured again if asked
    UNDECIDED = "undecided"
    # correct and above the commit threshold, but flagged as implausible by the evaluator, so
    # held for the operator's approval instead of committed
    SUSPECT = "suspect"
    INTERRUPTED = "interrupted"  # cut short on request: it says nothing about the kernel
    UNCHANGED = "unchanged"  # nothing new to judge (the best's kernel, or one already judged)
    # The gate rejected the kernel: its decisions ended undecided twice (the best's side or
    # the worker failed, or the harness), and each counts against the kernel (engine/gate.py)
    REJECTED_UNDECIDED_TWICE = "rejected_undecided_twice"


# Outcomes that are not failures: ``unchanged`` is no failure of the kernel, but a step that
# ends there made no progress, so the supervisor counts it as one. A rejection for undecided
# decisions is the kernel's failure, as a crash during the gate is.
NOT_FAILURES = frozenset(Outcome) - {Outcome.UNCHANGED, Outcome.REJECTED_UNDECIDED_TWICE}
# First readings the commit gate is asked about: a gain, or a reading too noisy to call.
TO_THE_GATE = frozenset({Outcome.PROMISING, Outcome.INCONCLUSIVE})


@dataclass(frozen=True)
class Score:
    """Throughput of one evaluation. Higher is better; ``ratio`` is against the baseline
    measured in the same evaluation, and ``ratios`` against every baseline it timed, per
    configuration ({config: {baseline: ours over theirs}}; empty in scores stored before).
    ``anchor_ratios`` are its rates over the anchor's, timed beside it in the same sweeps
    (engine/scores.py). ``gmean`` and ``per_config`` are on the lineage's scale: those ratios
    times the anchor's rates when the lineage's first version was scored (before anchors:
    where ``chained_from`` names a version, its score times the gain timed beside it), and
    ``measured`` is the rate this evaluation read on its own clock."""

    gmean: float
    per_config: dict[str, float] = field(default_factory=dict)
    ratio: float | None = None
    baseline: str | None = None
    unit: str = "TFLOP/s"
    ratios: dict[str, dict[str, float]] = field(default_factory=dict)
    # A score chained from the version timed beside it (engine/scores.py): that version's
    # score times the gain measured beside it, and the geometric mean measured on its own.
    chained_from: str | None = None
    measured: float | None = None
    # The kernel no agent wrote timed beside it (a baseline's name, or "seed"), its rate over
    # the anchor's per configuration, and the standard error of the log of their geometric
    # mean; none in scores stored before anchors, or where no anchor was timed.
    anchor: str | None = None
    anchor_ratios: dict[str, float] = field(default_factory=dict)
    anchor_se: float | None = None
    # The version timed beside it in the evaluation that scored it, if any: what its gain was
    # measured over (no part of its score)
    beside: str | None = None
    # Back to back at the power limit, where the run read it (avo run --sustained): the
    # kernel's rate over each baseline's, geometric means over the grid (no part of its score)
    sustained: dict[str, float] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Score | None:
        return cls(**doc) if doc else None


@dataclass(frozen=True)
class Version:
    """A committed kernel. Immutable once written; ids (``v0``, ``v1``...) are never reused."""

    id: str
    parent: str | None
    author: str
    message: str
    files: dict[str, str]  # file name -> blob hash
    score: Score | None
    created: float
    lines_added: int = 0  # against the parent
    lines_removed: int = 0
    cost_usd: float = 0.0  # API dollars spent since the previous commit, failed steps included
    attempt: str | None = None
    tokens: int = 0  # API tokens spent since the previous commit, as cost_usd
    lane: int | None = None  # the lane that proposed it, in a run of several (docs/engine.md)

    @property
    def number(self) -> int:
        return version_number(self.id)

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["score"] = self.score.to_doc() if self.score else None
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Version:
        fields = dict(doc)
        fields["score"] = Score.from_doc(fields.get("score"))
        return cls(**fields)


@dataclass(frozen=True)
class Attempt:
    """A candidate that an operator evaluated, committed or not. Failed directions stay here."""

    id: str
    base: str | None  # the version it started from; None: none yet (it would be v0)
    author: str
    files: dict[str, str]
    outcome: str  # an Outcome, or the kind of the failure (compile, incorrect, timeout ...)
    detail: str
    score: Score | None
    created: float
    log: str | None = None  # blob hash of the compiler/benchmark log
    transcript: str | None = None  # blob hash of the agent conversation
    version: str | None = None  # set when the attempt became a version
    idea: str | None = None  # what the operator tried, in its own words (the agent's evaluate)
    lane: int | None = None  # the lane that evaluated it, in a run of several (docs/engine.md)
    # What it compiled to (evaluation.results.kernel_identity), once it was built: a later
    # candidate of the same kernel is named as its twin before it is timed (engine/twins.py)
    kernel: str | None = None

    @property
    def number(self) -> int:
        return int(self.id[1:])

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["score"] = self.score.to_doc() if self.score else None
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Attempt:
        fields = dict(doc)
        fields["score"] = Score.from_doc(fields.get("score"))
        return cls(**fields)


@dataclass(frozen=True)
class Suspect:
    """A result the commit gate would have committed but the evaluator flagged as implausible
    (beyond the hardware peak, the plausible ratio to the baseline, or a jump over the best):
    held as the ``suspect`` attempt ``attempt`` until the operator approves it (it becomes a
    version) or rejects it. Pending suspects live in the run state under ``suspects``."""

    attempt: str  # the re-evaluation's attempt id; its files, score and log are the suspect's
    base: str | None  # the version it was built on; None: none yet (it would be v0)
    author: str
    message: str  # the commit message the operator (agent or tuner) asked for
    flags: tuple[str, ...]
    gmean: float
    unit: str = "TFLOP/s"
    ratio: float | None = None
    created: float = 0.0

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["flags"] = list(self.flags)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Suspect:
        fields = dict(doc)
        fields["flags"] = tuple(str(f) for f in fields.get("flags") or ())
        return cls(**fields)


@dataclass(frozen=True)
class Event:
    seq: int
    ts: float
    kind: str
    data: dict[str, Any]

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


def version_id(number: int) -> str:
    return f"v{number}"


def version_number(vid: str) -> int:
    if len(vid) < 2 or vid[0] != "v" or not vid[1:].isdigit():
        raise ValueError(f"not a version id: {vid!r}")
    return int(vid[1:])
