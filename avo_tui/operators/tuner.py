"""The classical operator: a genetic search over the knobs a kernel declares.

Each step proposes one knob setting for the head's source and evaluates it:
- parents are chosen by tournament over every scored individual of the session (versions and
  attempts alike, failures scoring zero);
- with some probability two parents are crossed (each knob from either), otherwise one parent
  (half the time the best individual) is mutated: one knob, sometimes two; two to four after a
  redirect;
- a source hash already evaluated in this session is never evaluated again;
- hints and guidance that name knobs pin values, hold knobs as they are, avoid values, allow
  only some ("UNROLL > 2": every candidate has UNROLL 4 or 8) or focus the mutation (hints.py
  reads them); guidance that says "first", "next" or "once" is followed for one step only,
  like a hint, and is spent once followed (a resume does not follow it again); what it cannot
  read for sure is acknowledged as
  unusable, with the forms it reads, and not followed in part. Focus is a restriction: while
  guidance says "vary BLOCK_K and UNROLL", every candidate differs from the head in those
  knobs (and pinned ones) only, a parent's other values included; when what the guidance
  allows leaves nothing new, the run pauses for the operator to change or clear it; when the
  knobs have no new setting at all, the tuner's lane ends, saying so.
Where random tries find nothing new, a step looks through every setting and takes the unseen
one nearest the best.
A candidate that measures above the commit threshold is handed to the commit gate.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Protocol

from ..evaluation.declarations import contract
from ..evaluation.declarations.candidate import apply_knobs
from ..evaluation.declarations.contract import ContractError, Knob
from ..store import NO_VERSION_YET, Outcome, Version
from ..store.blobs import blob_hash
from ..store.view import SessionView
from .hints import KnobRequest, declared_knobs, read_knob_request, refusal
from .protocol import EvaluationContext, LineageContext, SteeringContext, StepResult

TOURNAMENT = 3
CROSSOVER_RATE = 0.3
EXPLOIT_RATE = 0.5  # otherwise a tournament: the best so far is the parent half the time
SINGLE_KNOB_RATE = 0.7  # a mutation changes one knob, else two (knobs often act separately)
TRIES_PER_STEP = 200
WIDEN_STEPS = 10  # steps of wider mutation after a redirect
SCAN_LIMIT = 4096  # settings looked through when a step's random tries found nothing new


class TunerContext(LineageContext, SteeringContext, EvaluationContext, Protocol):
    """What the tuner uses of a step's context: no memory (it rebuilds its population from
    the lineage)."""


@dataclass(frozen=True)
class Individual:
    knobs: dict[str, str]
    gmean: float  # 0 for a failed candidate


@dataclass(frozen=True)
class Scan:
    nearest: tuple[dict[str, str], dict[str, str]] | None  # (knob values, files)
    whole: bool  # every setting was looked at (none past SCAN_LIMIT)
    looked: int


class Tuner:
    name = "tuner"

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.population: list[Individual] = []
        self.seen: set[str] = set()  # blob-hash sets of every evaluated source
        self._attempts_read = 0
        self._versions_read = 0
        self._wide_steps = 0
        self._restart_from: Individual | None = None
        self._guidance_noted: str | None = None
        self._standing = KnobRequest()  # what the standing guidance asks, as last read
        self._source_knobs: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}

    # -- the step -----------------------------------------------------------------------------

    def step(self, ctx: TunerContext) -> StepResult:
        self._catch_up(ctx)
        head = ctx.head()
        if head is None:  # `avo run` refuses the tuner before this; a lane of a mixed run ends
            return StepResult(f"{NO_VERSION_YET}; the tuner varies the knobs of a version, so "
                              "it has nothing to start from", exhausted=True)
        files = ctx.session.read_files(head)
        knobs = _declared_knobs(files)
        if not knobs:
            return StepResult(
                f"{head.id} declares no knobs (// avo:knob): the tuner has nothing to vary",
                exhausted=True,
            )
        request = self._requests(ctx, knobs)
        proposal = self._propose(ctx, head, files, knobs, request)
        if proposal is None:
            return self._nothing_new(ctx, head, files, knobs, request)
        values, candidate = proposal
        change = _describe_change({k.name: k.value for k in knobs.values()}, values)
        ctx.plan(f"{head.id}: {change}")
        trial = ctx.evaluate(candidate, base=head.id, note=change)
        self._source_knobs[tuple(sorted(trial.attempt.files.items()))] = values  # no re-parse
        to_gate = trial.for_the_gate() is not None
        committed = ctx.commit(trial, f"tuner: {change}") if to_gate else None
        if self._wide_steps:
            self._wide_steps -= 1
        answer = ctx.gate_answer() if to_gate else None
        # The step ends with its candidate's last outcome: the gate's, where it was asked.
        final = answer.attempt.outcome if answer else trial.outcome
        summary = f"{change}: {final}" + (f" -> {committed.id}" if committed else "")
        held = answer is not None and answer.attempt.outcome == Outcome.SUSPECT  # a person decides
        if not committed and answer and held:
            summary += f" -> held as suspect {answer.attempt.id} for the operator's review"
        if answer and answer.moved_from:  # another lane committed while this step ran
            summary += f" (judged against {answer.best}, the best since {answer.moved_from})"
        return StepResult(summary, committed=committed)

    def redirect(self, ctx: TunerContext, reason: str) -> None:
        """Restart selection from another scored individual, and mutate wider for a while."""
        self._catch_up(ctx)
        self._wide_steps = WIDEN_STEPS
        scored = sorted((i for i in self.population if i.gmean > 0), key=lambda i: -i.gmean)
        others = scored[1:] or scored
        self._restart_from = self.rng.choice(others) if others else None
        ctx.plan(
            f"redirect ({reason}): mutating 2-4 knobs for {WIDEN_STEPS} steps, starting from "
            + (_describe_knobs(self._restart_from.knobs) if self._restart_from else "the head")
        )

    # -- reading the session ------------------------------------------------------------------

    def _catch_up(self, ctx: LineageContext) -> None:
        """Take in the versions and attempts recorded since the last look (all, on resume)."""
        session = ctx.session
        for version in list(session.lineage)[self._versions_read :]:
            self._remember(session, version.files, version.score.gmean if version.score else 0.0)
        self._versions_read = len(session.lineage)
        for number in range(self._attempts_read + 1, session.attempt_count + 1):
            attempt = session.attempt(f"a{number}")
            if attempt.outcome != Outcome.INTERRUPTED:
                gmean = attempt.score.gmean if attempt.score else 0.0
                self._remember(session, attempt.files, gmean)
        self._attempts_read = session.attempt_count

    def _remember(self, session: SessionView, hashes: dict[str, str], gmean: float) -> None:
        key = tuple(sorted(hashes.items()))
        self.seen.add(_hash_key(hashes))
        knobs = self._source_knobs.get(key)
        if knobs is None:
            texts = {name: session.blobs.get_text(h) for name, h in hashes.items()}
            knobs = self._source_knobs[key] = {
                k.name: k.value for k in _declared_knobs(texts).values()
            }
        if knobs:
            self.population.append(Individual(knobs, gmean))

    # -- proposing ----------------------------------------------------------------------------

    def _requests(self, ctx: SteeringContext, knobs: dict[str, Knob]) -> KnobRequest:
        """Pins and focus from this step's hints and the standing guidance; acknowledge each."""
        choices = {name: knob.choices for name, knob in knobs.items()}
        merged = KnobRequest()
        guidance = ctx.guidance
        self._standing = KnobRequest()
        if guidance:
            wanted = read_knob_request(guidance, choices)
            fresh = guidance != self._guidance_noted
            if fresh:
                self._guidance_noted = guidance
                ctx.acknowledge_hint(guidance, wanted.usable, _note(wanted, choices, standing=True))
            # guidance not read for sure is not followed in part either; guidance that says
            # "first" or "next" is followed by the one step after it arrives, and is no pin
            if wanted.usable and not wanted.once:
                self._standing = wanted
                merged.merge(wanted)
            elif wanted.usable and fresh:
                merged.merge(wanted)
                ctx.spend_guidance(guidance)
        for hint in ctx.take_hints():
            wanted = read_knob_request(hint, choices)
            ctx.acknowledge_hint(hint, wanted.usable, _note(wanted, choices, standing=False))
            if wanted.usable:
                merged.merge(wanted)
        return merged

    def _propose(
        self,
        ctx: LineageContext,
        head: Version,
        files: dict[str, str],
        knobs: dict[str, Knob],
        request: KnobRequest,
    ) -> tuple[dict[str, str], dict[str, str]] | None:
        current = {name: knob.value for name, knob in knobs.items()}
        fixed = request.fixed(current)
        for _ in range(TRIES_PER_STEP):
            values = self._child(current, knobs, request)
            if values == current and not fixed:
                continue
            candidate = apply_knobs(files, values)
            if _source_hash(candidate) in self.seen or not _feasible(candidate, ctx):
                continue
            return values, candidate
        return self._scan(ctx, files, knobs, request, current).nearest

    def _scan(
        self,
        ctx: LineageContext,
        files: dict[str, str],
        knobs: dict[str, Knob],
        request: KnobRequest,
        current: dict[str, str],
    ) -> Scan:
        """The unseen, feasible setting the request allows that is nearest the best individual,
        looked for among every setting (up to SCAN_LIMIT). Random tries can miss what is left:
        a redirect's wide mutation changes every knob of a two-knob kernel, so from the best
        it reaches only settings with none of the best's values."""
        fixed = request.fixed(current)
        free = sorted((request.focus or knobs.keys()) - fixed.keys())
        ranges = [_allowed(knobs[name], request) for name in free]
        settings = list(itertools.islice(itertools.product(*ranges), SCAN_LIMIT + 1))
        whole = len(settings) <= SCAN_LIMIT
        unseen = []
        for picked in settings[:SCAN_LIMIT]:
            values = current | dict(zip(free, picked, strict=True)) | fixed
            candidate = apply_knobs(files, values)
            if _source_hash(candidate) not in self.seen:
                unseen.append((values, candidate))
        best = max(self.population, key=lambda i: i.gmean).knobs if self.population else current
        self.rng.shuffle(unseen)  # among equally near settings, any
        unseen.sort(key=lambda found: sum(found[0][k] != best.get(k) for k in free))
        nearest = next(((v, c) for v, c in unseen if _feasible(c, ctx)), None)
        return Scan(nearest, whole, min(len(settings), SCAN_LIMIT))

    def _nothing_new(
        self,
        ctx: TunerContext,
        head: Version,
        files: dict[str, str],
        knobs: dict[str, Knob],
        request: KnobRequest,
    ) -> StepResult:
        """No new setting within what is asked: pause for the operator where the standing
        guidance is what narrows it, go on where a one-step hint did, else end the lane (steps
        that try nothing would only spin)."""
        current = {name: knob.value for name, knob in knobs.items()}
        unasked = self._scan(ctx, files, knobs, KnobRequest(), current)
        if unasked.nearest is not None and self._standing.usable:
            summary = (f"every knob setting within the guidance ({self._standing.describe()}) "
                       "was already evaluated")
            ctx.pause(f"{summary}: change or clear the guidance, then resume")
            return StepResult(summary)
        if unasked.nearest is not None:  # a hint narrowed this step; the next goes on without it
            return StepResult(f"every knob setting the hints allow ({request.describe()}) was "
                              "already evaluated")
        if not unasked.whole:
            return StepResult(f"no new setting of {head.id}'s knobs in {TRIES_PER_STEP} tries "
                              f"nor among the first {unasked.looked} settings: the tuner stops",
                              exhausted=True)
        return StepResult(f"every knob setting of {head.id} ({unasked.looked}) was already "
                          "evaluated or breaks its avo:require lines: the tuner has nothing new "
                          "to try", exhausted=True)

    def _child(
        self, current: dict[str, str], knobs: dict[str, Knob], request: KnobRequest
    ) -> dict[str, str]:
        parents = [i for i in self.population if i.gmean > 0] or [Individual(current, 0.0)]
        if self._restart_from is not None:
            parent = dict(self._restart_from.knobs)
            self._restart_from = None
        elif len(parents) > 1 and self.rng.random() < CROSSOVER_RATE:
            a, b = self._tournament(parents), self._tournament(parents)
            parent = {k: self.rng.choice([a.get(k, v), b.get(k, v)]) for k, v in current.items()}
        elif self.rng.random() < EXPLOIT_RATE:
            parent = dict(max(parents, key=lambda i: i.gmean).knobs)
        else:
            parent = dict(self._tournament(parents))
        fixed = request.fixed(current)  # pinned, and held as the head has them
        free = (request.focus or knobs.keys()) - fixed.keys()
        child = {name: parent.get(name, value) if name in free else value
                 for name, value in current.items()}
        child = {k: v if v in knobs[k].choices else current[k] for k, v in child.items()}
        if self._wide_steps:
            count = self.rng.randint(2, 4)
        else:
            count = 1 if self.rng.random() < SINGLE_KNOB_RATE else 2
        names = sorted(free)
        for name in self.rng.sample(names, min(len(names), count)):
            others = [c for c in _allowed(knobs[name], request) if c != child[name]]
            if others:
                child[name] = self.rng.choice(others)
        for name in sorted(request.avoid.keys() | request.allowed.keys()):  # a parent's or head's
            allowed = _allowed(knobs[name], request)  # value ruled out: an allowed one instead
            if child.get(name) not in allowed and name not in fixed and allowed:
                child[name] = self.rng.choice(allowed)
        return child | fixed

    def _tournament(self, individuals: list[Individual]) -> dict[str, str]:
        entrants = self.rng.sample(individuals, min(TOURNAMENT, len(individuals)))
        return max(entrants, key=lambda i: i.gmean).knobs


_declared_knobs = declared_knobs


def _allowed(knob: Knob, request: KnobRequest) -> list[str]:
    return request.permitted(knob.name, knob.choices)


def _feasible(files: dict[str, str], ctx: LineageContext) -> bool:
    """The kernel's own ``avo:require`` lines hold, so no evaluation is wasted on it."""
    try:
        for text in files.values():
            contract.parse(text).check_requirements(ctx.target.defines)
    except ContractError:
        return False
    return True


def _hash_key(hashes: dict[str, str]) -> str:
    return "|".join(f"{name}:{digest}" for name, digest in sorted(hashes.items()))


def _source_hash(files: dict[str, str]) -> str:
    return _hash_key({name: blob_hash(text.encode()) for name, text in files.items()})


def _describe_change(before: dict[str, str], after: dict[str, str]) -> str:
    changes = [f"{k} {before[k]}->{v}" for k, v in after.items() if before.get(k) != v]
    return ", ".join(changes) or "re-measure the head"


def _describe_knobs(knobs: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(knobs.items()))


def _note(request: KnobRequest, choices: dict[str, tuple[str, ...]], standing: bool) -> str:
    if not request.usable:
        return refusal(request, choices)
    if standing and request.once:
        return (f"{request.describe()} for the next candidate only: guidance that says first, "
                "next or once holds for one step, not every step")
    scope = "every step while it stands" if standing else "the next candidate"
    return f"{request.describe()} for {scope}"
