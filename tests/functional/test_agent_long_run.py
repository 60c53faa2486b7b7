"""200 steps of the agent, end to end: the real Engine with the agent operator, the real
anthropic SDK speaking HTTP to the loopback fake of the Messages API, a real TinyDB session on
cpu-attention and the real CPU worker. (test_agent_memory.py drives the memory layer alone for
200 steps; test_agent_memory_run.py checks a few steps in detail.)

In each step the scripted model leaves its trace as the real agent does, through its tools and
its debrief: it keeps a note, marks the kernel with a comment, evaluates it with an idea (the
direction it tries, which the harness keeps in the ledger), ends its turn, and answers the
debrief with its lesson and a direction to try next. A comment changes no compiled code, so
most of these evaluations compile the candidate (from the compile cache after the first), find
it is the best's own kernel and time nothing; every 50th step also sets a knob, and that
evaluation checks and times a new kernel (step 200's is step 50's: it is named, not timed).
Step 200 asks search_history about the idea each earlier step tried.

Everything asserted is read from the requests the fake server received, as the model read
them: step k's lesson leads the research log of step k+1's brief, every brief is within the
brief's budget, and at step 200 the ledger holds every direction tried (the brief counts them)
and search_history shows each earlier step's lesson whole; the session keeps all 200.

Measured on the shared 2-core machine under a load of about 3.5 (other test runs): the 200
steps took 71 s, about 80 s with the seeded session's setup.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from agent_helpers import EDITOR, KERNEL, edit, make_agent
from engine_helpers import start
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use

from avo_tui.engine import Budgets
from avo_tui.evaluation import Worker
from avo_tui.operators.agent import brief, history, ledger
from avo_tui.operators.agent.settings import AgentSettings
from avo_tui.store import Outcome, Session

pytestmark = pytest.mark.slow  # about 80 s on two loaded cores: CI runs it

STEPS = 200
STEP = re.compile(r"# Step brief \(step (\d+)\)")
UNROLL = "#define UNROLL 4        // avo:knob 1 2 4 8"
TIMED = {50: 1, 100: 2, 150: 8, 200: 1}  # the steps that set UNROLL (to this) before evaluating
# Step 200 says how it differs: were step 50's reading slower than the best (it is, on a loaded
# machine), its direction would be failed, and a plain repeat answered without an evaluation.
DIFFERS = "the setting step 50 tried, asked again"
# The steps issue 54 sampled (search found 7 of them when it searched the newest memory only).
SAMPLED = (1, 2, 3, 5, 10, 20, 30, 40, 50, 75, 100, 125, 150, 169, 170, 180, 190, 198, 199)
RESEARCH = "## Research log (newest last)\n"
# Each a concept of its own to repeats.py (setmaxnreg is registers: never both).
TECHNIQUES = ("block_n", "block_m", "stages", "swizzle", "pingpong", "occupancy", "tma",
              "multicast", "exp2", "ffma", "rescale", "persistent", "lpt", "causal", "tail",
              "epilogue", "registers", "warpgroup", "barrier", "mbarrier", "cluster",
              "prefetch", "unroll", "layout", "transpose", "split", "fence", "overlap")


class Ideas:
    """Each step's idea and the direction its debrief proposes: a mark and three techniques no
    other one names together, so no two are one direction (repeats.py)."""

    def __init__(self) -> None:
        self.draws = random.Random(39)
        self.used: set[frozenset[str]] = set()
        self.tried = {step: self._new(f"d{step}") for step in range(1, STEPS + 1)}
        self.pending = {step: self._new(f"p{step}") for step in range(1, STEPS + 1)}

    def _new(self, mark: str) -> str:
        while (chosen := frozenset(self.draws.sample(TECHNIQUES, 3))) in self.used:
            pass
        self.used.add(chosen)
        return f"{mark} " + " ".join(sorted(chosen))


def lesson(step: int) -> str:
    return f"Lesson {step}: the reading of step {step} moved nothing, so look elsewhere."


def scripted(ideas: Ideas, briefs: dict[int, str], found: list[str]
             ) -> Callable[[Recorded], Step]:
    """The model, turn by turn: a turn of tools, a short end, the debrief's answer; a plain
    answer to the supervisor's review when the stall detector fires."""
    current = [0]

    def turn(request: Recorded) -> Step:
        texts = request.texts()
        last = texts[-1] if texts else ""
        if last.startswith("The stall detector fired"):
            return reply(text("Nothing new to propose."))
        if "The step has ended" in last:
            step = current[0]
            return reply(text(f"<lesson>{lesson(step)}</lesson><summary>Summary after step "
                              f"{step}.</summary><next>{ideas.pending[step]}</next>"))
        opened = STEP.search(texts[0]) if len(texts) == 1 else None
        if opened:
            step = current[0] = int(opened.group(1))
            briefs[step] = texts[0]
            calls = [tool_use("note", {"text": f"note of step {step}"}),
                     tool_use(EDITOR, {"command": "insert", "path": KERNEL, "insert_line": 0,
                                       "insert_text": "// see the notes\n"})]
            if step in TIMED:
                setting = UNROLL.replace("UNROLL 4", f"UNROLL {TIMED[step]}")
                calls.append(tool_use(*edit(UNROLL, setting)))
            asked = {"idea": ideas.tried[step]}
            if step == STEPS:  # step 50's setting again: evaluated whatever step 50 measured
                asked["differs"] = DIFFERS
            calls.append(tool_use("evaluate", asked))
            if step == STEPS:
                calls += [tool_use("search_history", {"query": ideas.tried[k], "limit": 1})
                          for k in range(1, STEPS)]
            return reply(*calls)
        if current[0] == STEPS:
            found[:] = [str(block["content"]) for block in request.tool_results()]
        return reply(text("Nothing more to try in this step."))

    return turn


def research_log(text: str) -> str:
    return text[text.index(RESEARCH):].split("\n\n")[0] if RESEARCH in text else ""


def test_two_hundred_steps_through_the_sdk_keep_every_lesson_and_direction_in_budget(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    ideas = Ideas()
    briefs: dict[int, str] = {}
    found: list[str] = []
    fake.script(*[scripted(ideas, briefs, found)] * (4 * STEPS + 100))
    live = start(session, worker, operator=make_agent(knowledge, debrief=True),
                 budgets=Budgets(max_steps=STEPS, max_cost_usd=1_000.0))
    live.finish(1_200)
    assert sorted(briefs) == list(range(1, STEPS + 1))

    # Every step's lesson reaches the next step's brief, first in its newest research record.
    for step in range(2, STEPS + 1):
        shown = research_log(briefs[step])
        newest = re.compile(rf"step {step - 1} from v\d+: [^\n]*\n  lesson: "
                            + re.escape(lesson(step - 1)))
        assert newest.search(shown), f"step {step - 1}'s lesson is not in the next brief:\n" \
            + briefs[step]

    # Every brief, as the model received it, is within the brief's budget.
    budget = brief.budget_chars(AgentSettings.context_window)
    sizes = {step: len(text) for step, text in briefs.items()}
    assert max(sizes.values()) <= budget, sorted(sizes.items(), key=lambda s: -s[1])[:5]

    # At step 200 the ledger holds every direction the 199 steps before tried ...
    heading = briefs[STEPS][briefs[STEPS].index("## Ledger of directions ("):].split("\n")[0]
    counted = {status: int(n) for n, status in re.findall(r"(\d+) (\w+)", heading.split(";")[0])}
    assert sum(n for s, n in counted.items() if s != "pending") == STEPS - 1, heading
    assert counted["pending"] == STEPS - 1, heading
    # ... and search_history, asked about each one's idea, shows the lesson of the step that
    # tried it, whole, with its step and the version it started from, from the journal (it
    # found 7 of the 19 steps issue 54 sampled when it searched the newest memory only).
    hits = found[-(STEPS - 1):]
    assert len(hits) == STEPS - 1
    for step, hit in enumerate(hits, 1):
        assert ideas.tried[step] in hit and f"step {step} from v" in hit, (step, hit)
        assert lesson(step) in hit and len(hit) <= history.MAX_RESULT_CHARS, (step, hit)
    assert all(lesson(step) in hits[step - 1] for step in SAMPLED)

    # After the run the session keeps all 200, each tried once, and every pending one; but
    # step 200 sets the knob step 50 set, read from its diff (changes.py): one experiment
    # whatever its words, it joins step 50's direction.
    held = ledger.stored(session.state["operator_memory"])
    tried = {d.idea: d for d in held if d.status != "pending"}
    assert set(tried) == set(ideas.tried.values()) - {ideas.tried[STEPS]}
    assert tried[ideas.tried[50]].tries == 2
    assert all(d.tries == 1 for i, d in tried.items() if i != ideas.tried[50])
    # A direction whose candidate was not timed (the best's own kernel) is tried, not failed,
    # and no record reads a timing into it (it read "geomean -100.0%" and failed every one).
    assert all(tried[ideas.tried[step]].status == "tried"
               for step in range(1, STEPS + 1) if step not in TIMED)
    assert not any("-100.0%" in text for text in briefs.values())
    assert {d.idea for d in held if d.status == "pending"} == set(ideas.pending.values())

    # Most evaluations timed nothing; those of the steps that set a knob checked and timed,
    # but step 200's kernel is step 50's: it is named, not timed again.
    attempts = list(reversed(session.recent_attempts(2 * STEPS)))
    outcomes = [a.outcome for a in attempts]
    assert len(outcomes) == STEPS
    assert outcomes.count(Outcome.UNCHANGED) == STEPS - len(TIMED) + 1
    assert all(o in (Outcome.PROMISING, Outcome.INCONCLUSIVE, Outcome.WITHIN_NOISE,
                     Outcome.SLOWER)
               for o in outcomes if o != Outcome.UNCHANGED), outcomes
    assert attempts[-1].detail.startswith(f"identical to {attempts[49].id} ("), attempts[-1]
    assert all(a.score is None for a in attempts if a.outcome == Outcome.UNCHANGED)
