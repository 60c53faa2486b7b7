"""The fake model, run in the fake server's process: the kernel's marker line it edits, and
its replies, faults included, drawn from the request alone."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import sys
import threading
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from common import ROOT

from soak_parts.settings import (
    API_KEY,
    BAD_INPUT_RATE,
    CYCLES,
    EDIT_MIX,
    EXTRA_TOOL,
    FAULT_RATES,
    HEAD,
    KERNEL,
    MARK,
    QUICK_EVALUATE,
)

import fake_anthropic as fa  # standard library only
from fake_anthropic import FakeAnthropic, Recorded, Reply, Step

# -- the kernel's marker line, read by the fake agent and by the instant evaluator ----------


@dataclass(frozen=True)
class Marker:
    """What the instant evaluator scores: the gain level, a small slow-down, a planted fault
    (1: compile error, 2: incorrect output)."""

    level: int = 0
    tweak: int = 0
    fault: int = 0

    @property
    def line(self) -> str:
        return f"// avo:soak level={self.level} tweak={self.tweak} fault={self.fault}"

    @classmethod
    def find(cls, text: str) -> Marker | None:
        found = MARK.findall(text)
        return cls(*map(int, found[-1])) if found else None


def seed_source() -> str:
    return Marker().line + "\n" + (ROOT / "kernels" / "cpu" / "attention.c").read_text()


# -- the fake model (runs in the fake server's process) --------------------------------------


@dataclass
class Conversation:
    """One step's conversation as the fake model plays it. Replies are kept by the request's
    message count, so a request retried after a fault gets the same answer."""

    key: str
    cycles: int
    replies: dict[int, Reply] = field(default_factory=dict)
    done_cycles: int = 0
    commit_asked: set[Marker] = field(default_factory=set)
    ending: bool = False


class FakeModel:
    """A callable step of tests/fake_anthropic: answers every request, re-queues itself, and
    injects faults. Everything it decides comes from one seeded generator."""

    def __init__(self, server: FakeAnthropic, seed: int) -> None:
        self.server = server
        self.rng = random.Random(seed)
        self.conversation: Conversation | None = None
        self.faulted: tuple[str, int] | None = None  # (conversation key, messages) last faulted
        self.stats: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, record: Recorded) -> Step:
        self.server.script(self)  # the next request finds this step again
        self.server.requests.clear()  # the fake records every body; a week of them is GBs
        with self.lock:
            try:
                return self._answer(record)
            except Exception:
                self.stats["model_errors"] += 1
                traceback.print_exc(file=sys.stderr)
                raise

    def _answer(self, record: Recorded) -> Step:
        self.stats["requests"] += 1
        if not record.stream:  # the supervisor's review (MessagesApi.ask)
            fault = self._fault(stream=False)
            return fault or fa.reply(fa.text(
                "Exhausted: tile sizes. New directions: 1. keep K in registers; 2. split the "
                "softmax rescale; 3. unroll the inner dot product by 8."))
        messages = record.body.get("messages", [])
        conversation = self._conversation(record, len(messages))
        reply = conversation.replies.get(len(messages))
        if reply is None:
            reply = conversation.replies[len(messages)] = self._turn(conversation, record)
        fault = self._fault(stream=True, reply=reply)
        if fault is not None:
            self.faulted = (conversation.key, len(messages))
        return fault or reply

    def _conversation(self, record: Recorded, count: int) -> Conversation:
        brief = record.texts()[0] if record.texts() else ""
        key = hashlib.sha256(brief.encode()).hexdigest()[:16]
        current = self.conversation
        retried = self.faulted == (key, count)
        if current is None or (count == 1 and not retried) or current.key != key:
            current = self.conversation = Conversation(key, self.rng.randint(*CYCLES))
            self.stats["conversations"] += 1
        return current

    # -- faults ---------------------------------------------------------------------------

    def _fault(self, *, stream: bool, reply: Reply | None = None) -> Step | None:
        draw = self.rng.random()
        for kind, rate in FAULT_RATES.items():
            if draw < rate:
                step = self._fault_step(kind, stream, reply)
                if step is not None:
                    self.stats[f"fault_{kind}"] += 1
                    return step
                return None
            draw -= rate
        return None

    def _fault_step(self, kind: str, stream: bool, reply: Reply | None) -> Step | None:
        if kind == "overloaded_529":
            return fa.ApiError(529, message="Overloaded")
        if kind == "rate_limited_429":
            return fa.ApiError(429, message="rate limited")
        if kind == "dropped":
            return fa.Drop()
        if kind == "stalled":
            return fa.Stall(30.0)
        if not stream:
            return None
        if kind.startswith("cut_") and reply is not None:
            return fa.Cut(reply, after_events=self.rng.randint(1, 5), how=kind[4:])
        if kind == "malformed_sse":
            return fa.RawSSE(malformed_events())
        return None

    # -- the conversation -------------------------------------------------------------------

    def _turn(self, conversation: Conversation, record: Recorded) -> Reply:
        rng = self.rng
        messages = record.body["messages"]
        texts = record.texts()
        brief = texts[0] if texts else ""
        head = HEAD.search(brief)
        head_id = head.group(1) if head else "v0"
        if len(messages) == 1:
            return self._opening(head_id)
        if texts and texts[-1].startswith("The step has ended"):  # the debrief
            return fa.reply(fa.text(f"<lesson>{conversation.done_cycles} edits from {head_id}"
                                    "</lesson><summary>fewer rescales pay; tweaks do not"
                                    "</summary>"))
        if conversation.ending:
            return fa.reply(fa.text(f"Summary: {conversation.done_cycles} edits tried from "
                                    f"{head_id}; nothing better than the best this step."))
        marker = last_marker(texts)
        outcome = last_outcome(texts)
        blocks: list[dict[str, Any]] = [fa.thinking(f"Cycle {conversation.done_cycles}.")]
        if rng.random() < BAD_INPUT_RATE:
            blocks.append(self._bad_input())
            self.stats["bad_tool_input"] += 1
        if marker is None:  # lost track of the file (a garbled view): look again
            blocks += [fa.text("Let me look at the kernel again."), view_markers()]
        elif outcome == "promising" and marker.fault == 0 and marker not in \
                conversation.commit_asked:
            conversation.commit_asked.add(marker)
            message = {"message": f"level {marker.level}: fewer rescales of the running sum"}
            blocks += [fa.text("The full evaluation is promising: the checklist, then commit."),
                       fa.tool_use("commit", message), fa.tool_use("commit", message)]
        elif conversation.done_cycles >= conversation.cycles:
            conversation.ending = True
            blocks += [fa.tool_use("note", {"text": f"from {head_id}: {conversation.cycles} "
                                            f"edits, best level {marker.level} holds"})]
        else:
            blocks += self._cycle(conversation, marker, head_id)
        return fa.reply(*blocks, usage=usage_of(record, len(blocks)))

    def _opening(self, head_id: str) -> Reply:
        blocks = [
            fa.thinking("Read the lineage and the attempts first."),
            fa.text("Looking at the lineage and recent attempts."),
            fa.tool_use("update_plan", {"plan": f"From {head_id}: tighten the KV loop, then "
                                        "retile; evaluate each change fully before a commit."}),
            fa.tool_use("list_versions", {"limit": 12}),
            fa.tool_use("list_attempts", {"limit": 10}),
            view_markers(),
        ]
        if self.rng.random() < 0.3:
            blocks.append(fa.tool_use(EDITOR, {"command": "view", "path": KERNEL}))
        if self.rng.random() < 0.3:
            blocks.append(fa.tool_use("search_knowledge", {"query": "online softmax tiling"}))
        return fa.reply(*blocks)

    def _cycle(self, conversation: Conversation, marker: Marker, head_id: str
               ) -> list[dict[str, Any]]:
        """Sometimes one call more (note, plan, lineage), then one edit, evaluated, and the
        marker viewed again."""
        rng = self.rng
        conversation.done_cycles += 1
        kind, edited = self._edit(marker)
        self.stats[f"edit_{kind}"] += 1
        quick = rng.random() < QUICK_EVALUATE
        blocks = [self._extra(head_id)] if rng.random() < EXTRA_TOOL else []
        blocks += [
            fa.text(f"Trying a {kind.replace('_', ' ')} edit."),
            fa.tool_use(EDITOR, {"command": "str_replace", "path": KERNEL,
                                 "old_str": marker.line, "new_str": edited.line}),
            fa.tool_use("evaluate", {"idea": f"a {kind} edit", "quick": quick}),
            view_markers(),  # last: the next turn reads the marker from it
        ]
        return blocks

    def _edit(self, marker: Marker) -> tuple[str, Marker]:
        rng = self.rng
        kind = drawn(EDIT_MIX, rng.random())
        if kind == "gain":
            return kind, Marker(marker.level + rng.choice((1, 1, 1, 2)), 0, 0)
        if kind == "compile_error":
            return kind, Marker(marker.level, marker.tweak, 1)
        if kind == "incorrect":
            return kind, Marker(marker.level, marker.tweak, 2)
        return kind, Marker(marker.level, rng.randrange(1, 10**6), 0)  # a new change each time

    def _extra(self, head_id: str) -> dict[str, Any]:
        rng = self.rng
        choices: list[tuple[str, dict[str, Any]]] = [
            ("note", {"text": "tweaks of the rescale cost 0.3-1.5%; do not retry them"}),
            ("update_plan", {"plan": "the rescale is exhausted; try the KV tile next"}),
            ("list_attempts", {"limit": 10, "failures_only": True}),
            ("show_version", {"version": head_id}),
            ("diff_versions", {"old": "v0", "new": head_id}),
            ("search_knowledge", {"query": "register blocking head dim 64"}),
        ]
        return fa.tool_use(*rng.choice(choices))

    def _bad_input(self) -> dict[str, Any]:
        return self.rng.choice([
            fa.tool_use(EDITOR, input_json='{"command": "view", "path": }'),
            fa.tool_use("evaluate", {"quick": "yes"}),
            fa.tool_use("list_versions", {"limit": "all"}),
            fa.tool_use("note", {}),
            fa.tool_use("run_shell", {"cmd": "make"}),
        ])


EDITOR = "str_replace_based_edit_tool"


def drawn(mix: tuple[tuple[str, float], ...], draw: float) -> str:
    """The entry of ``mix`` (name, probability) that a uniform ``draw`` falls in."""
    for kind, rate in mix:
        if draw < rate:
            return kind
        draw -= rate
    return mix[-1][0]


def view_markers() -> dict[str, Any]:
    return fa.tool_use(EDITOR, {"command": "view", "path": KERNEL, "view_range": [1, 2]})


def last_marker(texts: list[str]) -> Marker | None:
    """The marker line as the latest view (or evaluate listing) shows it."""
    for text in reversed(texts[1:]):
        marker = Marker.find(text)
        if marker is not None:
            return marker
    return None


def last_outcome(texts: list[str]) -> str | None:
    """The outcome of the latest evaluation or commit, from its tool result."""
    for text in reversed(texts):
        if text.startswith("attempt a"):
            return text.split(":", 1)[1].split(" - ", 1)[0].strip()
        if text.startswith(("not committed", "the commit gate refused")):
            return "refused"
    return None


def usage_of(record: Recorded, blocks: int) -> dict[str, int]:
    """Token counts of a plausible size: the request's own (4 characters a token), most of
    it read from the prompt cache."""
    size = len(json.dumps(record.body.get("messages", []))) // 4 + 6000
    cached = int(size * 0.9)
    return {"input_tokens": size - cached, "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": 400, "output_tokens": 150 + 120 * blocks}


def malformed_events() -> list[str | bytes | dict[str, Any]]:
    start = {"type": "message_start", "message": {
        "id": "msg_soak", "type": "message", "role": "assistant", "model": "claude-fake",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1}}}
    return [start, {"type": "ping"},
            'event: content_block_start\ndata: {"type": "content_block_start", "index": 0, '
            '"content_bl\n\n']


def serve_fake(seed: int) -> int:
    """The fake Messages API, in a process of its own: prints its URL, serves until a line
    arrives on stdin, then prints what it injected (one JSON object)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run stops it when it is done
    with FakeAnthropic(api_key=API_KEY) as server:
        model = FakeModel(server, seed)
        server.script(model, model)
        print(server.url, flush=True)
        sys.stdin.readline()
        with model.lock:
            print(json.dumps(dict(model.stats)), flush=True)
    return 0
