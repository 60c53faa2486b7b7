"""The agent's memory through a long run: 200 steps of the research layer (records, the
ledger of directions, notes, the running summary) on a real session, each step's record
made by research.record from real attempts and kept through the operator's memory as the
agent keeps it, and each next brief rendered from it. Every step's lesson reaches the next
brief, the ledger still holds every direction tried, and the brief stays within its budget.

The end-to-end run through the real SDK and the loopback API is in test_agent_memory_run.py;
200 real steps would take minutes on two cores, so this drives the layer below the conversation.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from agent_context import StandIn

from avo_tui.evaluation import get_target
from avo_tui.knowledge import KnowledgeBase
from avo_tui.operators.agent import brief, history, ledger, research
from avo_tui.operators.agent.notes import kept_notes, stored_notes
from avo_tui.operators.agent.outline import outline
from avo_tui.operators.agent.tools import Toolbox
from avo_tui.operators.agent.workspace import Workspace
from avo_tui.operators.protocol import Spending, StepContext
from avo_tui.store import Outcome, ResearchPayload, Score, Session
from avo_tui.store.view import SessionView

ROOT = Path(__file__).parents[2]
STEPS = 200
# The steps issue 54 sampled (search found 7 of them before the journal was its source).
SAMPLED = (1, 2, 3, 5, 10, 20, 30, 40, 50, 75, 100, 125, 150, 169, 170, 180, 190, 198, 199)
# Each a concept of its own to repeats.py (setmaxnreg is registers: never both).
TECHNIQUES = ("BLOCK_N", "BLOCK_M", "stages", "swizzle", "ping-pong", "occupancy", "TMA",
              "multicast", "exp2", "FFMA", "rescale", "persistent", "LPT", "causal", "tail",
              "epilogue", "registers", "warpgroup", "barrier", "mbarrier", "cluster",
              "prefetch", "unroll", "layout", "transpose", "split", "fence", "overlap")
OUTCOMES = (Outcome.SLOWER, Outcome.WITHIN_NOISE, "incorrect", "compile_error",
            Outcome.PROMISING)
FILES = {"attention.c": "int tile = 64;\n"}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session.create(tmp_path / "s", target="cpu-attention", operator="agent",
                        seed_files=FILES, sync=False) as s:
        yield s


def idea_of(mark: str, draws: random.Random, used: set[frozenset[str]]) -> str:
    """A new idea, in words an agent might use, marked so the test can find it again: three
    techniques no earlier idea named together (one that did would be the same direction)."""
    while (chosen := frozenset(draws.sample(TECHNIQUES, 3))) in used:
        pass
    used.add(chosen)
    return f"{mark}: " + " ".join(sorted(chosen))


def lesson_of(step: int, draws: random.Random) -> str:
    return (f"Lesson of step {step}: " + " ".join(draws.choices(TECHNIQUES, k=40)))[:500]


def keep(ctx: StandIn, record: ResearchPayload, tried: list[tuple[str, Any]], step: int,
         debrief: research.Debrief, committed: str | None) -> None:
    """What the agent's _keep_research does with the memory at a step's end."""

    def change(memory: dict[str, Any]) -> dict[str, Any]:
        directions = ledger.record_step(ledger.stored(memory), tried, step=step,
                                        lesson=debrief.lesson, committed=committed,
                                        pending=debrief.pending)
        kept: dict[str, Any] = {"research": research.kept_records(memory, record),
                                "ledger": [d.to_doc() for d in directions]}
        if debrief.summary:
            kept["summary"] = debrief.summary
        return kept

    ctx.update_memory(change)


def test_two_hundred_steps_keep_every_lesson_and_direction_within_the_budget(
    session: Session,
) -> None:
    draws = random.Random(39)
    ctx = StandIn(SessionView(session), spent=Spending(cost_usd=12.5, max_cost_usd=500))
    budget = brief.budget_chars(200_000)
    ideas: list[str] = []  # every distinct idea tried, in order
    used: set[frozenset[str]] = set()
    lessons: dict[int, str] = {}
    first_idea: dict[int, str] = {}
    for step in range(1, STEPS + 1):
        ctx.step_number = step
        tried = []
        for number in range(draws.randint(1, 3)):
            # Every seventh step repeats an earlier idea, as an agent that forgets would.
            repeat = step % 7 == 0 and number == 0 and ideas
            idea = (draws.choice(ideas) + ", measured again") if repeat else idea_of(
                f"d{step}n{number}", draws, used)
            if not repeat:
                ideas.append(idea)
            outcome = draws.choice(OUTCOMES)
            attempt = session.record_attempt(
                FILES, base="v0", author="agent", outcome=outcome, idea=idea,
                detail=f"{outcome}: geomean {draws.uniform(-5, 2):+.1f}%",
                score=Score(1.0, {"a": 1.0}) if outcome == Outcome.PROMISING else None)
            tried.append((idea, attempt))
        log = research.StepLog("v0")
        for idea, attempt in tried:
            log.add(idea, attempt)
        lesson = lesson_of(step, draws)
        summary = "Summary: " + " ".join(draws.choices(TECHNIQUES, k=600))
        debrief = research.parse_debrief(
            f"<lesson>{lesson}</lesson><summary>{summary}</summary>"
            f"<next>{idea_of(f'p{step}', draws, used)}</next>")
        record = research.record(log, step=step, outcome="no commit", files=FILES,
                                 base_files=FILES, base_score=None, final="stopped",
                                 lesson=debrief.lesson, summary=debrief.summary or "",
                                 notes=(f"note {step}: " + "n" * 300,))
        session.append(record)  # the journal: the agent announces its record so
        keep(ctx, record, tried, step, debrief, None)
        lessons[step] = lesson
        first_idea[step] = tried[0][0]
        ctx.kept["notes"] = kept_notes([*stored_notes(ctx.kept), f"note {step}: " + "n" * 300])

        ctx.step_number = step + 1
        text = brief.step_brief(cast(StepContext, ctx), hints=[], directions=None)
        assert lesson in text, text + f"step {step}'s lesson is not in the next brief"
        assert text.index(f"lesson: {lesson}") < text.index(f"step {step} from v0: no commit")\
            + 200, "the newest record shows its lesson first"
        assert len(text) <= budget, (step, len(text))
        assert "## Ledger of directions" in text
        assert f"note {step}: " in text

    held = [d.idea for d in ledger.stored(ctx.kept)]
    assert len(held) == len(ideas) + STEPS  # every idea tried, and each step's pending one
    for idea in ideas:
        mark = idea.split(":")[0] + ":"
        assert sum(h.startswith(mark) for h in held) == 1, idea
    repeated = [d for d in ledger.stored(ctx.kept) if d.tries > 1]
    assert repeated, "a repeated idea joins its direction"
    # The brief names the older records in a line each, beyond the newest three whole.
    assert f"step {STEPS - 5} from v0: no commit; Lesson of step {STEPS - 5}" in text

    # At step 200 search_history finds every earlier lesson, from the journal, whole, with its
    # step, the version it started from and its measured effect; each within the turn's budget.
    kb = KnowledgeBase([])
    toolbox = Toolbox(cast(StepContext, ctx), Workspace(session.directory / "ws", kb, 1_000),
                      kb, base="v0", transcript=lambda: "{}")
    for step in SAMPLED:
        found = toolbox.call("search_history", {"query": first_idea[step]}).text
        assert len(found) <= history.MAX_RESULT_CHARS
        assert f"step {step} from v0: no commit\n  lesson: {lessons[step]}\n  measured: " \
            in found, (step, found)
    # A direction keeps every lesson learned under it: an idea tried again shows both.
    for direction in repeated:
        found = toolbox.call("search_history", {"query": direction.idea, "limit": 3}).text
        assert len(direction.learned) >= 2
        assert all(lessons[step] in found for step in direction.learned), (direction, found)
    # Notes and summaries of any step are found too, not only the newest kept in memory.
    assert "step 3 note: note 3: " in toolbox.call("search_history", {"query": "note 3"}).text


def test_unused_space_is_lent_and_the_outline_is_served_first() -> None:
    given = brief.lend({"files": 5_000, "notes": 0, "research": 9_000},
                       {"files": 2_000, "notes": 6_000, "research": 3_000})
    assert given["files"] == 5_000  # the vital section first
    assert given["research"] == 6_000  # then the rest of what notes left
    assert sum(given.values()) <= 11_000
    # Nothing to lend: each keeps its own share.
    assert brief.lend({"files": 9_000, "research": 9_000},
                      {"files": 2_000, "research": 3_000}) == {"files": 2_000, "research": 3_000}


def test_the_mha_brief_at_step_one_shows_the_outline_through_the_entry_point(
    tmp_path: Path,
) -> None:
    from avo_tui.engine.launch import seed_files

    target = get_target("mha")
    files = seed_files(target)
    [(name, source)] = files.items()
    whole = outline(name, source)
    # A context window whose files share is four fifths of the outline, so that the files must
    # borrow from the other sections (at step one most of them are empty).
    window = int(len(whole) * 0.8 / (brief.SHARES["files"] * brief.budget_chars(1_000_000))
                 * 1_000_000)
    assert len(whole) > brief.SHARES["files"] * brief.budget_chars(window)  # it must borrow
    with Session.create(tmp_path / "mha", target="mha", operator="agent", seed_files=files,
                        sync=False) as session:
        ctx = StandIn(SessionView(session), target=target)
        text = brief.step_brief(cast(StepContext, ctx), hints=[], directions=None,
                                context_window=window)
    assert len(text) <= brief.budget_chars(window)
    assert whole in text  # the whole outline, uncut
    entry = whole.splitlines()[-1]
    assert "__global__" in entry and "avo_attention_fwd(" in entry
    assert "struct Consumer" in whole and "softmax_step" in whole


REVIEW = """Thinking aloud first.
<exhausted>
- d1n0 BLOCK_N 176: spills at 240 registers, three tries
2. a wider TMA box: the loads were never the bottleneck
</exhausted>
<try>
1. overlap the softmax of one tile with the QK^T of the next: MUFU idle 40% in the profile
2. LPT order for causal tiles: the tail SMs idle 12%
</try>
<back_off>v7, the last version before the register pressure rose</back_off>"""


def test_the_supervisor_answers_in_a_structure_the_ledger_keeps() -> None:
    answer = research.parse_review(REVIEW)
    assert answer.exhausted == ("d1n0 BLOCK_N 176: spills at 240 registers, three tries",
                                "a wider TMA box: the loads were never the bottleneck")
    assert answer.to_try[1] == "LPT order for causal tiles: the tail SMs idle 12%"
    assert answer.back_off == "v7, the last version before the register pressure rose"
    shown = answer.directions()
    assert shown.startswith("Exhausted (do not try again without a new reason):\n- d1n0")
    assert "Try, most promising first:\n1. overlap the softmax" in shown
    assert shown.endswith("Back off to: v7, the last version before the register pressure rose")
    before = [ledger.Direction("d1n0: BLOCK_N 176", "tried", 1, 3, 3, ("a1", "a5"))]
    after = ledger.supervised(before, answer.exhausted, answer.to_try, step=9)
    assert after[0].status == "failed" and after[0].tries == 3
    assert after[0].why == "the supervisor: spills at 240 registers, three tries"
    assert [d.status for d in after[1:]] == ["failed", "pending", "pending"]
    # An answer without the tags stands as it was written.
    assert research.parse_review("1. Try THREADS 0.").directions() == "1. Try THREADS 0."


def test_lanes_see_what_the_others_are_trying(session: Session) -> None:
    ctx = StandIn(SessionView(session), lane=1)
    ctx.kept |= ledger.set_current({}, 2, "swizzle the V tile (a9 slower)")
    ctx.kept |= ledger.set_current(ctx.kept, 1, "my own idea (a8 checked)")
    text = brief.step_brief(cast(StepContext, ctx), hints=[], directions=None, lane=(1, 2))
    others = text[text.index("## What the other lanes are trying now"):].split("\n\n")[0]
    assert "- lane 2: swizzle the V tile (a9 slower)" in others
    assert "my own idea" not in others
    alone = brief.step_brief(cast(StepContext, ctx), hints=[], directions=None)
    assert "other lanes" not in alone
    # The idea check at evaluate names a lane trying the same now.
    kb = KnowledgeBase([])
    toolbox = Toolbox(cast(StepContext, ctx), Workspace(session.directory / "ws", kb, 1_000),
                      kb, base="v0", transcript=lambda: "{}")
    assert toolbox._closest("swizzle the V tile differently") == [
        "- lane 2 is trying it now: swizzle the V tile (a9 slower)"]
    assert toolbox._closest("persistent LPT scheduler") == []

