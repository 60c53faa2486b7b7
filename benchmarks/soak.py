#!/usr/bin/env python3
"""A week, compressed: the real engine and agent run step after step against a fake model that
fails as the real API does, and the figures that must not grow with the session are watched.

    python benchmarks/soak.py                  # a simulated week: 10,000 steps (hours)
    python benchmarks/soak.py --quick          # 300 steps, a few minutes on 2 cores
    python benchmarks/soak.py --steps 60 --json

Why: a run is meant to go on for days. What fails then is what no short test sees: memory that
creeps up step after step, a store write whose cost grows with the session, an app that takes
longer and longer to open, one fault in ten thousand API calls that kills the run or loses a
step. This drives the real Engine with the real Agent operator (the real anthropic SDK over
HTTP) against tests/fake_anthropic in a process of its own, playing realistic conversations:
list_versions, views and str_replace edits of the kernel, evaluate, note, update_plan, commit,
end_turn, and a supervisor's review when the search stalls. Into them it injects faults at
realistic rates (FAULT_RATES): 529 overloaded, dropped connections, stalls, streams cut
mid-body or malformed, and garbled tool input. The
evaluator's worker answers at once (InstantWorker): a kernel's score follows one marker line, and
about one edit in fifty is a real gain, so the gate commits a few thousand versions a week.
The agent waits 0.01 s on an outage (settings below), so faults cost the simulation little.

At every tenth of the run (a checkpoint) it reports:

    rss_mb              the run process's resident memory (the fake server is another process)
    append p50/p99 ms   Session.append_event over the window since the last checkpoint
    commit p50/p99 ms   Session.commit over the same window
    state p99 ms        Session.set_state, the most frequent write (every turn, every evaluation)
    open_s              Session.open(read-only) in a fresh process, as ``avo attach`` does
    app_open_s          the real app in that process (Pilot, headless) until its first screen
    faults              faults injected so far; steps committed and ended early so far

The engine is held at the checkpoint (it waits in its event subscriber) while the fresh process
opens the session, so the open times do not compete with the run for the two cores.

At the end: crashes (engine.run raising; the run is then resumed as ``avo run`` would be, and
each traceback is printed) and lost steps (a step the operator began with no STEP event for it;
the STEP numbers must run 1..N without a gap or a repeat). The run survived when the session
ends with status ``finished``, nothing crashed and no step was lost.

Flat, in numbers (the first half of the checkpoints against the second):
- a write latency p99 is flat when the worst window of the second half is at most 2x the
  worst of the first plus 1 ms. A window's p99 over ~160 commits is its second-slowest write,
  so it is 3 ms or 15 ms as a compaction falls in the window or not; the worst of each half
  takes that luck out. The store's own benchmark (RESULTS.md, 2026-11-21) shows p99 moving
  ~1.5x run to run on this disk, and a cost that grew with the session would grow 10x;
- RSS is flat when it grows by less than 10 MB plus 5 MB per 1,000 steps between the first
  checkpoint and the last. The lineage the session keeps in memory legitimately grows (~0.3
  versions a step, ~1 KB each: ~0.3 MB per 1,000 steps); a leak of one conversation per step
  (tens of KB) would be 20 MB or more per 1,000 steps. The 10 MB absorbs allocator noise;
- an open time is flat when the worst of the second half is at most 2x the worst of the
  first plus 0.25 s. Opening reads the
  lineage, so some growth is expected; this says whether it stays in the same class.

Ctrl-C (or SIGTERM) stops the run at the engine's next safe point (the step in hand ends with
its STEP event) and prints what was measured; a second one leaves at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake Messages API lives with the tests

import fake_anthropic as fa  # noqa: E402  (standard library only)
from fake_anthropic import FakeAnthropic, Recorded, Reply, Step  # noqa: E402
from report import print_figures  # noqa: E402  (benchmarks/ is on the path when run)

if TYPE_CHECKING:
    from avo_tui.engine import Engine
    from avo_tui.evaluation import EvalRequest, EvalResult
    from avo_tui.evaluation.results import ConfigResult
    from avo_tui.pool import ProgressCallback

API_KEY = "soak-key"
KERNEL = "attention.c"
FULL_STEPS = 10_000
QUICK_STEPS = 300
CHECKPOINTS = 10
PROBE_TIMEOUT_S = 300.0
MAX_RESUMES = 5  # crashes after which the soak gives up resuming

# Per API request.
FAULT_RATES: dict[str, float] = {
    "overloaded_529": 0.010,
    "rate_limited_429": 0.002,
    "dropped": 0.005,
    "stalled": 0.0002,  # no answer until the client's timeout
    "cut_drop": 0.0008,  # a few SSE events, then the connection closes
    "cut_end": 0.0005,  # a few SSE events, then a clean end without message_stop
    "cut_stall": 0.0002,  # a few SSE events, then silence until the client's timeout
    "malformed_sse": 0.0005,  # an SSE data line that is not JSON
}
BAD_INPUT_RATE = 0.01  # per turn: one tool call with garbled or ill-typed input

# Per edit cycle of the fake agent: what its str_replace does to the marker line.
EDIT_MIX: tuple[tuple[str, float], ...] = (
    ("gain", 0.022),  # level + 1 or 2: 1% faster per level, the only way to a commit
    ("compile_error", 0.10),
    ("incorrect", 0.08),
    ("tweak", 1.0),  # the rest: a change that costs 0.3-1.5%
)
QUICK_EVALUATE = 0.15  # of evaluations: quick grid ("checked", never committed)
EXTRA_TOOL = 0.3  # of cycles: one more call (note, plan, lineage, knowledge)
CYCLES = (3, 34)  # edit cycles a step allows itself, uniform (the agent's max_turns is 60)

MARK = re.compile(r"// avo:soak level=(\d+) tweak=(\d+) fault=(\d+)")
HEAD = re.compile(r"The workspace holds (v\d+)")


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


# -- the instant evaluator (the run process) --------------------------------------------------


class InstantWorker:
    """A pool worker (pool.EvalWorker) behind the real engine.evaluator.Evaluator, answering
    at once with a real EvalResult built from the kernel's marker line: speed() on every
    configuration, or the compile error or wrong output the marker plants. Beside an incumbent
    (first readings and the commit gate) the pair is "timed" in MIN_SWEEPS paired blocks per
    configuration, as the worker times them (evaluation/paired.py), each block's log-gain
    drawn with a 0.05% spread."""

    def __init__(self, seed: int) -> None:
        from avo_tui.evaluation import get_target

        self.target = get_target("cpu-attention")
        self.info: dict[str, object] = {"device": "cpu", "soak": True}
        self.rng = random.Random(seed)

    def start(self) -> None:
        """Nothing to start: it answers in the caller's thread."""

    def wait_ready(self) -> dict[str, object]:
        return self.info

    def check_target(self, ref: str) -> None:
        pass  # the shipped target: nothing to check

    def interrupt(self, reason: str) -> bool:
        return False  # an answer is never in flight long enough to cut short

    def stop(self, kill: bool = False) -> None:
        """Nothing to stop."""

    def evaluate(
        self,
        request: EvalRequest,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> EvalResult:
        from avo_tui.engine.evaluator import sources_key
        from avo_tui.evaluation import EvalResult
        from avo_tui.evaluation.results import Failure

        if on_progress is not None:
            on_progress("timing", "")
        target, files, incumbent = self.target, request.sources, request.incumbent
        result = EvalResult(target.name, target.toolchain, target.device, target.unit,
                            seed=self.rng.randrange(2**31), quick=request.quick)
        result.kernel_id = sources_key(files)
        marker = Marker.find(files.get(KERNEL, "")) or Marker()
        if marker.fault == 1:
            result.failure = Failure("compile", f"{KERNEL}:1: error: expected ';' (soak)")
            return result
        result.configs = self._configs(marker, request.quick, incumbent)
        if marker.fault == 2:
            result.configs[0].passed = False
            result.failure = Failure("incorrect", "rel. L2 error 3.1e-2 over 2.0e-5 (soak)",
                                     result.configs[0].name)
        if incumbent is not None:
            result.incumbent_kernel_id = sources_key(incumbent)
            result.same_as_incumbent = result.incumbent_kernel_id == result.kernel_id
        return result

    def _configs(self, marker: Marker, quick: bool,
                 incumbent: Mapping[str, str] | None) -> list[ConfigResult]:
        from avo_tui.evaluation.paired import MIN_SWEEPS
        from avo_tui.evaluation.results import ConfigResult, Timing

        target = self.target
        base = target.baselines[0]
        gmean = speed(marker)
        rival = speed(Marker.find(incumbent.get(KERNEL, "")) or Marker()) if incumbent else None
        configs = []
        for n, config in enumerate(target.grid(quick)):
            throughput = gmean * (0.9 + 0.05 * n) * (1 + self.rng.gauss(0, 0.0005))
            entry = ConfigResult(config, passed=True, max_abs_err=1e-6, rel_l2_err=1e-7,
                                 primary_baseline=base, verified=3)
            entry.throughput = throughput
            work = target.work(config)
            entry.timing = Timing(work / throughput / 1e9, 0.2, 200, 0.0)
            entry.add_baseline(base, Timing(work / 20e9, 0.2, 200, 0.0), 20.0)
            if rival is not None:
                other = rival * (0.9 + 0.05 * n)
                entry.incumbent_timing = Timing(work / other / 1e9, 0.2, 200, 0.0)
                gain = math.log(throughput / other)
                entry.block_gains = [gain + self.rng.gauss(0, 0.0005)
                                     for _ in range(MIN_SWEEPS)]
            configs.append(entry)
        configs += [ConfigResult(c, edge=True, passed=True, max_abs_err=1e-6)
                    for c in target.edge_configs]
        return configs


def speed(marker: Marker) -> float:
    """1% per level; a tweak costs 0.3% to 1.5%."""
    slower = 0.003 * (1 + (marker.tweak - 1) % 5) if marker.tweak else 0.0
    return 10.0 * 1.01**marker.level * (1 - slower)


# -- measuring the run ------------------------------------------------------------------------


class Timed:
    """Wraps one method of one object (an instance attribute shadows the class's) and keeps
    the duration of every call since the last ``take``."""

    def __init__(self, owner: object, name: str) -> None:
        self.samples: list[float] = []
        self.calls = 0
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.samples.append(time.perf_counter() - start)
                self.calls += 1

        setattr(owner, name, timed)

    def take(self) -> list[float]:
        samples, self.samples = self.samples, []
        return samples


def percentile_ms(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1e3, 3)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def probe_open(directory: Path) -> dict[str, float]:
    """In a fresh process: open the session read-only, then the real app until its first
    screen (as tests/test_app.py and benchmarks/tui_scale.py drive it)."""
    from avo_tui.engine.client import RunClient
    from avo_tui.store import Session
    from avo_tui.tui import make_app

    start = time.perf_counter()
    Session.open(directory, writable=False).close()
    opened = time.perf_counter() - start

    async def app_open() -> float:
        start = time.perf_counter()
        app = make_app(RunClient(directory))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            return time.perf_counter() - start

    return {"open_s": round(opened, 4), "app_open_s": round(asyncio.run(app_open()), 3)}


def probe_in_fresh_process(directory: Path) -> dict[str, float | None]:
    command = [sys.executable, __file__, "--probe-open", str(directory)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              start_new_session=True, check=True)
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (subprocess.SubprocessError, ValueError, IndexError) as error:
        print(f"soak: the open probe failed: {error}", file=sys.stderr)
        return {"open_s": None, "app_open_s": None}


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the soak counts from the engine's events (on the engine's thread)."""

    kinds: Counter[str] = field(default_factory=Counter)
    step_numbers: list[int] = field(default_factory=list)
    committed_steps: int = 0
    ended_early: Counter[str] = field(default_factory=Counter)
    crashed_status: int = 0
    versions: int = 1
    last_event: int = 0

    def add(self, event: Any) -> None:
        self.kinds[event.kind] += 1
        self.last_event = event.seq
        data = event.data
        if event.kind == "step":
            self.step_numbers.append(int(data.get("step", 0)))
            summary = str(data.get("summary", ""))
            if data.get("version"):
                self.committed_steps += 1
            elif summary.startswith("step ended"):
                self.ended_early[summary.split(":", 1)[-1].strip()[:60]] += 1
        elif event.kind == "commit":
            self.versions += 1
        elif event.kind == "status" and data.get("status") == "crashed":
            self.crashed_status += 1


class Soak:
    def __init__(self, directory: Path, steps: int, seed: int, url: str,
                 checkpoints: int = CHECKPOINTS) -> None:
        from avo_tui.engine import Budgets, Evaluator, RunSettings, Usage
        from avo_tui.engine.gate import NoiseEstimate
        from avo_tui.engine.scores import score_of
        from avo_tui.operators.agent import AgentSettings
        from avo_tui.operators.agent.agent import Agent
        from avo_tui.store import Session

        os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"] = API_KEY, url
        self.steps, self.budgets = steps, Budgets(max_steps=steps)
        # Outages waited out in 0.01 s, and the quick retries (0.5 s, 1 s ...) off: every fault
        # goes through the agent's announced waits, and costs the simulation little.
        self.settings = AgentSettings(outage_wait_s=0.01, outage_wait_max_s=0.05,
                                      request_timeout_s=2.0, sdk_retries=0)
        settings = RunSettings(operator="agent", budgets=self.budgets,
                               agent=self.settings.to_doc())
        worker = InstantWorker(seed)
        self.evaluator = Evaluator(worker.target, worker)
        seed_score = score_of(self.evaluator.evaluate({KERNEL: seed_source()}))
        self.session = Session.create(directory, target=worker.target.ref, operator="agent",
                                      seed_files={KERNEL: seed_source()}, score=seed_score,
                                      host=self.evaluator.host(),
                                      settings=settings.to_doc())
        self.session.set_state(announce=False, usage=Usage().to_doc(),
                               noise=NoiseEstimate().to_doc(), baselines={})
        self.agent = Agent(self.settings)
        self.started = Timed(self.agent, "step")  # every step the operator began
        self.appends = Timed(self.session, "append_event")
        self.commits = Timed(self.session, "commit")
        self.states = Timed(self.session, "set_state")
        self.tally = Tally()
        self.rows: list[dict[str, Any]] = []
        self.crashes: list[str] = []
        self.engine: Engine | None = None
        self.result = ""
        self.clock = time.monotonic()
        self.server_stats: dict[str, int] = {}
        self.every = max(1, steps // checkpoints)

    def run(self) -> None:
        """Run the engine to the step budget; a crash is recorded and the run resumed."""
        from avo_tui.engine import Engine

        while True:
            self.engine = Engine(self.session, self.agent, self.evaluator, budgets=self.budgets)
            self.engine.subscribe(self._on_event)
            try:
                self.result = self.engine.run()
                return
            except Exception:
                self.crashes.append(traceback.format_exc())
                print(f"soak: the engine crashed (resuming):\n{self.crashes[-1]}",
                      file=sys.stderr, flush=True)
                if len(self.crashes) > MAX_RESUMES:
                    self.result = "crashed too often"
                    return

    def stop(self) -> None:
        from avo_tui.engine import Stop

        if self.engine is not None:
            self.engine.submit(Stop("interrupted by Ctrl-C (soak)"))

    def _on_event(self, event: Any) -> None:
        self.tally.add(event)
        if event.kind != "step":
            return
        number = int(event.data.get("step", 0))
        if number % 100 == 0:
            rate = number / max(1e-9, time.monotonic() - self.clock)
            print(f"soak: step {number}/{self.steps} ({rate:.2f} steps/s)", file=sys.stderr,
                  flush=True)
        if number % self.every == 0 or number == self.steps:
            self.checkpoint(number)

    def checkpoint(self, step: int) -> None:
        """One row of the table: runs on the engine's thread, which waits meanwhile."""
        appends, commits, states = self.appends.take(), self.commits.take(), self.states.take()
        row: dict[str, Any] = {
            "steps": step,
            "elapsed_s": round(time.monotonic() - self.clock, 1),
            "events": self.tally.last_event,
            "versions": self.tally.versions,
            "rss_mb": rss_mb(),
            "append_p50_ms": percentile_ms(appends, 0.5),
            "append_p99_ms": percentile_ms(appends, 0.99),
            "commit_p50_ms": percentile_ms(commits, 0.5),
            "commit_p99_ms": percentile_ms(commits, 0.99),
            "state_p99_ms": percentile_ms(states, 0.99),
            "window_commits": len(commits),
        }
        row |= probe_in_fresh_process(self.session.directory)
        row["errors"] = self.tally.kinds["error"]
        row["committed_steps"] = self.tally.committed_steps
        row["ended_early"] = sum(self.tally.ended_early.values())
        self.rows.append(row)
        print("soak: checkpoint " + json.dumps(row), file=sys.stderr, flush=True)

    def final_checkpoint(self) -> None:
        """A run stopped between checkpoints still reports where it stood."""
        last = max(self.tally.step_numbers, default=0)
        if last and (not self.rows or self.rows[-1]["steps"] != last):
            self.checkpoint(last)

    def survival(self, interrupted: bool) -> dict[str, Any]:
        """Crashes, lost steps and how the session ended."""
        numbers = self.tally.step_numbers
        last = max(numbers, default=0)
        status = self.session.state.get("status")
        lost = self.started.calls - len(numbers)
        gaps = sorted(set(range(1, last + 1)) - set(numbers))
        repeats = len(numbers) - len(set(numbers))
        survived = (not self.crashes and not self.tally.crashed_status and lost == 0
                    and not gaps and not repeats
                    and (status == "finished" or (interrupted and status == "stopped")))
        return {
            "survived": survived,
            "status": status,
            "reason": self.result,
            "crashes": len(self.crashes),
            "crashed_status_events": self.tally.crashed_status,
            "steps_started": self.started.calls,
            "step_events": len(numbers),
            "lost_steps": lost,
            "step_number_gaps": gaps[:20],
            "step_number_repeats": repeats,
        }


def start_fake_server(seed: int) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([sys.executable, __file__, "--serve-fake", "--seed", str(seed)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    if not url.startswith("http://"):
        server.kill()
        raise SystemExit("soak: the fake Messages API did not start")
    return server, url


def stop_fake_server(server: subprocess.Popen[str]) -> dict[str, int]:
    try:
        out, _ = server.communicate("stop\n", timeout=30)
        return dict(json.loads(out.strip().splitlines()[-1]))
    except (subprocess.SubprocessError, ValueError, IndexError):
        server.kill()
        return {}


def stop_on_signals() -> None:
    """Ctrl-C, and a plain ``kill``, stop the run cleanly: also in a background job, whose
    shell may have started it with SIGINT ignored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def drive(soak: Soak) -> bool:
    """Run the soak on a thread; Ctrl-C asks the engine to stop, a second one leaves."""
    finished = threading.Event()

    def run() -> None:
        try:
            soak.run()
        finally:
            finished.set()

    # Not Thread.join: on Python 3.11 a join interrupted by Ctrl-C can leave is_alive() False
    # while the thread still runs.
    thread = threading.Thread(target=run, name="soak-engine", daemon=True)
    thread.start()
    interrupted = False
    while not finished.is_set():
        try:
            finished.wait(0.5)
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            print("\nsoak: stopping at the next safe point (Ctrl-C again to leave now)",
                  file=sys.stderr, flush=True)
            soak.stop()
    thread.join()
    return interrupted


# -- the report -------------------------------------------------------------------------------

COLUMNS = ("steps", "elapsed_s", "events", "versions", "rss_mb", "append_p50_ms",
           "append_p99_ms", "commit_p50_ms", "commit_p99_ms", "state_p99_ms", "open_s",
           "app_open_s", "errors")


def flat_latency(first: float | None, last: float | None) -> bool | None:
    return None if first is None or last is None else last <= 2 * first + 1.0


def flat_open(first: float | None, last: float | None) -> bool | None:
    return None if first is None or last is None else last <= 2 * first + 0.25


def worst(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return max(values) if values else None


def flatness(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each watched figure, the first half of the run against the second, by the rules in the
    docstring. Latencies and open times compare the worst checkpoint of each half: a window's
    p99 over ~160 commits is its second-slowest write, so one compaction more or less in the
    window doubles it, and a single first and last window would judge that luck. A cost that
    grows with the session raises the worst of the second half all the same. Memory compares
    the first checkpoint with the last."""
    if len(rows) < 2:
        return {}
    first, last = rows[0], rows[-1]
    early, late = rows[: len(rows) // 2], rows[len(rows) // 2:]
    verdicts: dict[str, dict[str, Any]] = {}
    for key in ("append_p99_ms", "commit_p99_ms", "state_p99_ms"):
        before, after = worst(early, key), worst(late, key)
        verdicts[key] = {"first": before, "last": after, "flat": flat_latency(before, after),
                         "rule": "worst of the second half <= 2 x worst of the first + 1 ms"}
    for key in ("open_s", "app_open_s"):
        before, after = worst(early, key), worst(late, key)
        verdicts[key] = {"first": before, "last": after, "flat": flat_open(before, after),
                         "rule": "worst of the second half <= 2 x worst of the first + 0.25 s"}
    span = last["steps"] - first["steps"]
    allowed = 10 + 5 * span / 1000
    verdicts["rss_mb"] = {"first": first["rss_mb"], "last": last["rss_mb"],
                          "flat": last["rss_mb"] - first["rss_mb"] < allowed,
                          "rule": f"growth < 10 MB + 5 MB per 1000 steps ({allowed:.1f} MB "
                                  f"over {span} steps)"}
    return verdicts


def verdict_line(verdicts: dict[str, dict[str, Any]], survival: dict[str, Any]) -> str:
    parts = []
    for key, v in verdicts.items():
        word = {True: "flat", False: "NOT FLAT", None: "unmeasured"}[v["flat"]]
        parts.append(f"{key} {word} ({v['first']} -> {v['last']}; flat: {v['rule']})")
    alive = "survived" if survival["survived"] else "DID NOT SURVIVE"
    lost = (f"{survival['crashes']} crash(es), {survival['lost_steps']} lost step(s), "
            f"status {survival['status']}")
    return f"verdict: {alive} ({lost}); " + "; ".join(parts or ["fewer than two checkpoints"])


def print_table(rows: list[dict[str, Any]]) -> None:
    """The checkpoints, one figure line each, through the benchmarks' shared printer."""
    widths = {c: max(len(c), *(len(cell(r.get(c))) for r in rows)) for c in COLUMNS}
    header = "  ".join(f"{c:>{widths[c]}}" for c in COLUMNS[1:])
    lines = {"steps": header}
    for row in rows:
        lines[str(row["steps"])] = "  ".join(f"{cell(row.get(c)):>{widths[c]}}"
                                             for c in COLUMNS[1:])
    print_figures(lines, as_json=False)


def cell(value: object) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def report(soak: Soak, interrupted: bool, as_json: bool, seconds: float) -> bool:
    survival = soak.survival(interrupted)
    verdicts = flatness(soak.rows)
    line = verdict_line(verdicts, survival)
    summary: dict[str, Any] = {
        "steps_requested": soak.steps,
        "steps_run": len(soak.tally.step_numbers),
        "interrupted": interrupted,
        "seconds": round(seconds, 1),
        "events": soak.tally.last_event,
        "versions": soak.tally.versions,
        "committed_steps": soak.tally.committed_steps,
        "ended_early": dict(soak.tally.ended_early.most_common(8)),
        "event_kinds": dict(soak.tally.kinds.most_common()),
        "api": soak.server_stats,
        **survival,
    }
    if as_json:
        print_figures({**summary, "checkpoints": soak.rows, "flatness": verdicts,
                       "crash_tracebacks": soak.crashes, "verdict": line}, as_json=True)
    else:
        if soak.rows:
            print_table(soak.rows)
            print()
        print_figures({k: v for k, v in summary.items() if k != "step_number_gaps"},
                      as_json=False)
        for tb in soak.crashes:
            print("\ncrash traceback:\n" + tb)
        print("\n" + line)
    return bool(survival["survived"])


# -- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status 0 when the run survived, 1 when it did not.",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_STEPS} steps (a few minutes on 2 cores)")
    parser.add_argument("--steps", type=int, metavar="N",
                        help=f"steps to run (default {FULL_STEPS:,}, a simulated week)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seeds the fake model's conversations and faults (default 1)")
    parser.add_argument("--checkpoints", type=int, default=CHECKPOINTS, metavar="K",
                        help=f"rows in the table: one every 1/K of the run (default "
                             f"{CHECKPOINTS})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--dir", type=Path, help="where to build the session (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the session folder")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--probe-open", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.checkpoints < 1:
        parser.error("--checkpoints must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    if args.serve_fake:
        return serve_fake(args.seed)
    if args.probe_open:
        print(json.dumps(probe_open(args.probe_open)))
        return 0
    steps = args.steps or (QUICK_STEPS if args.quick else FULL_STEPS)
    stop_on_signals()
    if args.dir:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="avo-soak-", dir=args.dir))
    server, url = start_fake_server(args.seed)
    start = time.monotonic()
    soak: Soak | None = None
    interrupted = False
    try:
        soak = Soak(workdir / "soak", steps, args.seed, url, args.checkpoints)
        interrupted = drive(soak)
        soak.final_checkpoint()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stats = stop_fake_server(server)
        if soak is not None:
            soak.server_stats = stats
            with contextlib.suppress(Exception):
                soak.session.close()
        if args.keep:
            print(f"soak: the session is kept in {workdir / 'soak'}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if soak is None:
        return 1
    return 0 if report(soak, interrupted, args.json, time.monotonic() - start) else 1


if __name__ == "__main__":
    sys.exit(main())
