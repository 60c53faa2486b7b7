#!/usr/bin/env python3
"""Four agent lanes on one session, end to end, killed with -9 mid-run and resumed (issue 23).

    python3 benchmarks/lanes_run.py --target mha --gpus all            # the GPU machine
    python3 benchmarks/lanes_run.py --target cpu-attention --workers 2  # no GPU (CI)
    python3 benchmarks/lanes_run.py --target mha --gpus 0,1 --json --keep
    ray start --head && python3 benchmarks/lanes_run.py --target mha --ray auto  # Ray actors

What it runs: the real ``avo run --lanes 4 --operator agent --headless --quick`` as a process
of its own, its agents talking through the real anthropic SDK to the loopback fake of the
Messages API (tests/fake_anthropic), served here.

The slowed seed. The session starts from the target's seed (on mha the real wgmma kernel,
kernels/cuda/attention_wgmma.cu) with slowdown knobs AVO_SLOW_1, AVO_SLOW_2 ... (shares)
declared at the file's top, all at 1. Each at 1 makes the kernel do its work 5/4 times over on a
GPU target, 5/2 times on the CPU target (its CTAs, or its tasks, computed again: real work, the
same output); at 0 it does nothing. Taking any one share out is then a 1.25x (CPU: 2.5x) gain
whatever the others are. A GPU target has one share per lane: the seed launches (5/4)^4 = 2.4x
the shipped seed's CTAs, each gain under the evaluator's implausible-jump rule (1.5x the best's
stored score). That holds for a grid of a CTA per tile, so a seed's knobs that make its grid
persistent are fixed off in the slowed seed (ONE_CTA_PER_TILE): on mha's seed as shipped
(PERSISTENT 2, its CTAs drawing tiles from one counter) a copy redid only its first tile, and on
four H200s the shares read +13.35%, +1.22% and +1.06%; with a CTA per tile, on one H200, 1.23x,
1.28x, then 1.25x each for the last two. The CPU target has two ((5/2)^2 = 6.25x; --shares),
lanes 1 and 3 owning the first, 2 and 4 the second: on a 2-core machine that other processes
load, timings swing by 2x within seconds, the gate's bar (timed beside the best) reached +98%,
and a 1.75x gain (tests/engine_helpers.py) was refused there; so the CPU target has few gate
decisions, each a large gain.

What each lane's scripted agent does (lane K owns share ((K - 1) mod shares) + 1). Its replies
are derived from each request alone (the lane's number from its brief, where it stands from
the last tool results), so a lane resumed from its draft after the kill goes on with its
conversation: read the knobs of the newest version (show_version head) and of its own
workspace (view), set its workspace to the newest's knobs with its own share at 0
(str_replace), evaluate, commit (the checklist, then the gate). When the gate refuses because
another lane committed first, it reads the head again and merges again, in the same step. A
lane whose share is out of the head ends its step at once. So every version is the one before
it and one share out (the versions build on each other), each share is committed once, and the
run's last version is the target's own seed again. (The head, not the best: the best is the
highest stored score, and on a loaded CPU a version the gate has just judged faster, timed
beside the best, can store a lower score than the best's, measured at a quieter moment.)

The operator's part, through ``avo send``. A result flagged as an implausible jump over the
best's stored score is held as a suspect (on a loaded CPU, a stored score can be half of what
the machine does a minute later); the slowdown is real by construction, so a held suspect whose
only flags are jumps and which is the head with one more share out is approved (a GPU target
should need none; the report counts them). In the resumed run, a lane that has taken a step
and whose share is out of the head is stopped (--lane K stop): it has nothing left to do, and
the run ends when the last lane does (or at its step budget, --max-steps, default 3 per lane).
A lane that finds its share out holds its reply until that stop is sent (in the first run,
until the kill), as an agent that thinks takes its time: answered at once, one lane took eight
steps while the others evaluated once on four GPUs, and spent the budget the lanes share.

The kill: the run is polled through its session, read-only, as ``avo attach`` reads it. Once a
version is committed and at least two evaluations are in flight (two candidates saved in
flight, compiling or timed), the run process is killed with SIGKILL. To
make that moment certain, the other lanes' requests wait until lane 1 is told of its commit,
then go on together, so their evaluations start at once. Its
evaluation workers end by themselves when their parent dies (worker.watch_parent), and this
checks that they did. Then the same command runs again: a resume.

Agent and tuner lanes, for a set time, over several processes (issue 73's 20-minute run on
four GPUs, where a device call lasts at most 10 minutes):

    python3 benchmarks/lanes_run.py --target mha --gpus all --operator agent,agent,agent,tuner \
        --minutes 20 --dir R --phase first                       # call 1: run 1, killed with -9
    python3 benchmarks/lanes_run.py ... --phase resume --stop-after 540  # call 2: stopped
    python3 benchmarks/lanes_run.py ... --phase resume                   # call 3: to the end

--operator takes the lanes in turn as avo run's does. With a tuner lane, an agent lane's share
is a plain macro the tuner does not see (so it cannot take an agent's share out first), and the
tuner lane's share is a knob it finds by itself; with one tuner lane every lane has a share of
its own to commit, and the check is that every lane committed. --minutes is avo run --hours:
the session's time, every run counted; agent lanes are stopped once their share is out, and
the tuner lane searches on to the end (its versions may then turn other knobs only). --phase
first saves the session as the kill left it (killed.json in --dir); --phase resume reads it,
resumes, and either stops the run after --stop-after seconds (avo send stop, as its operator
would) for another resume, or runs it to its end and makes the checks below.

The checks (exit status 1, and one line saying which failed and why, if any):

    kill_during_parallel_evaluations  the session the kill left holds >= 2 candidates in flight
    commit_acknowledged_before_kill   >= 1 version committed before the kill
    acknowledged_versions_kept        every version the store held at the kill, and every one
                                      the agents were told of ("committed vN"), is there after,
                                      with the same files, lane and parent
    attempts_kept                     every attempt written before the kill is there, unchanged
    lineage_whole                     v0..vN without a gap or repeat, no two versions with the
                                      same kernel, each version decided once in its lane (the
                                      gate's committed attempt, or an approved suspect)
    versions_build_on_each_other      each version is the one it builds on with one more share
                                      out, that of the lane that committed it (or whose suspect
                                      was approved): an agent lane's builds on the version
                                      before it, a tuner lane's on its parent (its island of
                                      the frontier), its share out or, once out, other knobs
    interrupted_once_per_lane         each candidate in flight at the kill is recorded once as an
                                      interrupted attempt of its lane, with its files and base
    every_lane_resumed                a lane whose conversation draft at the kill was still its
                                      step's resumed the step from it, and every lane completed a
                                      step after (a version that moved the lineage under every
                                      lane, an approved suspect, ends their steps: their drafts
                                      are then left, by design, and the steps start afresh)
    commits_from_several_lanes        >= 2 lanes committed (with tuner lanes and a share per
                                      lane: commits_from_every_lane)
    every_share_done                  each share was committed (twice only on two lines of the
                                      lineage, a tuner's island and the newest's), and the
                                      head has none in
    resume_finished                   the resumed run ended cleanly (finished, or its lanes
                                      stopped), nothing left in flight
    no_orphaned_workers               no evaluation worker of the killed run outlived it

Progress goes to stderr; the report (a table, or --json) to stdout. A GPU target needs NVIDIA
GPUs (--gpus); without them this says so in one line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# avo_tui; the fake Messages API and the tests' helpers; report.py (also when imported)
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from engine_helpers import CALL, repeated  # noqa: E402
from fake_anthropic import (  # noqa: E402
    FakeAnthropic,
    Recorded,
    Reply,
    Step,
    reply,
    text,
    tool_use,
)
from report import print_figures  # noqa: E402

from avo_tui.engine.lanes import draft_name  # noqa: E402
from avo_tui.engine.launch import seed_files  # noqa: E402
from avo_tui.evaluation import TargetSpec, UnknownTarget, get_target  # noqa: E402
from avo_tui.evaluation.declarations import contract  # noqa: E402
from avo_tui.operators.agent import research  # noqa: E402
from avo_tui.operators.agent.tool_schemas import EDITOR  # noqa: E402
from avo_tui.pool import GpuSpecError, resolve_gpus  # noqa: E402
from avo_tui.store import Session, StoreError  # noqa: E402

NAME = "lanes-run"  # the session
API_KEY = "lanes-run-key"
SHARE = {"c": (5, 2), "cuda": (5, 4)}  # one share's work factor, num / den (see the doc)
CPU_SHARES = 2  # the CPU target's shares (default); a GPU target has one per lane
MAX_SHARES = 8  # a GPU seed does (5/4)^8 = 6x its work at 8 (a CPU one (5/2)^N)
# Knobs fixed in a slowed CUDA seed where it declares them, as plain macros no tuner sees: a
# persistent grid's copy of a CTA redoes its first tile only (PERSISTENT 2) or adds a second
# wave of whole tile walks (PERSISTENT 1), so a share is no 1.25x. On mha the shares of +1.2%
# and +1.1% were smaller than what the tuner's other knobs gained, and than how far two records
# of one kernel, minutes apart, differed: the tuner committed versions with two shares still
# in, and the best stayed on v1 (benchmarks/RESULTS.md, the nineteenth session).
ONE_CTA_PER_TILE = {"PERSISTENT": "0", "O_BUFFER": "0", "MULTICAST": "0"}
KNOB = "AVO_SLOW_{}"
KNOB_LINE = re.compile(r"#define AVO_SLOW_(\d+) ([01])\b")
LANE = re.compile(r"You are lane (\d+) of (\d+)")
# plausibility_flags: over the best timed beside it, or its stored score where not timed beside
JUMP = re.compile(r"^geomean \S+ is \S+x the best (timed beside it|committed score)")
MAX_EVALUATIONS = 12  # a lane's evaluations in one step before it gives the step up
# How often the session is read while the runs go on. An evaluation lasts seconds; a read costs
# ~35 ms of CPU, which on two cores a busier watch would take from the evaluations it watches.
POLL_S = 0.5
WORKERS_EXIT_S = 30.0  # a killed run's workers end within a second or two (PARENT_POLL_S)
DEFAULT_TIMEOUT_S = 1800.0
# The agents' settings file. The debrief is the one more turn after a step's end: after a
# commit it carries the commit tool's answer ("committed vN") to the fake, which so learns what
# the agents were told before the kill.
SETTINGS = """\
[agent]
thinking = "off"
outage_wait_s = 0.05
outage_wait_max_s = 0.5
request_timeout_s = 300
debrief = true
"""
# A candidate evaluated again after the kill, identical to its promising reading from before
# it: "commit asks the gate about it" (read as a failure, a lane evaluated it 59 times over).
TWIN = re.compile(r"identical to a\d+ \(promising\)")
DONE = "my part is done"  # a scripted lane with nothing left to do ends its step saying so
CHECKLIST = "Nothing was submitted yet."  # how the commit tool's checklist opens
DEBRIEF = research.DEBRIEF.split("{", 1)[0]  # how the agent's end-of-step question opens


class Failed(Exception):
    """The benchmark cannot go on; the message is its one-line reason."""


def progress(line: str) -> None:
    print(f"lanes_run: {line}", file=sys.stderr, flush=True)


# -- the slowed seed ----------------------------------------------------------------------------


def knob_line(share: int, value: int, hidden: frozenset[int] = frozenset()) -> str:
    """A share's knob line: a declared knob, or (a share in ``hidden``) a plain macro that a
    tuner does not see, which only its agent lane edits."""
    if share in hidden:
        return f"#define {KNOB.format(share)} {value}  // an agent lane's share"
    return f"#define {KNOB.format(share)} {value}  // avo:knob 0 1"


def knob_values(source: str) -> dict[int, int]:
    """Each share's knob as ``source`` (a kernel, or a view of its first lines) sets it."""
    return {int(share): int(value) for share, value in KNOB_LINE.findall(source)}


def share_of(lane: int, shares: int) -> int:
    return (lane - 1) % shares + 1


def head_block(shares: int, toolchain: str, hidden: frozenset[int] = frozenset()) -> list[str]:
    """The lines the slowed seed opens with: a knob per share, and the work factor they make."""
    num, den = SHARE[toolchain]
    factors = " * ".join(f"({den} + {num - den} * {KNOB.format(k)})" for k in range(1, shares + 1))
    return [
        "// benchmarks/lanes_run.py: a slowed seed. Each AVO_SLOW_K at 1 makes the kernel do its",
        f"// work {num}/{den} times over; the scripted lanes set them to 0.",
        *(knob_line(k, 1, hidden) for k in range(1, shares + 1)),
        f"#define AVO_WORK_NUM ({factors})",
        f"#define AVO_WORK_DEN ({' * '.join([str(den)] * shares)})",
        "#define AVO_COPIES ((AVO_WORK_NUM + AVO_WORK_DEN - 1) / AVO_WORK_DEN)",
    ]


def slowed_seed(target: TargetSpec, shares: int, hidden: frozenset[int] = frozenset()
                ) -> dict[str, str]:
    """The target's seed (its Seed.knobs applied) with every share of the slowdown in (those
    in ``hidden`` not declared as knobs)."""
    (name, source), *others = seed_files(target).items()
    if others:
        raise Failed(f"the seed of {target.name} has several files; this handles one")
    head = head_block(shares, target.toolchain, hidden)
    body = (_slow_c(name, source) if target.toolchain == "c"
            else _slow_cuda(one_cta_per_tile(source), target.entry))
    return {name: "\n".join([*head, body])}


def one_cta_per_tile(source: str) -> str:
    """``source`` with each knob of ONE_CTA_PER_TILE it declares set, and no longer a knob."""
    def fixed(knob: re.Match[str]) -> str:
        value = ONE_CTA_PER_TILE.get(knob["name"])
        if value is None:
            return knob[0]
        return f"{knob['head']}{value}  // fixed by benchmarks/lanes_run.py: a CTA per tile"
    return contract.KNOB.sub(fixed, source)


def _slow_c(name: str, source: str) -> str:
    """Task ``t`` of the C seed's loop is computed AVO_COPIES_OF(t) times: AVO_WORK_NUM /
    AVO_WORK_DEN times over, spread evenly over the tasks, each at least once."""
    if CALL not in source:
        raise Failed(f"the CPU seed no longer calls `{CALL.strip()}` per task; "
                     "benchmarks/lanes_run.py slows that call down")
    copies = ("#define AVO_COPIES_OF(t) ((int)(((t) + 1) * AVO_WORK_NUM / AVO_WORK_DEN"
              " - (t) * AVO_WORK_NUM / AVO_WORK_DEN))")
    return copies + "\n" + repeated({name: source}, "AVO_COPIES_OF(t)")[name]


# Every CTA of the kernel's own grid (its tile) is computed AVO_WORK_NUM / AVO_WORK_DEN times
# over: the grid holds AVO_COPIES copies of it, a copy beyond its tile's share returns at once,
# and the kernel reads its tile through blockIdx and gridDim as if its grid were its own.
CUDA_PROLOGUE = """\
// benchmarks/lanes_run.py: the grid holds AVO_COPIES copies of the kernel's own grid.
static __device__ __forceinline__ unsigned avo_tiles() { return gridDim.x / AVO_COPIES; }
static __device__ __forceinline__ bool avo_spare_copy() {
    const unsigned long long tile = blockIdx.x % avo_tiles(), copy = blockIdx.x / avo_tiles();
    return copy >= (tile + 1) * AVO_WORK_NUM / AVO_WORK_DEN - tile * AVO_WORK_NUM / AVO_WORK_DEN;
}
static __device__ __forceinline__ uint3 avo_block_idx() {
    uint3 b = blockIdx;
    b.x %= avo_tiles();
    return b;
}
static __device__ __forceinline__ dim3 avo_grid_dim() {
    dim3 g = gridDim;
    g.x = avo_tiles();
    return g;
}
#undef blockIdx
#undef gridDim
#define blockIdx avo_block_idx()
#define gridDim avo_grid_dim()
"""
GRID = re.compile(r"(//[ \t]*avo:launch\b[^\n]*?\bgrid=\()")


def _slow_cuda(source: str, entry: str) -> str:
    if re.search(r"%n?ctaid", source):
        raise Failed("the CUDA seed reads %ctaid in PTX; the slowed seed remaps blockIdx only")
    includes = list(re.finditer(r"^[ \t]*#[ \t]*include\b[^\n]*\n", source, re.MULTILINE))
    at = includes[-1].end() if includes else 0
    source = source[:at] + CUDA_PROLOGUE + source[at:]
    kernel = re.search(rf"__global__\b[^;{{]*?\b{re.escape(entry)}\s*\(", source)
    grid = GRID.search(source)
    if kernel is None or grid is None:
        raise Failed(f"the CUDA seed has no `__global__ ... {entry}(` or no avo:launch grid=")
    body = source.index("{", _closing(source, kernel.end() - 1)) + 1
    source = source[:body] + "\n    if (avo_spare_copy()) return;" + source[body:]
    start = grid.end()
    end = _closing(source, start - 1, stop_at_comma=True)
    return f"{source[:start]}AVO_COPIES * ({source[start:end].strip()}){source[end:]}"


def _closing(text: str, opening: int, *, stop_at_comma: bool = False) -> int:
    """The index of the parenthesis closing the one at ``opening`` (or of the first comma at
    its level, with ``stop_at_comma``)."""
    depth = 0
    for i in range(opening, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
        elif text[i] == "," and depth == 1 and stop_at_comma:
            return i
    raise Failed("unbalanced parentheses in the seed kernel")


def work_factor(shares: int, toolchain: str) -> float:
    num, den = SHARE[toolchain]
    return (num / den) ** shares


# -- the scripted lanes: the fake Messages API's replies ----------------------------------------


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


# -- the session, read-only -------------------------------------------------------------------


def _draft_is_the_steps(s: Session, lane: int) -> bool:
    """Whether lane ``lane``'s conversation draft belongs to the step it has in hand: built on
    the base its state keeps (a version approved under every lane clears that base, and the
    lane's next step starts afresh)."""
    draft = s.draft(draft_name(lane))
    state = s.run_state.lanes.get(str(lane))
    return draft is not None and state is not None and bool(state.base) and (
        draft.get("head") == state.base)


@dataclass
class Snapshot:
    """What the session holds at one moment (read in one go)."""

    versions: list[dict[str, Any]]
    shares: dict[str, dict[int, int]]  # version or pending suspect -> each share's knob in it
    attempts: list[dict[str, Any]]
    flying: dict[int, dict[str, Any]]  # lane -> its candidate in flight
    suspects: dict[str, tuple[str, ...]]  # pending suspect -> its flags
    drafts: list[int]  # lanes with a conversation draft
    resumable: list[int]  # ... whose draft is its step's still: built on the lane's base
    steps: dict[int, int]  # lane -> its steps, every run of the session counted
    last_seq: int
    status: str
    head: str
    best: str

    @property
    def agent_versions(self) -> list[str]:
        return [v["id"] for v in self.versions if v["author"] == "agent"]

    def running(self) -> int:
        """Evaluations under way: candidates in flight, compiling or timed. On a GPU target
        holding a GPU is not asked for: on four H100s a first reading times for under a
        second, and in 5 runs of 6 no poll found two timed at once."""
        return len(self.flying)

    def out(self, ref: str) -> set[int]:
        """The shares of the slowdown a version (or a pending suspect) has taken out."""
        return {share for share, value in self.shares[ref].items() if value == 0}


def snapshot(directory: Path, lanes: int) -> Snapshot | None:
    """The session now; None while it does not exist yet (its seed is being scored)."""
    if not (directory / "session.json").exists():
        return None
    try:
        with Session.open(directory, writable=False) as s:
            state = s.run_state
            flying = {int(k): v.in_flight for k, v in state.lanes.items() if k.isdigit()}
            versions, suspects = list(s.lineage), s.suspects()
            shares = {v.id: knob_values("\n".join(s.read_files(v).values())) for v in versions}
            for suspect in suspects:
                files = s.attempt(suspect.attempt).files
                shares[suspect.attempt] = knob_values(
                    "\n".join(s.blobs.get_text(h) for h in files.values()))
            return Snapshot(
                versions=[v.to_doc() for v in versions],
                shares=shares,
                attempts=[s.attempt(f"a{n}").to_doc() for n in range(1, s.attempt_count + 1)],
                flying={k: f.to_doc() for k, f in sorted(flying.items()) if f is not None},
                suspects={x.attempt: tuple(x.flags) for x in suspects},
                drafts=[k for k in range(1, lanes + 1) if s.draft(draft_name(k)) is not None],
                resumable=[k for k in range(1, lanes + 1) if _draft_is_the_steps(s, k)],
                steps={int(k): v.steps for k, v in state.lanes.items() if k.isdigit()},
                last_seq=s.last_seq,
                status=state.status,
                head=s.version("head").id,
                best=(s.best() or s.version("head")).id,
            )
    except StoreError:
        return None  # being created, or a write caught half-way: read it again


def events_after(directory: Path, seq: int) -> list[tuple[int, str, dict[str, Any]]]:
    with Session.open(directory, writable=False) as s:
        return [(e.seq, e.kind, dict(e.data)) for e in s.events(after=seq)]


def approvable(now: Snapshot, approved: list[str]) -> str | None:
    """The held suspect to approve as the operator, if any: one flagged only as a jump over the
    best's stored score, that is the head with one more share out (the slowdown is real by
    construction; see the module's doc). One at a time (none while the last approval is still
    pending), each once."""
    if any(attempt in now.suspects for attempt in approved):
        return None
    head = now.out(now.head)
    for attempt, flags in now.suspects.items():
        if (attempt not in approved and flags and all(JUMP.match(flag) for flag in flags)
                and head < now.out(attempt) and len(now.out(attempt) - head) == 1):
            return attempt
    return None


# -- processes ----------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """The live processes under ``pid`` (Linux /proc; [] elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; its new parent may be slow to reap it


@dataclass
class Run:
    """One ``avo run`` process, its output in a log file."""

    command: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self.proc

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# -- the benchmark ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """Everything measured, for the report."""

    target: str
    lanes: int
    placement: str
    slowdown: str
    seconds: dict[str, float] = field(default_factory=dict)
    kill: dict[str, Any] = field(default_factory=dict)
    lineage: list[dict[str, Any]] = field(default_factory=list)
    per_lane: list[dict[str, Any]] = field(default_factory=list)
    interrupted: list[dict[str, Any]] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)  # suspects approved, as the operator
    stopped: list[int] = field(default_factory=list)  # lanes stopped once their share was out
    api: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def check(self, name: str, passed: bool, reason: str) -> None:
        self.checks[name] = bool(passed)
        if not passed:
            self.reasons[name] = reason

    @property
    def failed(self) -> str | None:
        return next((f"{name}: {why}" for name, why in self.reasons.items()), None)


@dataclass
class Killed:
    """What the kill left: the session as the dead run wrote it, what the agents were told,
    and the run's processes that outlived it."""

    session: Snapshot
    told: list[str]
    outlived: list[int]


KILLED = "killed.json"  # what the kill left, for a later phase (--phase resume)


def save_killed(workdir: Path, killed: Killed, seconds: dict[str, float]) -> None:
    (workdir / KILLED).write_text(json.dumps({
        "session": asdict(killed.session), "told": killed.told, "outlived": killed.outlived,
        "seconds": seconds}))


def load_killed(workdir: Path, seconds: dict[str, float]) -> Killed:
    """What an earlier phase's kill left (save_killed), its seconds added to ``seconds``."""
    try:
        saved = json.loads((workdir / KILLED).read_text())
    except (OSError, ValueError) as error:
        raise Failed(f"--phase resume: no run killed by an earlier phase in {workdir} "
                     f"({error}); start with --phase first") from None
    session = saved["session"]
    by_lane = ("flying", "steps")  # JSON keeps int keys as strings
    session.update({k: {int(lane): v for lane, v in session[k].items()} for k in by_lane})
    session["shares"] = {ref: {int(k): v for k, v in knobs.items()}
                         for ref, knobs in session["shares"].items()}
    seconds.update(saved["seconds"])
    return Killed(Snapshot(**session), saved["told"], saved["outlived"])


class Benchmark:
    def __init__(self, args: argparse.Namespace, target: TargetSpec, workdir: Path) -> None:
        self.target, self.workdir = target, workdir
        self.lanes, self.shares = args.lanes, args.shares
        self.operators: list[str] = args.operator.split(",")
        self.tuners = [k for k in range(1, self.lanes + 1) if self.operator_of(k) == "tuner"]
        # With tuner lanes, an agent lane's share is no knob, so a tuner cannot take it out.
        hidden = frozenset(share_of(k, self.shares) for k in range(1, self.lanes + 1)
                           if k not in self.tuners) if self.tuners else frozenset()
        self.phase, self.kill_after, self.stop_after = args.phase, args.kill_after, args.stop_after
        self.directory = workdir / "sessions" / NAME
        ((name, source),) = slowed_seed(target, self.shares, hidden).items()
        seed = workdir / "seed" / name
        seed.parent.mkdir(parents=True, exist_ok=True)
        seed.write_text(source)  # the same on a later phase's start
        settings = workdir / "settings.toml"
        settings.write_text(SETTINGS)
        self.api = FakeApi(Script(name, self.shares, hidden))
        self.env = dict(os.environ, AVO_SETTINGS=str(settings), ANTHROPIC_API_KEY=API_KEY,
                        PYTHONPATH=os.pathsep.join(
                            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        placement = (["--ray", args.ray] if args.ray
                     else ["--gpus", args.gpus] if target.device == "cuda"
                     else ["--workers", str(args.workers)])
        self.avo = [sys.executable, "-m", "avo_tui", "--sessions-dir", str(self.directory.parent)]
        hours = ["--hours", f"{args.minutes / 60:.6f}"] if args.minutes else []
        self.command = [*self.avo, "run", "--session", NAME, "--target", target.ref, "--lanes",
                        str(self.lanes), "--operator", args.operator, "--headless", "--quick",
                        "--seed", str(seed), "--max-steps", str(args.max_steps), *hours,
                        *placement]
        num, den = SHARE[target.toolchain]
        self.outcome = Outcome(
            target.name, self.lanes, " ".join(placement),
            f"{self.shares} shares of {num}/{den} (lane K owns share (K - 1) % {self.shares} + "
            f"1); the seed does {work_factor(self.shares, target.toolchain):.2f}x the shipped "
            "seed's work")
        self.deadline = time.monotonic() + args.timeout
        self.api.hold_s = args.timeout

    def operator_of(self, lane: int) -> str:
        return self.operators[(lane - 1) % len(self.operators)]

    def run(self) -> Outcome | None:
        """Every phase in this process (``all``), or one of them: None after ``first`` and
        after a ``resume`` stopped by --stop-after, whose state the next phase reads."""
        seconds, began = self.outcome.seconds, time.monotonic()
        with self.api.serving() as url:
            self.env["ANTHROPIC_BASE_URL"] = url
            if self.phase in ("all", "first"):
                progress(f"run 1: {self.lanes} lanes ({', '.join(self.operators)}) on "
                         f"{self.target.name} ({self.outcome.placement}); the seed is scored "
                         "twice first")
                first = Run(self.command, self.env, self.workdir / "run-1.log")
                try:
                    killed = self.kill_when_parallel(first, first.start())
                finally:
                    first.stop()
                seconds["to_kill"] = round(time.monotonic() - began, 1)
                if self.phase == "first":
                    save_killed(self.workdir, killed, seconds)
                    progress(f"phase first done: the session and what the kill left are in "
                             f"{self.workdir}; go on with --phase resume --dir {self.workdir}")
                    return None
            else:
                killed = load_killed(self.workdir, seconds)
                self.api.open_every_lane()
            runs = len(list(self.workdir.glob("run-*.log")))
            progress(f"run {runs + 1}: the same command, a resume")
            resumed = Run(self.command, self.env, self.workdir / f"run-{runs + 1}.log")
            found = snapshot(self.directory, self.lanes)
            if found is None:
                raise Failed("the session cannot be read before the resume")
            try:
                code = self.watch(resumed, resumed.start(), found)
            finally:
                resumed.stop()
            seconds[f"run_{runs + 1}"] = round(time.monotonic() - began, 1)
            _, requests = self.api.seen()
            if code is None:  # stopped by --stop-after: the next phase goes on
                save_killed(self.workdir, killed, seconds)
                progress(f"run {runs + 1} stopped after --stop-after; go on with --phase "
                         f"resume --dir {self.workdir}")
                return None
        seconds["total"] = round(time.monotonic() - began, 1)
        after = snapshot(self.directory, self.lanes)
        if after is None:
            raise Failed("the session cannot be read after the resume")
        self.outcome.api = {"requests": sum(requests.values()),
                            "per_lane": {str(k): v for k, v in sorted(requests.items())}}
        self.verify(killed, after, events_after(self.directory, 0))
        self.outcome.check("resume_finished", code == 0 and not after.flying
                           and after.status in ("finished", "stopped"),
                           f"exit {code}, status {after.status}, in flight "
                           f"{sorted(after.flying)}:\n{resumed.tail()}")
        return self.outcome

    def kill_when_parallel(self, run: Run, proc: subprocess.Popen[bytes]) -> Killed:
        """Watch the session until a version is committed while >= 2 evaluations are in
        flight, then kill -9 the run (its workers, in sessions of their own, are left to end by
        themselves, as they do when their parent dies)."""
        committed: list[str] = []
        started = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise Failed(f"run 1 ended (exit {proc.returncode}) before a commit met two "
                             f"evaluations in flight:\n{run.tail()}")
            if time.monotonic() > self.deadline:
                raise Failed("--timeout passed before a commit met two evaluations in flight")
            if len(self.api.holding()) == self.lanes:
                raise Failed("every lane had its share out before a commit met two "
                             f"evaluations in flight:\n{run.tail()}")
            now = snapshot(self.directory, self.lanes)
            if now is not None and time.monotonic() - started >= self.kill_after:
                if now.agent_versions != committed:
                    committed = now.agent_versions
                    progress(f"run 1: committed {', '.join(committed)}")
                if committed and now.running() >= 2 and self.still_parallel(proc):
                    break
                self.approve_jumps(now)
            time.sleep(POLL_S)
        workers = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        self.api.release()  # the killed run's held requests: nobody waits for them now
        self.api.open_every_lane()
        told, _ = self.api.seen()
        at_kill = snapshot(self.directory, self.lanes)
        if at_kill is None:
            raise Failed("the session cannot be read after the kill")
        progress(f"killed run 1 (-9) with {len(at_kill.flying)} candidates in flight (lanes "
                 f"{', '.join(map(str, at_kill.flying)) or 'none'}) and "
                 f"{', '.join(at_kill.agent_versions)} committed")
        return Killed(at_kill, [version for _, version in told], self.outlived(workers))

    def still_parallel(self, proc: subprocess.Popen[bytes]) -> bool:
        """Stop the run (SIGSTOP) and read its session again: True, the run left stopped, where
        a commit and >= 2 evaluations are still in flight, so the kill that follows finds them
        as read; else the run goes on. On four H200s an evaluation can end within a poll: the
        watch, killing on what it had read, left 1 in flight in 1 run of 5, and waiting for
        the same two at two polls found none in 3 runs of 10."""
        os.kill(proc.pid, signal.SIGSTOP)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)  # stopped once it returns, not when sent
        if not os.WIFSTOPPED(status):  # it ended first: the watch's next poll says so
            proc.returncode = os.waitstatus_to_exitcode(status)
            return False
        now = snapshot(self.directory, self.lanes)
        if now is not None and now.agent_versions and now.running() >= 2:
            return True
        os.kill(proc.pid, signal.SIGCONT)
        return False

    def outlived(self, workers: list[int]) -> list[int]:
        """The killed run's processes still alive after WORKERS_EXIT_S (then ended here)."""
        deadline = time.monotonic() + WORKERS_EXIT_S
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        left = [p for p in workers if alive(p)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        return left

    def watch(self, run: Run, proc: subprocess.Popen[bytes], before: Snapshot) -> int | None:
        """Wait for the resumed run to end, approving the suspects it holds (approve_jumps)
        and stopping each agent lane once it has taken a step in this run and its share is out
        of the head (it has nothing left to do; a stop sent before the kill would have waited
        in the inbox and ended the lane before it resumed); tuner lanes search on. After
        --stop-after seconds the whole run is stopped, as its operator would, and None is
        returned: a later phase resumes it. ``before`` is the session as this run found it
        (the kill's; after a stop, the stopped run's)."""
        stopped, began = self.outcome.stopped, time.monotonic()
        while proc.poll() is None:
            if time.monotonic() > self.deadline:
                raise Failed(f"the resumed run had not ended by --timeout:\n{run.tail()}")
            if self.stop_after and time.monotonic() - began >= self.stop_after:
                self.stop_whole(run, proc)
                return None
            now = snapshot(self.directory, self.lanes)
            if now is not None:
                self.approve_jumps(now)
                holding = self.api.holding()
                for lane in range(1, self.lanes + 1):
                    if (lane not in stopped and lane not in self.tuners
                            and share_of(lane, self.shares) in now.out(now.head)
                            and (lane in holding
                                 or now.steps.get(lane, 0) > before.steps.get(lane, 0))):
                        if not self.send("--lane", str(lane), "stop", run_ended=proc):
                            break  # the run ended on its own meanwhile: nothing to stop
                        stopped.append(lane)
                        self.api.release([lane])
            time.sleep(POLL_S)
        return proc.returncode

    def stop_whole(self, run: Run, proc: subprocess.Popen[bytes]) -> None:
        """``avo send stop`` to the run, its held agents let go, and its end awaited."""
        if self.send("stop", run_ended=proc):
            self.api.release()
        try:
            proc.wait(max(1.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Failed(f"the run had not stopped by --timeout:\n{run.tail()}") from None

    def send(self, *command: str, run_ended: subprocess.Popen[bytes] | None = None) -> bool:
        """``avo send`` a command to the run, as its operator; False where it was refused
        because the run (``run_ended``) ended between the look and the send."""
        done = subprocess.run([*self.avo, "send", NAME, *command], env=self.env, cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            if run_ended is not None and _ended(run_ended, POLL_S * 10):
                progress(f"not sent {' '.join(command)}: the run had ended")
                return False
            raise Failed(f"avo send {NAME} {' '.join(command)} failed: "
                         f"{(done.stderr or done.stdout).strip()}")
        progress(f"sent {' '.join(command)}")
        return True

    def approve_jumps(self, now: Snapshot) -> None:
        """As the operator: approve the suspect approvable() picks."""
        attempt = approvable(now, self.outcome.approved)
        if attempt is not None:
            self.send("approve", attempt)
            self.outcome.approved.append(attempt)

    # -- the checks (the module's doc lists them) ---------------------------------------------

    def verify(self, killed: Killed, after: Snapshot,
               events: list[tuple[int, str, dict[str, Any]]]) -> None:
        at_kill, out = killed.session, self.outcome
        out.kill = {
            "after_s": out.seconds.get("to_kill"),
            "in_flight": {str(k): {"base": f["base"], "gpu": f.get("gpu")}
                          for k, f in at_kill.flying.items()},
            "drafts": at_kill.drafts,
            "resumable_drafts": at_kill.resumable,
            "versions_in_store": at_kill.agent_versions,
            "versions_agents_were_told": killed.told,
            "workers_outlived": len(killed.outlived),
        }
        out.check("kill_during_parallel_evaluations", at_kill.running() >= 2,
                  f"the kill left {len(at_kill.flying)} candidates in flight")
        out.check("commit_acknowledged_before_kill", bool(at_kill.agent_versions),
                  "nothing was committed before the kill")
        self.check_kept(killed, after)
        approved = {data.get("version"): data.get("attempt") for _, kind, data in events
                    if kind == "suspect" and data.get("action") == "approved"}
        self.check_lineage(after, approved)
        self.check_interrupted(at_kill, after)
        self.check_lanes(at_kill, after, [(kind, data) for seq, kind, data in events
                                          if seq > at_kill.last_seq])
        out.check("no_orphaned_workers", not killed.outlived,
                  f"processes {killed.outlived} of the killed run outlived it by "
                  f"{WORKERS_EXIT_S:.0f} s")

    def check_kept(self, killed: Killed, after: Snapshot) -> None:
        at_kill, keys = killed.session, ("id", "files", "lane", "parent", "author")
        versions = {v["id"]: v for v in after.versions}
        lost = [v["id"] for v in at_kill.versions
                if {k: versions.get(v["id"], {}).get(k) for k in keys} != {k: v[k] for k in keys}]
        lost += [v for v in killed.told if v not in at_kill.agent_versions]
        self.outcome.check("acknowledged_versions_kept", not lost,
                           f"{', '.join(lost)} acknowledged before the kill, not kept as it was")
        kept = after.attempts[: len(at_kill.attempts)]
        changed = [a["id"] for a, b in zip(at_kill.attempts, kept, strict=False) if a != b]
        changed += [a["id"] for a in at_kill.attempts[len(kept):]]
        self.outcome.check("attempts_kept", not changed,
                           f"attempts {', '.join(changed)} changed or lost")

    def check_lineage(self, after: Snapshot, approved: dict[Any, Any]) -> None:
        """Ids without a gap or repeat, distinct kernels, each version decided once in its
        lane (by the gate, or as an approved suspect), each one share on the version before."""
        out = self.outcome
        ids = [v["id"] for v in after.versions]
        kernels = {json.dumps(v["files"], sort_keys=True) for v in after.versions}
        attempts = {a["id"]: a for a in after.attempts}
        strays = []
        for v in after.versions[1:]:
            deciding = [a["lane"] for a in after.attempts
                        if a["outcome"] == "committed" and a["version"] == v["id"]]
            if v["id"] in approved:
                deciding.append(attempts[approved[v["id"]]]["lane"])
            if deciding != [v["lane"]]:
                strays.append(v["id"])
        out.lineage = [{"id": v["id"], "parent": v["parent"], "lane": v["lane"],
                        "shares_out": sorted(after.out(v["id"])),
                        "approved": v["id"] in approved} for v in after.versions]
        out.check("lineage_whole", ids == [f"v{n}" for n in range(len(ids))]
                  and len(kernels) == len(ids) and not strays,
                  f"versions {ids}, {len(kernels)} distinct kernels; not decided exactly once "
                  f"in their lane: {strays}")
        apart = [new["id"] for old, new in zip(after.versions, after.versions[1:], strict=False)
                 if not self.builds_on(self.built_on(old, new), new, after)]
        out.check("versions_build_on_each_other", not apart,
                  f"{apart} are not the version they build on with one more share out, that of "
                  "their lane (the version before them; from a tuner lane, its parent, with its "
                  "share out or not)")

    def built_on(self, before: dict[str, Any], new: dict[str, Any]) -> str:
        """The version ``new`` builds on: the one before it for an agent lane's (the scripted
        agents merge their share onto the newest version, whatever their step started from);
        its parent for a tuner lane's, which starts from its island of the frontier
        (engine/lanes.py) and merges nothing."""
        return str(new["parent"] if new["lane"] in self.tuners and new["parent"] else before["id"])

    def builds_on(self, old: str, new: dict[str, Any], after: Snapshot) -> bool:
        """``new`` is ``old`` with its lane's share out; or, from a tuner lane, ``old``'s
        shares with other knobs turned (a tuner searches on once its share is out)."""
        mine, before, now = share_of(new["lane"] or 1, self.shares), after.out(old), \
            after.out(new["id"])
        if new["lane"] in self.tuners and now == before:
            return True
        return mine not in before and now == before | {mine}

    def check_interrupted(self, at_kill: Snapshot, after: Snapshot) -> None:
        written = {a["id"] for a in at_kill.attempts}
        interrupted = [a for a in after.attempts
                       if a["id"] not in written and a["outcome"] == "interrupted"]
        self.outcome.interrupted = [{"attempt": a["id"], "lane": a["lane"], "base": a["base"]}
                                    for a in interrupted]
        flying = at_kill.flying
        wrong = sorted(a["lane"] for a in interrupted) != sorted(flying) or any(
            (a["files"], a["base"]) != (flying[a["lane"]]["files"], flying[a["lane"]]["base"])
            for a in interrupted)
        self.outcome.check("interrupted_once_per_lane", not wrong,
                           f"in flight at the kill: lanes {sorted(flying)}; recorded "
                           f"interrupted: {[(a['id'], a['lane']) for a in interrupted]}")

    def check_lanes(self, at_kill: Snapshot, after: Snapshot,
                    events: list[tuple[str, dict[str, Any]]]) -> None:
        """Per lane, after the resume: its step taken up from its draft, its steps and
        attempts; and the commits of the whole run."""
        out = self.outcome
        written = {a["id"] for a in at_kill.attempts}
        resumed = {data.get("lane") for kind, data in events if kind == "step_resumed"}
        out.per_lane = [{
            "lane": lane,
            "in_flight_at_kill": lane in at_kill.flying,
            "draft_at_kill": lane in at_kill.drafts,
            "draft_resumable": lane in at_kill.resumable,
            "resumed_from_draft": lane in resumed,
            "steps_after": sum(1 for kind, data in events
                               if kind == "step" and data.get("lane") == lane),
            "attempts_after": sum(1 for a in after.attempts if a["id"] not in written
                                  and a["lane"] == lane and a["outcome"] != "interrupted"),
            "share": share_of(lane, self.shares),
            "commits": sum(1 for v in after.versions if v["lane"] == lane),
            "stopped": lane in out.stopped,
        } for lane in range(1, self.lanes + 1)]
        stuck = [r["lane"] for r in out.per_lane if r["steps_after"] < 1
                 or (r["draft_resumable"] and not r["resumed_from_draft"])]
        out.check("every_lane_resumed", not stuck,
                  f"lanes {stuck} did not resume their step from its draft, or completed no "
                  "step after the resume")
        committing = [r["lane"] for r in out.per_lane if r["commits"]]
        if self.tuners and self.shares == self.lanes:  # every lane has a share of its own
            out.check("commits_from_every_lane", len(committing) == self.lanes,
                      f"only lanes {committing} committed")
        else:
            out.check("commits_from_several_lanes", len(committing) >= 2,
                      f"only lanes {committing} committed")
        committed = sorted(share_of(new["lane"] or 1, self.shares) for old, new
                           in zip(after.versions, after.versions[1:], strict=False)
                           if after.out(new["id"]) != after.out(self.built_on(old, new)))
        # A share taken out twice was taken out on two lines of the lineage (a tuner's island
        # and the newest's): versions_build_on_each_other holds each to what it built on.
        out.check("every_share_done", sorted(set(committed)) == list(range(1, self.shares + 1))
                  and after.out(after.head) == set(committed),
                  f"shares committed {committed}, out of the head "
                  f"{sorted(after.out(after.head))}, of {self.shares}")


# -- the report ---------------------------------------------------------------------------------

LANE_COLUMNS = ("lane", "in_flight_at_kill", "draft_at_kill", "draft_resumable",
                "resumed_from_draft", "steps_after", "attempts_after", "share", "commits",
                "stopped")


def print_report(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        print_figures(asdict(outcome) | {"failed": outcome.failed}, as_json=True)
        return
    kill = outcome.kill
    print_figures({
        "target": f"{outcome.target}, {outcome.lanes} lanes, {outcome.placement}",
        "slowdown": outcome.slowdown,
        "wall_s": ", ".join(f"{k} {v}" for k, v in outcome.seconds.items()),
        "kill": f"{len(kill['in_flight'])} candidates in flight (lanes "
                f"{', '.join(kill['in_flight']) or '-'}), conversation drafts of lanes "
                f"{', '.join(map(str, kill['drafts'])) or '-'}",
        "acknowledged": f"in the store {', '.join(kill['versions_in_store']) or '-'}; the "
                        f"agents told {', '.join(kill['versions_agents_were_told']) or '-'}",
        "lineage": "  ".join(f"{v['id']}(L{v['lane']} on {v['parent']}, {len(v['shares_out'])} "
                             f"out{', approved' if v['approved'] else ''})" if v["parent"]
                             else v["id"] for v in outcome.lineage),
        "interrupted": ", ".join(f"{a['attempt']} (L{a['lane']})"
                                 for a in outcome.interrupted) or "-",
        "approved": ", ".join(outcome.approved) or "- (no suspect held)",
        "api_requests": f"{outcome.api['requests']} (" + ", ".join(
            f"lane {k}: {v}" if k != "0" else f"the supervisor's reviews: {v}"
            for k, v in outcome.api["per_lane"].items()) + ")",
    }, as_json=False)
    print("\n" + "  ".join(LANE_COLUMNS))
    for row in outcome.per_lane:
        print("  ".join(f"{_cell(row[c]):>{len(c)}}" for c in LANE_COLUMNS))
    print()
    for name, passed in outcome.checks.items():
        reason = "" if passed else f": {outcome.reasons[name].splitlines()[0]}"
        print(f"{'pass' if passed else 'FAIL'}  {name}{reason}")


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status 0 when every check passed, 1 otherwise (the reason in one line).")
    parser.add_argument("--target", default="mha",
                        help="mha (default; needs NVIDIA GPUs), another GPU target, or "
                        "cpu-attention")
    parser.add_argument("--lanes", type=int, default=4, help="lanes (default 4)")
    parser.add_argument("--operator", default="agent", metavar="agent|agent,...,tuner",
                        help="the lanes' operators, taking the lanes in turn as avo run's "
                        "--operator does (default agent). With tuner lanes, an agent lane's "
                        "share is a plain macro no tuner sees, and a tuner lane's a knob it "
                        "finds by itself: with one tuner lane, every lane has a share to "
                        "commit (agent,agent,agent,tuner)")
    parser.add_argument("--minutes", type=float,
                        help="run the session this long, every run counted (avo run --hours): "
                        "agent lanes are stopped once their share is out, tuner lanes search "
                        "on (default: until every lane is done)")
    parser.add_argument("--phase", choices=("all", "first", "resume"), default="all",
                        help="split the benchmark over processes, e.g. one device call each "
                        "(needs --dir, the same each time): first runs until the kill; resume "
                        "resumes and runs to the end and checks, or with --stop-after stops "
                        "the run, for another resume (default all: both in this process)")
    parser.add_argument("--kill-after", type=float, default=0.0, metavar="S",
                        help="kill the first run no sooner than S seconds after it starts")
    parser.add_argument("--stop-after", type=float, default=0.0, metavar="S",
                        help="--phase resume: stop the run after S seconds (avo send stop)")
    parser.add_argument("--shares", type=int, metavar="N",
                        help="slowdown knobs, each a lane's to take out (default: one per lane "
                        f"on a GPU target, {CPU_SHARES} on the CPU target, where the seed does "
                        f"(5/2)^N its work); 2 to {MAX_SHARES}, at most --lanes")
    parser.add_argument("--gpus", default="all",
                        help="GPU targets: the GPUs to evaluate on, 'all' or e.g. 0,1 (default "
                        "all; at least two)")
    parser.add_argument("--workers", type=int, default=2,
                        help="cpu-attention: CPU worker processes (default 2; at least two)")
    parser.add_argument("--ray", metavar="auto|ADDRESS",
                        help="evaluate in the actors of this Ray cluster, one per GPU (auto: the "
                        "one this machine joined with `ray start --head`), instead of --gpus")
    parser.add_argument("--max-steps", type=int, metavar="N",
                        help="each run's step budget, every lane's steps counted (default: 3 "
                        "per lane)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"give up after S seconds in all (default {DEFAULT_TIMEOUT_S:.0f})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--dir", type=Path, help="where to build the session (default: temp)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the session and the runs' logs (kept anyway on a failure)")
    args = parser.parse_args(argv)
    if args.lanes < 2:
        parser.error("--lanes must be at least 2")
    if args.shares is not None and not 2 <= args.shares <= min(args.lanes, MAX_SHARES):
        parser.error(f"--shares must be from 2 to {MAX_SHARES}, and at most --lanes")
    operators = args.operator.split(",")
    if not set(operators) <= {"agent", "tuner"} or "agent" not in operators:
        parser.error("--operator takes agent and tuner, comma-separated, agent at least once")
    if args.phase != "all" and args.dir is None:
        parser.error("--phase first and resume need --dir (the same each time)")
    if args.stop_after and args.phase != "resume":
        parser.error("--stop-after is for --phase resume")
    if args.minutes is not None and args.minutes <= 0:
        parser.error("--minutes must be positive")
    # a run of --minutes ends at its time budget, not at a count of steps
    args.max_steps = args.max_steps or (10**6 if args.minutes else 3 * args.lanes)
    if args.max_steps < args.lanes:
        parser.error("--max-steps must give every lane a step (at least --lanes)")
    return args


def check_placement(args: argparse.Namespace) -> TargetSpec:
    """The target, where two evaluations can run at once: two GPUs, or two CPU workers."""
    try:
        target = get_target(args.target)
    except UnknownTarget as error:
        raise Failed(str(error)) from None
    if target.device == "cpu":
        if args.workers < 2:
            raise Failed("--workers must be at least 2: two evaluations in flight at once")
        args.shares = args.shares or min(args.lanes, CPU_SHARES)
        return target
    args.shares = args.shares or min(args.lanes, MAX_SHARES)
    if args.ray:  # the cluster's GPUs, counted by the run itself
        return target
    try:
        gpus = resolve_gpus(args.gpus)
    except GpuSpecError as error:
        raise Failed(f"{error}; {target.name} needs NVIDIA GPUs (or --target cpu-attention "
                     "--workers 2)") from None
    if len(gpus) < 2:
        raise Failed(f"--gpus {args.gpus} is one GPU; two evaluations in flight at once need "
                     "two")
    return target


def fail(reason: str) -> int:
    """Say why in one line, the last on stderr (details, such as a run's last lines, before)."""
    first, *details = reason.splitlines()
    for line in details:
        print(f"  {line}", file=sys.stderr)
    print(f"lanes_run: FAILED: {first}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        target = check_placement(args)
    except Failed as error:
        print(f"lanes_run: {error}", file=sys.stderr)
        return 1
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    # phases share one folder, named by --dir; a whole run gets a fresh one in it
    workdir = (args.dir if args.phase != "all"
               else Path(tempfile.mkdtemp(prefix="avo-lanes-run-", dir=args.dir)))
    outcome: Outcome | None = None
    try:
        outcome = Benchmark(args, target, workdir).run()
    except Failed as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail("interrupted (Ctrl-C)")
    finally:
        if args.phase != "all":
            pass  # --dir is the caller's, and a later phase reads it
        elif args.keep or outcome is None or outcome.failed:
            progress(f"the session and the runs' logs are kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if outcome is None:
        return 0  # a phase that a later one goes on from
    print_report(outcome, args.json)
    if outcome.failed:
        return fail(outcome.failed)
    progress("every check passed")
    return 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ended(proc: subprocess.Popen[bytes], within_s: float) -> bool:
    """Whether ``proc`` has ended, or ends within ``within_s`` seconds."""
    try:
        proc.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        return False
    return True


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupted)
    sys.exit(main())
