#!/usr/bin/env python3
"""How fast the agent's search_history answers over a long session (issue 54).

    python benchmarks/history_search.py                 # 2,000 steps
    python benchmarks/history_search.py --steps 200 --events 10 --json

A session is built through the store as an agent's run builds it: per step ``--events``
tool-call events, ``--attempts`` attempts with an idea and a reason, and the step's research
record in the journal (a 400-character lesson, the running summary of about 2,000
characters, a note), the ledger of directions kept in the operator's memory. Then, on the
session opened again: the first search (it reads the whole journal), the searches for 19
sampled steps' ideas (each must show that step's lesson whole, within the turn's budget), and
a search after one more step (it reads only what the step added). The agent brings the
index up to date at each step's start, so a search in a run pays only for what its own step
added; the whole journal is read once per process.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common.figures import print_figures

from avo_tui.operators.agent import history, ledger, research
from avo_tui.store import Outcome, Session
from avo_tui.store.view import SessionView

FILES = {"attention.c": "int tile = 64;\n"}
WORDS = ("block_n", "block_m", "stages", "swizzle", "pingpong", "setmaxnreg", "tma", "multicast",
         "exp2", "ffma", "rescale", "persistent", "lpt", "causal", "tail", "epilogue",
         "registers", "warpgroup", "barrier", "mbarrier", "cluster", "prefetch", "unroll",
         "layout", "transpose", "split", "fence", "overlap", "spills", "occupancy")
SAMPLED = (1, 2, 3, 5, 10, 20, 30, 40, 50, 75, 100, 125, 150, 169, 170, 180, 190, 198, 199)


def lesson(step: int, draws: random.Random) -> str:
    return (f"Lesson {step}: " + " ".join(draws.choices(WORDS, k=60)))[:400]


def add_step(session: Session, memory: dict[str, Any], step: int, draws: random.Random,
             events: int, attempts: int) -> tuple[str, str]:
    """One step's trace in the journal; returns its first idea and its lesson."""
    for k in range(events):
        session.append_event("tool_call", tool="evaluate", input=f"step {step} call {k}")
    log = research.StepLog("v0")
    for n in range(attempts):
        idea = f"d{step}n{n} " + " ".join(draws.sample(WORDS, 3))
        outcome = draws.choice((Outcome.SLOWER, Outcome.WITHIN_NOISE, "incorrect"))
        log.add(idea, session.record_attempt(FILES, base="v0", author="agent", outcome=outcome,
                                             idea=idea, detail=f"{outcome}: geomean -1.2%"))
    taught = lesson(step, draws)
    record = research.record(log, step=step, outcome="no commit", files=FILES,
                             base_files=FILES, base_score=None, final="stopped", lesson=taught,
                             summary="Summary: " + " ".join(draws.choices(WORDS, k=250)),
                             notes=(f"note of step {step}: " + " ".join(draws.choices(WORDS,
                                                                                      k=30)),))
    session.append(record)
    memory["ledger"] = [d.to_doc() for d in ledger.record_step(
        ledger.stored(memory), log.tried, step=step, lesson=taught)]
    return log.tried[0][0], taught


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=20, help="tool-call events per step")
    parser.add_argument("--attempts", type=int, default=3, help="attempts per step")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    draws = random.Random(54)
    memory: dict[str, Any] = {}
    ideas: dict[int, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s"
        started = time.perf_counter()
        with Session.create(path, target="cpu-attention", operator="agent", seed_files=FILES,
                            sync=False) as session:
            for step in range(1, args.steps + 1):
                ideas[step] = add_step(session, memory, step, draws, args.events, args.attempts)
        built = time.perf_counter() - started
        with Session.open(path) as session:
            view, index = SessionView(session), history.HistoryIndex()
            t = time.perf_counter()
            index.refresh(view)
            first = time.perf_counter() - t
            sampled = [s for s in SAMPLED if s <= args.steps]
            times, sizes, found = [], [], 0
            for step in sampled:
                idea, taught = ideas[step]
                t = time.perf_counter()
                text = history.answer(index.search(view, memory, idea, 10), idea)
                times.append(time.perf_counter() - t)
                sizes.append(len(text))
                found += f"step {step} from v0: no commit\n  lesson: {taught}\n" in text
            step = args.steps + 1
            idea, taught = add_step(session, memory, step, draws, args.events, args.attempts)
            t = time.perf_counter()
            text = history.answer(index.search(view, memory, idea, 10), idea)
            after = time.perf_counter() - t
            assert taught in text, text
            entries = len(index.entries)
            journal = session.last_seq
    print_figures(dict([
        ("steps (events in the journal, attempts)",
         f"{args.steps:,} ({journal:,}, {args.steps * args.attempts:,})"),
        ("entries indexed (records, summaries, notes, attempts)", f"{entries:,}"),
        ("building the session through the store", f"{built:.1f} s"),
        ("the index built on the opened session (the whole journal, once per process, at "
         "a step's start)", f"{first:.3f} s"),
        ("search for a sampled step's idea: median / max",
         f"{statistics.median(times) * 1000:.1f} / {max(times) * 1000:.1f} ms"),
        ("sampled steps whose lesson the search showed whole", f"{found} of {len(sampled)}"),
        ("largest answer (budget)", f"{max(sizes):,} ({history.MAX_RESULT_CHARS:,}) characters"),
        ("a search after one more step (reads only the step's events)",
         f"{after * 1000:.1f} ms"),
    ]), as_json=args.json)


if __name__ == "__main__":
    main()
