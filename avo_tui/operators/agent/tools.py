"""The agent's tools: what each call does (their schemas are in tool_schemas.py).

Every call returns text. A call that cannot be carried out (bad input, a path outside the
workspace, an unknown version) returns an ``is_error`` result the model can act on; nothing
here raises into the conversation loop except StepInterrupted, which ends the step. Each
input is checked against its tool's schema first (tool_inputs.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ...evaluation.declarations.candidate import apply_knobs
from ...evaluation.diagnostics.profile import ProfileRequestError, ProfileUnavailable, profile
from ...evaluation.diagnostics.sanitize import SanitizerUnavailable, sanitize, smallest_config
from ...knowledge import KnowledgeBase, KnowledgeError
from ...store import (
    NOT_FAILURES,
    Attempt,
    Outcome,
    StoreError,
    Version,
    diff_files,
)
from ...store.merge import merge_files
from ..protocol import GateAnswer, StepContext, StepInterrupted, Trial
from . import bar, carry, changes, disassembly, history, ledger, regions, report, vocabulary
from .audit import sync_audit
from .checklist import checklist
from .history import HistoryIndex
from .notes import MAX_NOTES_CHARS, kept_notes, stored_notes
from .research import StepLog
from .tool_inputs import knob_settings, nonempty, required, validated
from .tool_schemas import EDITOR, EDITOR_COMMANDS, SCHEMAS, TOOL_NAMES, editor_schema, schemas_for
from .workspace import ToolError, Workspace

MAX_REPEATS_SHOWN = 3  # failed directions an idea repeats, named in evaluate's answer
MAX_REPEAT_LESSONS_CHARS = 8_000  # of a repeated direction's lessons, in evaluate's answer
MAX_PROFILE_KEPT = 4_000  # of the latest profile, kept for the supervisor's review
UNEXPECTED_DETAIL_CHARS = 300  # of an unexpected exception's message, in its is_error result
# A kernel rejected for undecided gate decisions (engine/gate.py): what the agent must take
# from it. Nothing here may read as "try again": re-rolling is the lever the rule removes.
UNDECIDED_LESSON = (
    "This is a rejection, as final as a wrong answer: while the gate measures a kernel, a "
    "crash, a hang or a failure on the best's side counts against the kernel, and twice "
    "rejects it. The lesson is the code's, not its hash's: the same code reworded, retuned "
    "or recompiled to another hash meets the same rule and is rejected the same way. Find "
    "out from the failures above what in this kernel crashed, hung or disturbed the best "
    "version, and change that; do not submit this kernel again."
)


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool = False
    committed: Version | None = None


class Toolbox:
    def __init__(
        self,
        ctx: StepContext,
        workspace: Workspace,
        knowledge: KnowledgeBase,
        *,
        base: str | None,
        transcript: Callable[[], str],
        reviewer: Callable[[str], str] | None = None,
        review_every_commit: bool = True,
        meter: Callable[[], str] | None = None,
        history: HistoryIndex | None = None,
        on_rebase: Callable[[Version], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.workspace = workspace
        self.knowledge = knowledge
        self.base = base  # the version this step's edits start from; None: none (v0 is written)
        self.transcript = transcript
        # A second opinion on a kernel before its commit: on every commit, or (by default
        # off) only where the synchronisation audit finds a barrier, fence or wait changed.
        self.reviewer = reviewer
        self.review_every_commit = review_every_commit
        self.meter = meter  # the step's turn and spending against its bounds, in words
        self.history = history or HistoryIndex()  # the operator's: it outlives the step
        self.on_rebase = on_rebase  # told the version the step builds on after a rebase
        self.last_trial: Trial | None = None
        self.evaluations = 0
        self.log = StepLog(base)
        self.checked: set[str] = set()  # kernels whose checklist the agent has seen
        # Promising first readings the gate has not judged, by kernel: the step's end takes
        # the best of them to the gate (gate_left_over). An inconclusive one is left to the
        # agent: a close call takes the gate up to its cap, for a gain nothing showed yet.
        self.unjudged: dict[str, Trial] = {}
        self.carried_in: str | None = None  # the attempt the lane's last step left (carry.py)
        self.noted: list[str] = []  # this step's notes, whole, for its research record
        # Every tool's input, each in the target's words where it has them (on a CPU target,
        # evaluate's techniques are the CPU's); the GPU-only tools keep theirs, to refuse.
        self.schemas = {s["name"]: s["input_schema"]
                        for s in (*SCHEMAS, *schemas_for(ctx.target.device))
                        if "input_schema" in s}
        self.schemas[EDITOR] = editor_schema(workspace.max_write_bytes)

    def call(self, name: str, arguments: object) -> ToolResult:
        """Run one tool call. Nothing raises out of here but StepInterrupted (the engine ends
        the step): a refused input, a store or knowledge error, and, as the last line of
        defence, any other exception (a bug, a failure no check foresaw) is an is_error result
        the model can act on, so one bad call never ends a run."""
        result = self._run(name, arguments)
        return replace(result, text=_encodable(result.text))

    def _run(self, name: str, arguments: object) -> ToolResult:
        handler = getattr(self, f"_{name}", None) if name in TOOL_NAMES else None
        if handler is None:
            return ToolResult(f"unknown tool {name!r}; the tools are: {', '.join(TOOL_NAMES)}",
                              is_error=True)
        try:
            arguments = (vocabulary.mapped(arguments, self.ctx.target.device)
                         if name == "evaluate" else arguments)
            result = handler(**validated(name, arguments, self.schemas[name]))
        except StepInterrupted:
            raise
        except (ToolError, StoreError, KnowledgeError) as error:
            return ToolResult(str(error), is_error=True)
        except Exception as error:
            return ToolResult(_unexpected(name, error), is_error=True)
        return result if isinstance(result, ToolResult) else ToolResult(result)

    # -- the editor ---------------------------------------------------------------------------

    def _str_replace_based_edit_tool(self, command: str, path: str, **args: Any) -> str:
        ws = self.workspace
        match command:
            case "view":
                return ws.view(path, args.get("view_range"))
            case "create":
                return ws.create(path, required(args, "file_text", command))
            case "str_replace":
                return ws.str_replace(path, required(args, "old_str", command),
                                      args.get("new_str", ""))
            case "insert":
                text = args.get("insert_text", args.get("new_str"))
                if text is None:
                    raise ToolError("insert needs insert_text")
                return ws.insert(path, required(args, "insert_line", command), text)
        raise ToolError(f"unknown command {command!r} ({', '.join(EDITOR_COMMANDS)})")

    # -- the lineage --------------------------------------------------------------------------

    def _list_versions(self, limit: int = 30) -> str:
        return report.versions_table(self.ctx.session, self.ctx.target.unit, limit,
                                     self.ctx.baselines())

    def _show_version(self, version: str, file: str | None = None) -> str:
        session = self.ctx.session
        found = session.version(version)
        if file is None:
            return report.version_detail(session, found, self.ctx.baselines())
        files = session.read_files(found)
        if file not in files:
            raise ToolError(f"{found.id} has no file {file!r} (files: {', '.join(files)})")
        return files[file]

    def _diff_versions(self, old: str, new: str) -> str:
        diff = self.ctx.session.diff(old, new)
        return diff.text or f"{old} and {new} have the same files"

    def _list_attempts(self, limit: int = 15, failures_only: bool = False) -> str:
        attempts = self.ctx.session.recent_attempts(limit * (4 if failures_only else 1))
        if failures_only:
            attempts = [a for a in attempts if a.outcome not in NOT_FAILURES][:limit]
        return report.attempts_table(attempts, report.pending(self.ctx.session))

    def _show_attempt(self, attempt: str, file: str | None = None) -> str:
        found = self.ctx.session.attempt(attempt.strip())
        if file is None:
            return report.attempt_detail(self.ctx.session, found, self.ctx.baselines())
        files = self._attempt_files(found)
        if file not in files:
            raise ToolError(f"{found.id} has no file {file!r} (files: {', '.join(files)})")
        return files[file]

    def _diff_attempt(self, attempt: str, against: str | None = None) -> str:
        session = self.ctx.session
        found = session.attempt(attempt.strip())
        ref = (against or found.base or "").strip()
        if not ref:  # built on no version: the whole kernel is its change
            old, label = {}, "nothing"
        elif ref.startswith("a") and ref[1:].isdigit():
            other = session.attempt(ref)
            old, label = self._attempt_files(other), other.id
        else:
            version = session.version(ref)
            old, label = session.read_files(version), version.id
        diff = diff_files(old, self._attempt_files(found), label, found.id)
        return diff.text or f"{found.id} and {label} have the same files"

    def _attempt_files(self, attempt: Attempt) -> dict[str, str]:
        blobs = self.ctx.session.blobs
        return {name: blobs.get_text(digest) for name, digest in attempt.files.items()}

    # -- knowledge ----------------------------------------------------------------------------

    def _search_knowledge(self, query: str, limit: int = 5) -> str:
        hits = self.knowledge.search(query, limit)
        if not hits:
            files = ", ".join(self.knowledge.files()) or "none yet"
            return f"no section matches {query!r} (knowledge files: {files})"
        return "\n".join(f"{h.section.ref}  (score {h.score:.2f})"
                         + (f" [{h.label}]" if h.label else "") + f"\n    {h.snippet}"
                         for h in hits)

    def _read_knowledge(self, ref: str) -> str:
        return self.knowledge.read(ref).text

    # -- evaluation, plan, notes, commit ------------------------------------------------------

    def _evaluate(self, idea: str, quick: bool = False, variants: list[str] | None = None,
                  differs: str | None = None, technique: str | None = None,
                  place: str = "", direction: str = "set", value: str = "") -> str:
        idea = nonempty(idea, "idea")
        stated = [self._stated(technique, place, direction, value)] if technique else []
        # Before any compile: a repeat of a failed direction is answered, not evaluated,
        # until the agent says what differs. Each candidate's changes are the ones stated
        # and the knobs its diff sets (changes.py).
        if variants:
            asked = [changes.tagged(f"{idea} [{v.strip()}]",
                                    self._changes(stated, self._variant(v)))
                     for v in variants]
        else:
            idea = changes.tagged(idea, self._changes(stated, self._kernel_files()))
            asked = [idea]
        if differs is None or not differs.strip():
            found = [d for one in asked for d in ledger.repeated(self._directions(), one)]
            if found:
                return self._repeat_answer(list(dict.fromkeys(found))[:MAX_REPEATS_SHOWN])
        else:
            idea = f"{idea} (differs: {differs.strip()})"
        if variants:
            return self._evaluate_variants(idea, quick, variants, stated)
        files = self._kernel_files()
        trial = self.ctx.evaluate(files, base=self.base, quick=quick,
                                  idea=changes.untagged(idea))
        self.evaluations += 1
        self.last_trial = trial
        self._keep_for_the_gate(trial)
        close = self._closest(idea)
        self.log.add(idea, trial.attempt)
        lane = self.ctx.lane
        if lane is not None:  # the other lanes' briefs and idea checks see it
            said = f"{idea} ({trial.attempt.id} {trial.outcome})"
            self.ctx.update_memory(lambda memory: ledger.set_current(memory, lane, said))
        text = report.evaluation(trial.result, files, trial.attempt)
        if trial.for_the_gate() or trial.outcome in {Outcome.WITHIN_NOISE, Outcome.SLOWER}:
            text += f"\n{self.ctx.commit_bar()}"
        if close:
            text += ("\nThe closest past attempts at this idea (is this a repeat? say how it "
                     "differs, or change direction):\n" + "\n".join(close))
        if self.meter is not None:
            text += f"\nBudget: {self.meter()}"
        return text

    def _stated(self, technique: str, place: str, direction: str, value: str) -> changes.Change:
        """The change the agent states, in the shared vocabulary; its place matched to a
        region of the workspace kernel."""
        try:
            return changes.stated(technique, place, direction, value,
                                  regions.regions(self._kernel_files()), self.ctx.target.device)
        except vocabulary.VocabularyError as error:
            raise ToolError(str(error)) from None

    def _variant(self, setting: str) -> dict[str, str]:
        """The workspace kernel with one variant's knob settings."""
        try:
            return apply_knobs(self._kernel_files(), knob_settings(setting))
        except ValueError as error:  # an unknown knob, a value the knob refuses
            raise ToolError(f"variant {setting.strip()!r}: {error}") from None

    def _changes(self, stated: list[changes.Change],
                 files: dict[str, str]) -> list[changes.Change]:
        """What ``files`` change from the version the step builds on: the change the agent
        stated, the knobs they set and, beside knobs, the rest of their diff, so that knobs
        alone never make two candidates one (changes.rest_of_diff). The diff's part is read
        the same with fields or without, so the same knob change is a repeat either way."""
        base = self.ctx.session.read_files(self.ctx.session.version(self.base)) \
            if self.base else {}
        knobs = changes.from_diff(base, files)
        if not knobs:
            return stated
        return [*stated, *knobs, changes.rest_of_diff(base, files, knobs)]

    def _evaluate_variants(self, idea: str, quick: bool, variants: list[str],
                           stated: list[changes.Change]) -> str:
        """Score each knob setting of the workspace kernel; a line each, the best in full."""
        sources = [(v.strip(), self._variant(v)) for v in variants]
        close = self._closest(idea)
        scored: list[tuple[str, Trial]] = []
        for label, variant in sources:
            said = changes.tagged(f"{idea} [{label}]", self._changes(stated, variant))
            trial = self.ctx.evaluate(variant, base=self.base, quick=quick,
                                      idea=changes.untagged(said))
            self.evaluations += 1
            self.log.add(said, trial.attempt)
            self._keep_for_the_gate(trial)
            scored.append((label, trial))
        lines = [f"{len(scored)} variants of the workspace kernel (left as it is):"]
        lines += [f"- {label}: {t.attempt.id} {t.outcome} - {report.clip(t.attempt.detail, 160)}"
                  for label, t in scored]
        ranked = [(t.score.gmean, label, t) for label, t in scored if t.score is not None]
        if ranked:
            _, label, best = max(ranked, key=lambda r: r[0])
            self.last_trial = best
            lines += [f"\nThe best, {label}, in full (to keep it, set these knob values in the "
                      "file with str_replace, then evaluate and commit):",
                      report.evaluation(best.result, best.files, best.attempt)]
        if close:
            lines.append("The closest past attempts at this idea:\n" + "\n".join(close))
        if self.meter is not None:
            lines.append(f"Budget: {self.meter()}")
        return "\n".join(lines)

    def _directions(self) -> list[ledger.Direction]:
        return ledger.stored(self.ctx.memory())

    def _repeat_answer(self, found: list[ledger.Direction]) -> str:
        """What evaluate answers for an idea that repeats failed directions: each with every
        lesson learned under it (the journal's, newest first, as many as fit)."""
        self.history.refresh(self.ctx.session)
        lines = ["Not evaluated: nothing was compiled or timed. This idea repeats a direction "
                 "that failed:"]
        for direction in found:
            lines.append(f"- {direction.line()}")
            lessons = [lesson for step in reversed(direction.learned)
                       for lesson in self.history.lessons.get(step, ())]
            shown = report.fitting([(f"  lesson at {lesson}",) for lesson in lessons],
                                   MAX_REPEAT_LESSONS_CHARS // len(found),
                                   "  ({} older lessons left out for space; search_history "
                                   "finds them)")
            lines += shown
        lines.append("If this candidate differs, call evaluate again with the same idea and "
                     "`differs`: what differs from the direction above and why it may end "
                     "otherwise. Otherwise change direction.")
        return "\n".join(lines)

    def _closest(self, idea: str) -> list[str]:
        """The past directions (the ledger) and this step's earlier ideas most like ``idea``."""
        found = [f"- {d.line()}" for d in ledger.closest(ledger.stored(self.ctx.memory()), idea)]
        here = sorted(((ledger.near(i, idea), a) for i, a in self.log.tried),
                      key=lambda t: t[0], reverse=True)
        found += [f"- this step, {a.id} {a.outcome}: {report.clip(a.idea or '', 120)} "
                  f"({report.clip(a.detail, 120)})" for score, a in here[:2]
                  if score >= ledger.CLOSE]
        found += [f"- lane {lane} is trying it now: {what}"
                  for lane, what in ledger.current(self.ctx.memory()).items()
                  if lane != self.ctx.lane and ledger.near(what, idea) >= ledger.CLOSE]
        return found

    def _search_history(self, query: str, limit: int = 10) -> str:
        hits = self.history.search(self.ctx.session, self.ctx.memory(), query, limit)
        return history.answer(hits, query)

    def _profile(self, config: str | None = None, sections: list[str] | None = None,
                 metrics: list[str] | None = None) -> str:
        config = self._config(config, "profile") if config else self._worst_config()
        self.ctx.safe_point()
        options: dict[str, tuple[str, ...]] = {}
        if sections:
            options["sections"] = tuple(sections)
        if metrics:
            options["metrics"] = tuple(metrics)
        try:
            text = profile(self.ctx.target.ref, self.ctx.target.entry, self._kernel_files(),
                           config, **options)
        except ProfileRequestError as error:
            raise ToolError(str(error)) from None
        except ProfileUnavailable as error:
            raise ToolError(f"profile is unavailable: {error}. evaluate still reports "
                            "registers and spills.") from None
        # The supervisor's review reads the latest profile (it sees no conversation).
        self.ctx.remember(profile=report.clip(text, MAX_PROFILE_KEPT))
        return text

    def _sanitize(self, tools: list[str] | None = None, config: str | None = None) -> str:
        self._cuda_only("sanitize")
        config = (self._config(config, "sanitize") if config
                  else smallest_config(self.ctx.target))
        self.ctx.safe_point()
        try:
            return sanitize(self.ctx.target.ref, self.ctx.target.entry, self._kernel_files(),
                            config, **({"tools": tuple(tools)} if tools else {}))
        except SanitizerUnavailable as error:
            raise ToolError(f"sanitize is unavailable: {error}") from None

    def _disassemble(self, against: str | None = None) -> str:
        self._cuda_only("disassemble")
        trial = self.last_trial
        score = trial.score if trial and trial.score and trial.outcome != Outcome.CHECKED else None
        return disassembly.report(self.ctx, self._kernel_files(), against, score)

    def _cuda_only(self, tool: str) -> None:
        target = self.ctx.target
        if target.device != "cuda":
            raise ToolError(f"{tool} needs a CUDA target; {target.name} runs on the CPU. Use "
                            "evaluate's per-configuration throughput instead.")

    def _config(self, name: str, tool: str) -> str:
        """A configuration ``tool`` may run on: any the target checks or times."""
        self._cuda_only(tool)
        target = self.ctx.target
        names = [c.name for c in (*target.configs, *target.quick_configs, *target.edge_configs)]
        if name not in names:
            raise ToolError(f"no configuration {name!r}; the grid is: "
                            + ", ".join(c.name for c in target.configs))
        return name

    def _worst_config(self) -> str:
        """The timed configuration furthest behind its strongest baseline (bar.py), by the
        latest full score."""
        self._cuda_only("profile")
        target = self.ctx.target
        trial = self.last_trial
        score = trial.score if trial and trial.score and trial.outcome != Outcome.CHECKED else None
        head = self.ctx.head()
        score = score or (head.score if head else None)
        bars = bar.strongest(self.ctx.baselines())

        def ratio(name: str) -> float:
            strongest = bars.get(name)
            value = score.per_config.get(name) if score else None
            return value / strongest.value if value and strongest else float("inf")

        return min((c.name for c in target.configs), key=ratio)
    def _update_plan(self, plan: str) -> str:
        self.ctx.plan(nonempty(plan, "plan"))
        return "plan updated"

    def _note(self, text: str) -> str:
        text = nonempty(text, "text")
        self.noted.append(text)
        kept: list[str] = []

        def add(memory: dict[str, Any]) -> dict[str, Any]:
            kept[:] = kept_notes([*stored_notes(memory), text])
            return {"notes": kept}

        update = getattr(self.ctx, "update_memory", None)  # a bare stand-in has none
        if update is not None:
            update(add)  # in one go: another lane may note at the same moment
        else:
            self.ctx.remember(**add(self.ctx.memory()))
        size = sum(map(len, kept))
        return f"noted ({len(kept)} notes kept, {size:,} of {MAX_NOTES_CHARS:,} characters)"

    def _commit(self, message: str) -> ToolResult:
        files = self._kernel_files()
        trial = self.last_trial
        if trial is None or trial.files != files or trial.outcome == Outcome.CHECKED:
            trial = self.ctx.evaluate(files, base=self.base, note="before commit",
                                      idea="(evaluated by commit)")
            self.last_trial = trial
            self.log.add("(evaluated by commit)", trial.attempt)
            self._keep_for_the_gate(trial)
        gated = trial.for_the_gate()
        if gated is None:
            return ToolResult(f"not committed: {trial.outcome} - {trial.attempt.detail}. "
                              f"Only a promising or inconclusive first reading goes to the gate; "
                              f"{self.ctx.commit_bar()}.")
        trial = gated
        if trial.key not in self.checked:
            self.checked.add(trial.key)
            text = checklist(self.ctx, trial)
            head = self.ctx.head()
            touches_sync = bool(sync_audit(self.ctx.session.read_files(head) if head else {},
                                           trial.files))
            if self.reviewer and (self.review_every_commit or touches_sync):
                why = "" if self.review_every_commit else (
                    " (asked because the change touches synchronisation)")
                text += f"\n\nThe reviewer's verdict{why}:\n" + self.reviewer(text)
            return ToolResult(text)
        self.unjudged.pop(trial.key, None)
        version = self.ctx.commit(trial, message.strip() or "agent version", self.transcript())
        answer = self.ctx.gate_answer()
        moved = f"\n{answer.moved()}" if answer and answer.moved() else ""
        if version is None and answer and answer.rebased_onto:
            moved += f" {self._rebase(answer)}"
        if version is None:
            if answer and answer.attempt.outcome == Outcome.SUSPECT:
                return ToolResult(report.held_suspect(self.ctx.session, answer.attempt) + moved)
            if answer and answer.attempt.outcome == Outcome.REJECTED_UNDECIDED_TWICE:
                return ToolResult(f"the commit gate rejected this kernel: "
                                  f"{answer.attempt.detail}.\n{UNDECIDED_LESSON}{moved}")
            why = answer.attempt.detail if answer else "the re-evaluation did not confirm the gain"
            return ToolResult(f"the commit gate refused it: {why}{moved}")
        parent = f"parent {version.parent}" if version.parent else "the first version"
        return ToolResult(f"committed {version.id} ({parent}); the step ends here{moved}",
                          committed=version)

    def _rebase(self, answer: GateAnswer) -> str:
        """The engine rebased this step onto the best that overtook it: carry the workspace's
        change from the old base onto the new one (store/merge.py), and say what came of it."""
        assert answer.rebased_onto is not None
        session = self.ctx.session
        onto = session.version(answer.rebased_onto)
        old = session.read_files(self.base) if self.base else {}
        merged = merge_files(old, self.workspace.files(), session.read_files(onto))
        self.workspace.reset(merged.files)
        was, self.base = self.base or "no version", onto.id
        if self.on_rebase is not None:
            self.on_rebase(onto)
        if not merged.conflicts:
            return (f"Your workspace now holds {onto.id} with your change from {was} carried "
                    f"onto it (a three-way merge): evaluate it before you commit.")
        return (f"Your workspace now holds {onto.id}, with your change from {was} carried onto "
                f"it except in {', '.join(merged.conflicts)}, where {onto.id} changed the same "
                f"lines: those files are {onto.id}'s; make your change there again.")

    def _keep_for_the_gate(self, trial: Trial) -> None:
        gated = trial.for_the_gate()
        if gated is not None and gated.outcome == Outcome.PROMISING:
            self.unjudged.setdefault(gated.key, gated)

    def carry_in(self, trial: Trial) -> None:
        """The promising reading the lane's last step left ungated (carry.py): the gate has
        not judged it, and a bound that ends this step takes it there with the step's own."""
        if trial.outcome == Outcome.PROMISING:
            self.carried_in = trial.attempt.id
            self.unjudged.setdefault(trial.key, trial)

    def resume_unjudged(self) -> None:
        """After a crash: the promising readings of the step's log that the gate has not
        judged, read back from the store, wait for the gate again."""
        tried = [a for _, a in self.log.tried if a.outcome == Outcome.PROMISING]
        if not tried:
            return
        judged = carry.judged_since(self.ctx.session, min(a.number for a in tried))
        for attempt in tried:
            trial = None if attempt.id in judged else self.ctx.reading(attempt.id)
            if trial is not None:
                self._keep_for_the_gate(trial)

    def left_over(self, *, new_only: bool = False) -> Trial | None:
        """The best promising reading the gate was never asked about; ``new_only``: not the
        one carried in (a twin of it evaluated again included): it is carried once."""
        left = [t for t in self.unjudged.values() if t.score is not None
                and not (new_only and t.attempt.id == self.carried_in)]
        return max(left, key=lambda t: t.score.gmean if t.score else 0.0, default=None)

    def gate_left_over(self, ended: str) -> tuple[Version | None, str] | None:
        """At the step's end (``ended`` says how), the best reading the gate was never asked
        about, taken to it: nothing promising is dropped because a bound ended the step first.
        The version it made (None: refused) and what the gate said; None when there was none."""
        trial = self.left_over()
        if trial is None:
            return None
        self.unjudged.clear()
        idea = trial.attempt.idea or "the step's best candidate"
        version = self.ctx.commit(trial, f"{idea} (taken to the gate when the step ended: "
                                         f"{report.clip(ended, 120)})", self.transcript())
        answer = self.ctx.gate_answer()
        said = answer.attempt.detail if answer else ""
        return version, f"{trial.attempt.id} {trial.outcome}: {report.clip(said, 200)}"

    def _kernel_files(self) -> dict[str, str]:
        files = self.workspace.files()
        if not files:
            raise ToolError("the workspace is empty; create the kernel file first")
        return files


def _unexpected(name: str, error: Exception) -> str:
    """The is_error text for an exception no check foresaw: the tool and the error's type and
    message, never a traceback (it means nothing to the model and may run to pages)."""
    detail = report.clip(str(error), UNEXPECTED_DETAIL_CHARS)
    return (f"{name} failed unexpectedly ({type(error).__name__}: {detail}). The input may "
            "have reached a case the tool does not handle: check what it acts on (view the "
            "file, list the versions) and try another way.")


def _encodable(text: str) -> str:
    """``text`` with anything UTF-8 cannot encode escaped: a tool result goes into the next
    request, which must encode."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
