"""The scripted lanes: the fake Messages API's replies, each derived from its request alone."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from common.slowed_seed import KNOB, head_block, knob_line, knob_values, share_of

from lanes_run_parts.settings import (
    API_KEY,
    CHECKLIST,
    DEBRIEF,
    DEFAULT_TIMEOUT_S,
    DONE,
    LANE,
    MAX_EVALUATIONS,
    TWIN,
)

from fake_anthropic import FakeAnthropic, Recorded, Reply, Step, reply, text, tool_use

from avo_tui.operators.agent.tool_schemas import EDITOR


@dataclass(frozen=True)
class Script:
    """What every lane's scripted agent knows: the kernel's file, how many shares the slowdown
    has (lane K owns share_of(K)), and the size of the knob block opening the file."""

    kernel: str
    shares: int
    hidden: frozenset[int] = frozenset()  # the shares not declared as knobs (knob_line)

    @property
    def head_lines(self) -> int:
        return len(head_block(self.shares, "c"))  # the same length for every toolchain

    def answer(self, request: Recorded) -> Step:
        """The reply to ``request``, derived from it alone (see the module's doc)."""
        if not request.stream:  # the supervisor's review (MessagesApi.ask)
            return reply(text("Each lane takes its own share of the slowdown out; nothing is "
                              "exhausted. Directions: carry on."))
        lane = lane_of(request)
        share = share_of(lane, self.shares)
        last = request.last_user_message().get("content")
        if any(isinstance(b, dict) and str(b.get("text", "")).startswith(DEBRIEF)
               for b in last or []):
            return reply(text(f"<lesson>Lane {lane} took share {share} of the slowdown out."
                              f"</lesson><summary>Each share is a gain on its own; merge the "
                              "newest version's knobs before evaluating.</summary>"))
        messages = request.body.get("messages", [])
        if len(messages) == 1:  # the brief
            return reply(text(f"Lane {lane}: read the newest version's knobs and mine."),
                         tool_use("update_plan", {"plan": f"Lane {lane}: set {KNOB.format(share)}"
                                                  " to 0 on the newest version's other knobs, "
                                                  "evaluate, commit."}),
                         *self.look())
        calls = last_calls(messages)
        results = {str(r.get("tool_use_id")): str(r.get("content", ""))
                   for r in request.tool_results()}
        said = {name: results.get(call_id, "") for call_id, name in calls.items()}
        evaluations = sum(1 for m in messages if m.get("role") == "assistant"
                          for b in m.get("content", []) if b.get("name") == "evaluate")
        if "show_version" in said:
            return self.merge(lane, said["show_version"], said.get(EDITOR, ""), evaluations)
        if "evaluate" in said:
            if outcome_of(said["evaluate"]) == "promising" or TWIN.search(said["evaluate"]):
                return self.commit(lane)
            return self.again(lane, evaluations, "the first reading was not above the bar")
        answer = said.get("commit", "")
        if answer.startswith(CHECKLIST):
            return self.commit(lane)  # checked: submit it
        if answer.startswith("committed "):
            return reply(text(f"Lane {lane}: committed."))
        if "already decided" in answer:
            return reply(text(f"Lane {lane}: the gate has decided on this kernel; next step."))
        return self.again(lane, evaluations, answer.split(":", 1)[0] or "no answer")

    def look(self) -> list[dict[str, Any]]:
        return [tool_use("show_version", {"version": "head", "file": self.kernel}),
                tool_use(EDITOR, {"command": "view", "path": self.kernel,
                                  "view_range": [1, self.head_lines]})]

    def merge(self, lane: int, head_source: str, mine_view: str, evaluations: int) -> Step:
        share = share_of(lane, self.shares)
        head, mine = knob_values(head_source), knob_values(mine_view)
        if share not in head or head.keys() != mine.keys():
            return reply(text(f"Lane {lane}: the knobs are not where I expected; I stop here."))
        if head[share] == 0:
            return reply(text(f"Lane {lane}: {KNOB.format(share)} is 0 in the head already: "
                              f"{DONE}."))
        if evaluations >= MAX_EVALUATIONS:
            return reply(text(f"Lane {lane}: {evaluations} evaluations this step; next step."))
        wanted = head | {share: 0}
        edits = [tool_use(EDITOR, {"command": "str_replace", "path": self.kernel,
                                   "old_str": knob_line(k, mine[k], self.hidden),
                                   "new_str": knob_line(k, wanted[k], self.hidden)})
                 for k in sorted(wanted) if mine[k] != wanted[k]]
        return reply(text(f"Lane {lane}: the head's knobs, with {KNOB.format(share)} at 0."),
                     *edits, tool_use("evaluate", {"idea": f"lane {lane}: {KNOB.format(share)} "
                                                   "1 -> 0 on the head's knobs"}))

    def commit(self, lane: int) -> Step:
        knob = KNOB.format(share_of(lane, self.shares))
        return reply(tool_use("commit", {"message": f"lane {lane}: {knob} 1 -> 0, its share of "
                                         "the slowdown out"}))

    def again(self, lane: int, evaluations: int, why: str) -> Step:
        if evaluations >= MAX_EVALUATIONS:
            return reply(text(f"Lane {lane}: {why}; {evaluations} evaluations, next step."))
        return reply(text(f"Lane {lane}: {why}; reading the head again."), *self.look())


def lane_of(request: Recorded) -> int:
    texts = request.texts()
    found = LANE.search(texts[0]) if texts else None
    return int(found.group(1)) if found else 1


def last_calls(messages: list[dict[str, Any]]) -> dict[str, str]:
    """The tool calls of the conversation's last assistant turn: id -> tool name."""
    for message in reversed(messages):
        if message.get("role") == "assistant":
            return {str(b.get("id")): str(b.get("name")) for b in message.get("content", [])
                    if b.get("type") == "tool_use"}
    return {}


def outcome_of(evaluation: str) -> str:
    """The outcome an evaluate result opens with: ``attempt a7: promising - ...``."""
    found = re.match(r"attempt a\d+: (\w+)", evaluation)
    return found.group(1) if found else ""


class FakeApi:
    """The fake Messages API, served here (it outlives the killed run), answering every request
    with the script; it keeps only what the lanes were told by the commit tool."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.server = FakeAnthropic(api_key=API_KEY)
        self.lock = threading.Lock()
        self.acknowledged: list[tuple[int, str]] = []  # (lane, version), as the agents saw them
        self.requests: Counter[int] = Counter()  # per lane (0: a review)
        self.released: dict[int, threading.Event] = {}  # per lane holding (hold)
        self.hold_s = DEFAULT_TIMEOUT_S
        # Before the kill, lanes after the first wait for its commit (wait_for_the_first).
        self.first_committed = threading.Event()

    def __call__(self, request: Recorded) -> Step:
        self.server.script(self)  # the next request finds this step again
        with self.lock:
            self.server.requests.clear()  # bodies hold the kernel: do not keep them all
            lane = lane_of(request) if request.stream else 0
            self.requests[lane] += 1
            for result in request.tool_results() if request.stream else []:
                found = re.match(r"committed (v\d+)", str(result.get("content", "")))
                if found and (lane, found.group(1)) not in self.acknowledged:
                    self.acknowledged.append((lane, found.group(1)))
                    self.first_committed.set()
        if lane > 1:
            self.wait_for_the_first()
        step = self.script.answer(request)
        said = json.dumps(step.content if isinstance(step, Reply) else [])
        if lane and DONE in said:
            self.hold(lane)
        return step

    def wait_for_the_first(self) -> None:
        """Before the kill, the lanes after the first start once it was told of a commit, and
        then together: each reads that version and evaluates its own share at the same moment,
        so the kill finds their evaluations in flight. Left to run as they came, on four GPUs
        the gate (one decision at a time) spaced the lanes out, and in 4 runs of 6 every share
        was out before two evaluations met a commit, or one of two ended as the kill came."""
        self.first_committed.wait(self.hold_s)

    def open_every_lane(self) -> None:
        """After the kill nothing waits for a first commit."""
        self.first_committed.set()

    def hold(self, lane: int) -> None:
        """A lane with nothing left to do waits for its operator's stop before its step ends,
        as an agent that thinks does. Answered at once, it took step after step (eight while
        the other lanes evaluated once, on four GPUs) and spent the run's step budget, shared
        by every lane, before the last share was out."""
        with self.lock:
            released = self.released.setdefault(lane, threading.Event())
        released.wait(self.hold_s)

    def holding(self) -> set[int]:
        with self.lock:
            return {lane for lane, released in self.released.items() if not released.is_set()}

    def release(self, lanes: list[int] | None = None) -> None:
        """Let ``lanes`` (None: every one) end their steps; a lane held later waits anew."""
        with self.lock:
            for lane in list(self.released) if lanes is None else lanes:
                released = self.released.pop(lane, None)
                if released is not None:
                    released.set()

    @contextmanager
    def serving(self) -> Iterator[str]:
        with self.server:
            self.server.script(*[self] * 16)  # one per request in flight; each puts one back
            yield self.server.url

    def seen(self) -> tuple[list[tuple[int, str]], dict[int, int]]:
        with self.lock:
            return list(self.acknowledged), dict(self.requests)
