"""The agentic variation operator: one step is one Claude conversation with tools.

The step opens with a brief (target, best scores, lineage, attempts, notes, guidance, hints)
and runs turn after turn until the agent commits, stops, or a bound is reached (turns,
context). Between turns the operator's new hints join the conversation; before every tool
call the engine may pause or end the step. API outages are waited out (retry.py); a refused
key pauses the run. The whole conversation is kept as the step's transcript.

Faults are data. A failed tool call is an ``is_error`` result (tools.py); a failed turn is
asked for again (retry.py); a request the API refuses, or a bug in this code, ends the step
as ``failed`` with its transcript kept, and the run goes on. After every completed turn the
conversation and the workspace are saved through the engine (``save_conversation``), so a
run killed mid-step resumes the step at that turn: the turn in flight is the only loss.

A tool input the tool refused does not ride along in the conversation: its long strings are
replaced, in the history, by a short stand-in that says what was refused (the tool result says
why). One turn carrying a file write of megabytes would otherwise make every later request of the
step too long for the API, and fail the step, and the next ones.
"""

from __future__ import annotations

import json
import traceback
from collections import Counter
from contextlib import suppress
from dataclasses import replace
from typing import Any

from ...knowledge import KnowledgeBase, default_folders
from ...store import (
    ErrorPayload,
    ResearchPayload,
    StepResumedPayload,
    StoreError,
    SupervisorPayload,
    ToolCallPayload,
    Version,
)
from ...store.clip import clip
from ..protocol import StepContext, StepInterrupted, StepResult
from . import brief, carry, first_version, history, instructions, ledger, research, step_cap
from . import conversation_wire as wire
from .api import ApiRequestError, MessagesApi, Turn
from .retry import with_retries
from .settings import AgentSettings, TokenUsage
from .tool_schemas import TOOL_NAMES
from .tools import Toolbox
from .workspace import Workspace, workspace_folder

SUMMARY_CHARS = 300
CONVERSATION_FORMAT = 1  # of the saved conversation (save_conversation)
CONTEXT_FULL = "step ended: the context window is full"
REFUSED = "the model refused to continue this step"
UNANSWERABLE = frozenset({CONTEXT_FULL, REFUSED})  # no debrief can follow these ends
OVER_COST = "step ended: over its cost limit"  # --max-step-cost; no debrief spends past it
COST_WARNING_AT = 0.8  # of --max-step-cost: ask the agent to finish the step


class Agent:
    name = "agent"

    def __init__(
        self,
        settings: AgentSettings,
        *,
        knowledge: KnowledgeBase | None = None,
        api: MessagesApi | None = None,
    ) -> None:
        self.settings = settings
        self.api = api or MessagesApi(settings)
        self.knowledge = knowledge or KnowledgeBase(default_folders())
        self.history = history.HistoryIndex()  # search_history's, read on from step to step

    def step(self, ctx: StepContext) -> StepResult:
        # search_history's index reads what the journal added since the last step (the whole
        # journal once per process), here rather than in the middle of a turn.
        with suppress(StoreError):
            self.history.refresh(ctx.session)
        return _Step(self, ctx).run()

    def redirect(self, ctx: StepContext, reason: str) -> None:
        """The stall detector fired: a separate review proposes new directions, which the next
        step's brief carries (the operator's guidance still takes precedence)."""
        try:
            turn = with_retries(
                ctx, self.settings,
                lambda: self.api.ask(system=instructions.review_system(ctx.target),
                                     prompt=brief.review_prompt(
                                         ctx, reason,
                                         context_window=self.settings.context_window),
                                     max_tokens=self.settings.max_tokens, thinking=True),
            )
        except ApiRequestError as error:
            ctx.announce(ErrorPayload(f"the supervisor's review failed: {error}"))
            return
        ctx.charge(self.settings.cost(turn.usage), turn.usage.total)
        answer = research.parse_review(turn.text or "")
        proposals = answer.directions() or "(the review proposed nothing)"

        def keep(memory: dict[str, Any]) -> dict[str, Any]:
            # What it calls exhausted is failed in the ledger; what it proposes is pending.
            directions = ledger.supervised(ledger.stored(memory), answer.exhausted,
                                           answer.to_try, step=ctx.step_number)
            return {"directions": proposals, "ledger": [d.to_doc() for d in directions]}

        ctx.update_memory(keep)
        ctx.announce(SupervisorPayload(reason, "review", proposals=proposals))


class _Step:
    """The state of one conversation."""

    def __init__(self, agent: Agent, ctx: StepContext) -> None:
        self.agent = agent
        self.ctx = ctx
        self.settings = agent.settings
        self.messages: list[dict[str, Any]] = []
        self.turns: list[dict[str, Any]] = []
        self.usage = TokenUsage()  # the conversation's turns
        self.side_usage = TokenUsage()  # the step's other requests (reviews before a commit)
        self.pending: list[str] = []  # texts for the next user message
        self.warned = False
        self.cost_warned = False
        self.ended: str | None = None
        self.agent_ended = False  # the agent ended its turn: no bound or fault ended the step
        self.head = ctx.head()  # None: no version yet, this step writes v0 (first_version.py)
        self.base = self.head.id if self.head else None
        self.workspace = Workspace(
            ctx.session.directory / workspace_folder(ctx.lane), agent.knowledge,
            self.settings.max_write_bytes,
        )
        self.tools = Toolbox(ctx, self.workspace, agent.knowledge, base=self.base,
                             transcript=self.transcript,
                             reviewer=self._review,
                             review_every_commit=self.settings.review_commits,
                             meter=self._meter, history=agent.history,
                             on_rebase=self._rebased)
        self.system = instructions.system_prompt(ctx, agent.knowledge)
        self.guidance = ctx.guidance

    def run(self) -> StepResult:
        committed: Version | None = None
        failed = finished = interrupted = False
        try:
            if not self._resume():
                carried = carry.carried_start(self.ctx, self.head) if self.head else None
                self.workspace.reset(carried.files if carried else self._base_files()
                                     if self.head else first_version.skeleton(self.ctx.target))
                self._open(carried)
            self._take_carried()
            summary, committed = self._converse()
            finished = summary not in UNANSWERABLE and not summary.startswith(OVER_COST)
        except StepInterrupted as stopped:
            summary, interrupted = f"step ended early: {stopped}", True
        except ApiRequestError as error:
            summary, failed = f"step failed: {error}", True
            self.ctx.announce(ErrorPayload(summary))
        except Exception as error:  # a bug here must not end the run, nor lose the record
            summary, failed = f"step failed on an internal error: {error!r}", True
            self.ctx.announce(ErrorPayload(summary, _clip(traceback.format_exc(), 4000)))
        gated, left = "", None
        # A bound or a fault ended the step: its promising reading goes to the gate. A stop is
        # the operator's decision and an end of turn the agent's, who saw the reading: it is
        # carried to the next step instead (carry.py); the engine drops it after a rollback.
        if committed is None and not interrupted and not self.agent_ended:
            gated, committed = self._gate_left_over(summary)
        elif committed is None and self.head is not None:
            left = self.tools.left_over(new_only=not interrupted)
        if left is not None:
            gated = (f"{left.attempt.id} {left.outcome}, never gated, is left to the next step "
                     "as its starting point")
        self.ended = f"{summary}; {gated}" if gated else summary
        self._keep_research(summary, committed, ask=finished, gated=gated)
        return StepResult(self.ended, committed, transcript=self.transcript(), failed=failed,
                          carry=left.attempt.id if left else None)

    def _take_carried(self) -> None:
        """The promising reading the lane's last step left waits for the gate in this one."""
        attempt = self.ctx.carried() if self.head else None
        trial = self.ctx.reading(attempt.id) if attempt else None
        if trial is not None:
            self.tools.carry_in(trial)

    def _gate_left_over(self, summary: str) -> tuple[str, Version | None]:
        """A promising reading the agent never committed goes to the gate before a step that
        a bound or a fault ended (the cost limit, the turns, the context, a failed request)
        ends; the gate judges it as it would a commit. What the gate did, in words ('' when
        there was none), and the version it made. Nothing here may fail the step."""
        try:
            gated = self.tools.gate_left_over(summary)
        except StepInterrupted:
            return "", None
        except Exception as error:
            self.ctx.announce(ErrorPayload(f"the step's promising candidate did not reach the "
                                           f"gate: {error!r}", _clip(traceback.format_exc(),
                                                                     4000)))
            return "", None
        if gated is None:
            return "", None
        version, said = gated
        if version is None:
            return f"at the step's end the gate refused {said}", None
        return f"at the step's end the gate committed {version.id} from {said}", version

    # -- the research log (research.py) --------------------------------------------------------

    def _keep_research(self, summary: str, committed: Version | None, *, ask: bool,
                       gated: str = "") -> None:
        """Record what the step tried and learned; a step that ended normally is first asked
        for its lesson and the running summary (the debrief). ``gated``: what the gate did
        with a promising candidate left at the step's end. Nothing here may fail the step."""
        outcome = self._outcome(summary, committed)
        if gated:
            outcome = f"{outcome}; {_clip(gated, 200)}"
        debrief = research.Debrief("", None, False)
        unasked = OVER_COST if summary.startswith(OVER_COST) else None
        if ask and self.settings.debrief:
            directions = self.ctx.memory().get("directions")
            question = research.debrief_prompt(outcome, directions=bool(directions))
            if self._fits(question):
                debrief, unasked = self._debrief(question)
            else:
                unasked = "no debrief: it would not fit under the step's cost limit"
        if not debrief.lesson:
            # A lesson for every step, whatever ended it: where none was asked for or none
            # came back (a fault, a stop, a cap, a debrief refused), the record gives one.
            why = unasked or (f"no debrief: {_clip(summary, 120)}" if not ask
                              else "no debrief: debrief = false" if not self.settings.debrief
                              else "the debrief gave no lesson")
            debrief = replace(debrief, lesson=research.harness_lesson(self.tools.log, outcome,
                                                                      why))
        try:
            record = research.record(
                self.tools.log, step=self.ctx.step_number, outcome=outcome,
                files=self.workspace.files(), base_files=self._base_files(),
                base_score=self.head.score if self.head else None, final=summary,
                lesson=debrief.lesson,
                summary=debrief.summary or "", notes=tuple(self.tools.noted))
            self.ctx.announce(record)

            tried = list(self.tools.log.tried)
            # The commit tool commits the last trial: its idea is the one that worked.
            last = self.tools.last_trial
            won = last.attempt.id if committed is not None and last is not None else None

            def keep(memory: dict[str, Any]) -> dict[str, Any]:
                # Read now, not before the debrief: another lane may have kept its record
                # meanwhile, and the log and the ledger keep every lane's.
                directions = ledger.record_step(
                    ledger.stored(memory), tried, step=self.ctx.step_number,
                    lesson=debrief.lesson, committed=won, pending=debrief.pending,
                    lane=self.ctx.lane)
                kept: dict[str, Any] = {"research": research.kept_records(memory, record),
                                        "ledger": [d.to_doc() for d in directions]}
                if debrief.summary:
                    kept["summary"] = debrief.summary
                if debrief.directions_done:
                    kept["directions"] = None
                return kept

            self.ctx.update_memory(keep)
        except StepInterrupted:
            raise
        except Exception as error:  # the record is worth less than the step it describes
            self.ctx.announce(ErrorPayload(f"the step's research record was not kept: {error!r}",
                                           _clip(traceback.format_exc(), 4000)))

    def _rebased(self, onto: Version) -> None:
        """Another lane's commit overtook this step's base, and the engine moved the step onto
        ``onto`` (the best): its draft and research record name that base from now on."""
        self.head, self.base = onto, onto.id

    def _base_files(self) -> dict[str, str]:
        """The files of the version the step built on; none before v0."""
        return self.ctx.session.read_files(self.head) if self.head else {}

    def _outcome(self, summary: str, committed: Version | None) -> str:
        if committed is not None:
            return f"committed {committed.id}"
        best = self.tools.log.best()
        if best is not None:
            return f"no commit; best candidate {best.id} {best.outcome}"
        twins = self.tools.log.twins_of()
        if twins:
            return f"no commit; every candidate was a twin of {' or '.join(twins)}"
        tried = [a.outcome for _, a in self.tools.log.tried]
        if tried:
            kinds = ", ".join(f"{n} {kind}" for kind, n in Counter(tried).most_common())
            return f"no commit; {len(tried)} candidate(s), none timed on the full grid: {kinds}"
        return _clip(summary, 120) if summary.startswith("step ") else "no candidate evaluated"

    def _debrief(self, prompt: str) -> tuple[research.Debrief, str | None]:
        """One more turn in the same conversation (its prefix is cached): the lesson and the
        rewritten running summary, and why there is none where the turn failed. A failure
        here costs the model's lesson (the record then gives one), never the step."""
        question = {"type": "text", "text": prompt}
        if self.messages[-1]["role"] == "user":
            self.messages[-1]["content"].append(question)
        else:
            self.messages.append({"role": "user", "content": [question]})
        try:
            turn = with_retries(self.ctx, self.settings, self._stream)
        except StepInterrupted:
            return research.Debrief("", None, False), "the step was stopped during its debrief"
        except Exception as error:
            self.ctx.announce(ErrorPayload(f"the step's debrief failed: {error}"))
            return research.Debrief("", None, False), f"the debrief failed: {_clip(str(error), 99)}"
        self._record(turn)
        return research.parse_debrief(turn.text), None

    def _review(self, checklist: str) -> str:
        """A second opinion on a kernel before its commit, from a separate call with thinking
        (KernelAgent's adversarial review); its verdict is recorded and shown to the agent."""
        ctx = self.ctx
        system = instructions.commit_review_system(ctx.target)
        bound = step_cap.request_bound(self.settings, step_cap.request_chars(system, checklist))
        if not step_cap.fits(self.settings, self._spent(), bound):
            return (f"(no review: at up to ${bound:.2f} it would take the step past its "
                    f"${self.settings.max_step_cost_usd:.2f} limit; verify the checklist "
                    "yourself)")
        try:
            turn = with_retries(ctx, self.settings, lambda: self.agent.api.ask(
                system=system, prompt=checklist, max_tokens=self.settings.max_tokens,
                thinking=True))
        except ApiRequestError as error:
            return f"(the review failed: {error}; verify the checklist yourself)"
        self.side_usage = self.side_usage + turn.usage
        ctx.charge(self.settings.cost(turn.usage), turn.usage.total)
        verdict = turn.text or "(the reviewer said nothing)"
        ctx.announce(ResearchPayload("review", ctx.step_number, self.base,
                                     research.verdict_of(verdict),
                                     final=_clip(verdict, research.MAX_FINAL_CHARS)))
        return verdict

    def _meter(self) -> str:
        """Where the step stands against its bounds, for each evaluate result."""
        return brief.budget_line(self.ctx.spending(), turn=len(self.turns),
                                 max_turns=self.settings.max_turns,
                                 step_cost=self._spent(),
                                 max_step_cost=self.settings.max_step_cost_usd)

    def _open(self, carried: carry.Carried | None = None) -> None:
        ctx = self.ctx
        hints = ctx.take_hints()
        for hint in hints:
            ctx.acknowledge_hint(hint, True, "in the agent's step brief")
        directions = ctx.memory().get("directions")  # they stand until done or replaced
        text = brief.step_brief(ctx, hints=hints, directions=directions,
                                context_window=self.settings.context_window,
                                lane=(ctx.lane, ctx.lanes) if ctx.lane else None,
                                max_turns=self.settings.max_turns,
                                max_step_cost=self.settings.max_step_cost_usd,
                                carried=carried)
        self.messages.append({"role": "user", "content": [{"type": "text", "text": text}]})
        self._save()

    # -- resuming -----------------------------------------------------------------------------

    def _save(self) -> None:
        """Keep the conversation as it stands after a completed turn (see the module doc)."""
        self.ctx.save_conversation({
            "format": CONVERSATION_FORMAT,
            "head": self.base,
            "messages": self.messages,
            "turns": self.turns,
            "usage": self.usage.to_doc(),
            "side_usage": self.side_usage.to_doc(),
            "pending": self.pending,
            "warned": self.warned,
            "guidance": self.guidance,
            "files": self.workspace.files(),
            "tried": self.tools.log.to_doc(),
            "noted": self.tools.noted,
        })

    def _resume(self) -> bool:
        """Continue the step a dead run left, from its last completed turn, if it was built
        on the head that is still the head; the turn that was in flight is announced."""
        saved = self.ctx.saved_conversation()
        if not saved:
            return False
        usable = (saved.get("format") == CONVERSATION_FORMAT and saved.get("head") == self.base
                  and wire.is_conversation(saved.get("messages")))
        if not usable:
            self.ctx.announce(ErrorPayload("the saved conversation of an interrupted step "
                                           "could not be used; the step starts afresh"))
            return False
        self.messages = saved["messages"]
        self.turns = list(saved.get("turns") or [])
        self.usage = wire.usage(saved.get("usage"))
        self.side_usage = wire.usage(saved.get("side_usage"))
        self.pending = [str(t) for t in saved.get("pending") or []]
        self.warned = bool(saved.get("warned"))
        self.guidance = saved.get("guidance")
        self.workspace.reset({str(k): str(v) for k, v in (saved.get("files") or {}).items()})
        self.tools.log = research.StepLog.from_doc(self.base, saved.get("tried"),
                                                   self.ctx.session)
        self.tools.noted = [n for n in saved.get("noted") or [] if isinstance(n, str)]
        self.tools.resume_unjudged()
        done = len(self.turns)
        self.ctx.announce(StepResumedPayload(done, (
            f"resumed the interrupted step at turn {done + 1} (its {done} completed turns "
            "kept; the turn in flight when the run died is asked for again)")))
        return True

    def _converse(self) -> tuple[str, Version | None]:
        settings = self.settings
        for number in range(len(self.turns) + 1, settings.max_turns + 1):
            over = self._bound_cost()  # before each request: the cap is a cap (step_cap.py)
            if over:
                return over, None
            if number == settings.max_turns - 2:
                self.pending.append("Three turns are left in this step: evaluate and commit your "
                                    "best candidate if it is promising, note what you learned, "
                                    "and stop.")
            turn = self._call_model()
            self._record(turn)
            reason = turn.stop_reason
            if reason == "tool_use":
                committed = self._run_tools(turn)
                if committed:
                    return f"committed {committed.id}: {_clip(committed.message, 200)}", committed
                self._save()
            elif reason == "pause_turn":
                self._save()
                continue  # the API paused a long turn: send it back as it is to continue
            elif reason == "max_tokens":
                self.pending.append("Your reply was cut off at the output limit. Continue in "
                                    "smaller pieces (str_replace rather than rewriting a file).")
            elif reason == "refusal":
                self.ctx.announce(ErrorPayload("the model refused to continue"))
                return REFUSED, None
            elif reason == "model_context_window_exceeded":
                return CONTEXT_FULL, None
            else:  # end_turn, stop_sequence
                self.agent_ended = True
                return _clip(turn.text) or "the agent ended the step without a commit", None
            ended = self._bound_context(turn.usage)
            if ended:
                return ended, None
            if reason != "tool_use":
                self._save()
        return f"step ended: {settings.max_turns} turns without a commit", None

    # -- the model ----------------------------------------------------------------------------

    def _call_model(self) -> Turn:
        def call() -> Turn:
            self._turn_boundary()
            return self._stream()

        return with_retries(self.ctx, self.settings, call)

    def _stream(self) -> Turn:
        """The next turn of the conversation as it stands, with its cache breakpoints."""
        return self.agent.api.stream(
            system=[{"type": "text", "text": self.system, "cache_control": wire.CACHE}],
            tools=wire.cached_tools(self.ctx.target.device),
            messages=wire.cached_messages(self.messages),
        )

    def _turn_boundary(self) -> None:
        """Hints and guidance that arrived during the last turn join the next user message."""
        ctx = self.ctx
        hints = ctx.take_hints()  # also a safe point: a pause waits here
        for hint in hints:
            ctx.acknowledge_hint(hint, True, "passed to the agent mid-step")
        if hints:
            self.pending.append(brief.hint_message(
                hints, context_window=self.settings.context_window))
        if ctx.guidance != self.guidance:
            self.guidance = ctx.guidance
            self.pending.append(f"The operator's standing guidance is now: {self.guidance}"
                                if self.guidance else "The operator cleared the guidance.")
        if not self.pending:
            return
        blocks = [{"type": "text", "text": text} for text in self.pending]
        self.pending = []
        if self.messages[-1]["role"] == "user":
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": "user", "content": blocks})

    def _record(self, turn: Turn) -> None:
        content = turn.content
        if turn.stop_reason == "max_tokens":  # a cut-off tool call cannot be answered
            content = [b for b in content if b["type"] == "text"] or [
                {"type": "text", "text": "(cut off)"}
            ]
        self.messages.append({"role": "assistant", "content": content})
        self.usage = self.usage + turn.usage
        self.turns.append({"stop_reason": turn.stop_reason, "usage": turn.usage.to_doc(),
                           "request_id": turn.request_id})
        self.ctx.charge(self.settings.cost(turn.usage), turn.usage.total)

    def _bound_context(self, usage: TokenUsage) -> str | None:
        window = self.settings.context_window
        if usage.total >= self.settings.end_at * window:
            return f"step ended: the conversation reached {usage.total:,} tokens of {window:,}"
        if usage.total >= self.settings.wrap_up_at * window and not self.warned:
            self.warned = True
            self.pending.append(f"The conversation fills {100 * usage.total / window:.0f}% of "
                                "the context window: wrap up now. Commit your best candidate if "
                                "it is promising, note what you learned, and stop.")
        return None

    def _spent(self) -> float:
        """What the step has spent, in US$: its turns and its other requests."""
        return self.settings.cost(self.usage + self.side_usage)

    def _fits(self, question: str) -> bool:
        """Whether one more turn asking ``question``, a request the step can do without,
        fits whole under --max-step-cost."""
        chars = step_cap.request_chars(self.system, wire.cached_tools(self.ctx.target.device),
                                       self.messages, question)
        return step_cap.fits(self.settings, self._spent(),
                             step_cap.request_bound(self.settings, chars))

    def _bound_cost(self) -> str | None:
        """The step's end once its dollars reach --max-step-cost, and a warning before; asked
        before each turn, so no turn is sent past the limit (step_cap.py)."""
        limit = self.settings.max_step_cost_usd
        if not limit:
            return None
        spent = self._spent()
        if not step_cap.may_send_turn(self.settings, spent):
            return (f"{OVER_COST} (${spent:.2f} of ${limit:.2f}, --max-step-cost); its attempts "
                    "and record are kept")
        if spent >= COST_WARNING_AT * limit and not self.cost_warned:
            self.cost_warned = True
            self.pending.append(f"This step has spent ${spent:.2f} of its ${limit:.2f} limit "
                                "(--max-step-cost): wrap up now. Commit your best candidate if "
                                "it is promising, note what you learned, and stop.")
        return None

    # -- tools --------------------------------------------------------------------------------

    def _run_tools(self, turn: Turn) -> Version | None:
        results: list[dict[str, Any]] = []
        self.messages.append({"role": "user", "content": results})
        committed = None
        for call in turn.tool_uses:
            if committed is None:
                self.ctx.safe_point()  # a pause takes effect between tool calls
                outcome = self.tools.call(call["name"], call.get("input"))
                committed = outcome.committed
                if outcome.is_error:
                    self._leave_out_refused(call)
                text, is_error = wire.clip_output(outcome.text, self.settings.max_tool_output), \
                    outcome.is_error
            else:
                text, is_error = "not run: the step ended with the commit", True
            self.ctx.announce(ToolCallPayload(
                call["name"], _clip(json.dumps(call.get("input"), default=str), 200),
                is_error, _clip(text, 200)))
            results.append({"type": "tool_result", "tool_use_id": call["id"], "content": text,
                            "is_error": is_error})
        return committed

    def _leave_out_refused(self, call: dict[str, Any]) -> None:
        """Replace the long strings of a refused input, in the turn kept in the conversation
        (the one before the tool results), by a stand-in."""
        given = call.get("input")
        trimmed = wire.stand_in(given, call["name"])
        if trimmed is given:
            return
        call = {**call, "input": trimmed}
        assistant = self.messages[-2]["content"]
        self.messages[-2] = {**self.messages[-2], "content": [
            call if b.get("type") == "tool_use" and b.get("id") == call["id"] else b
            for b in assistant]}

    # -- the record ---------------------------------------------------------------------------

    def transcript(self) -> str:
        return json.dumps({
            "model": self.settings.model,
            "system": self.system,
            "tools": TOOL_NAMES,
            "messages": self.messages,
            "turns": self.turns,
            "usage": self.usage.to_doc(),
            "cost_usd": round(self._spent(), 6),
            "ended": self.ended,
        }, indent=1)


def _clip(text: str, limit: int = SUMMARY_CHARS) -> str:
    return clip(text.strip(), limit)
