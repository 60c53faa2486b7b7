"""The agent as a researcher across steps, through the real SDK and the loopback fake API: the
research log and running summary reach the next step, attempts say what they tried, the
system prompt states the measured hardware and the rules, the commit tool verifies before it
submits, and the supervisor's directions stand until they are done."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agent_helpers import CHECKLIST, UNROLL_2, UNROLL_LINE, commit_calls, edit, make_agent
from engine_helpers import ONCE, TENFOLD, start, tenfold_session
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use

from avo_tui.engine import Budgets, SupervisorLimits
from avo_tui.evaluation import Worker
from avo_tui.store import ResearchPayload, Session, payload_of

MESSAGE = "once, not twelve times"
IDEA = "REPEAT 1: do the work once, not twelve times"
UNROLL_IDEA = "UNROLL 2: a shorter inner loop"  # on the seeded session: a kernel, no gain
LESSON = "The work was repeated twelve times; once is enough and 12x faster."
SUMMARY = "Worked: REPEAT 1 (12x). Untried: THREADS."
DEBRIEF = f"<lesson>{LESSON}</lesson>\n<summary>{SUMMARY}</summary>"
STEP = re.compile(r"# Step brief \(step (\d+)\)")


@pytest.fixture
def tenfold(tmp_path: Path, worker: Worker) -> Iterator[Session]:
    """Its seed's one edit, REPEAT 1, is 12x faster: a commit a test may assert
    (docs/testing.md)."""
    with tenfold_session(tmp_path / "tenfold", worker) as session:
        yield session


def last_user_texts(request: Recorded) -> list[str]:
    content = request.last_user_message().get("content")
    return [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text"] \
        if isinstance(content, list) else [str(content)]


def researcher(briefs: list[str], *, later: Step | None = None) -> Callable[[Recorded], Step]:
    """An agent that, in step 1, makes the seed do its work once and commits it (asking
    again if a first reading under load came out unpromising), answers the debrief, and in
    every later step reads its brief and stops (or does ``later``)."""

    def turn(request: Recorded) -> Step:
        texts = last_user_texts(request)
        if any("The step has ended" in t for t in texts):
            return reply(text(DEBRIEF))
        step = next((STEP.search(t) for t in texts if STEP.search(t)), None)
        if step:
            briefs.append(next(t for t in texts if STEP.search(t)))
            if step.group(1) == "1":
                return reply(tool_use(*edit(TENFOLD, ONCE)), tool_use("evaluate", {"idea": IDEA}),
                             *commit_calls(MESSAGE))
            return later or reply(text("Nothing more to try."))
        results = request.tool_results()
        last = str(results[-1]["content"]) if results else ""
        if last.startswith("not committed: "):
            return reply(tool_use("evaluate", {"idea": IDEA + ", measured again"}),
                         *commit_calls(MESSAGE))
        if last.startswith(CHECKLIST):
            return reply(tool_use("commit", {"message": MESSAGE}))
        return reply(text("done"))

    return turn


def test_the_next_brief_carries_the_research_record_its_change_per_shape_and_the_summary(
    tenfold: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    briefs: list[str] = []
    fake.script(*[researcher(briefs)] * 20)
    live = start(tenfold, worker, operator=make_agent(knowledge, debrief=True),
                 budgets=Budgets(max_steps=2))
    live.finish(240)
    assert tenfold.version("head").id == "v1", [a.outcome for a in tenfold.recent_attempts(20)]

    [record] = [p for e in live.kinds("research")
                if isinstance(p := payload_of(e), ResearchPayload) and p.step == 1]
    assert (record.step, record.base, record.outcome) == (1, "v0", "committed v1")
    assert record.lesson == LESSON and record.lines_added == record.lines_removed == 1
    assert any(IDEA in idea for idea in record.ideas)
    assert record.change.startswith("a") and " against v0: geomean +" in record.change
    assert tenfold.state["operator_memory"]["summary"] == SUMMARY

    second = briefs[-1]
    step = STEP.search(second)
    assert step is not None and step.group(1) == "2"
    assert "## Running summary of the search\n" + SUMMARY in second
    log = second[second.index("## Research log"):]
    assert "step 1 from v0: committed v1 (+1/-1 lines)" in log
    assert IDEA in log and f"lesson: {LESSON}" in log
    assert record.change in log  # the change per shape, as recorded
    head_score = tenfold.version("head").score
    assert head_score is not None
    for config in head_score.per_config:
        assert config in record.change
    lineage = second[second.index("## Lineage"):].splitlines()
    [v1] = [line for line in lineage if line.startswith("v1")]
    assert re.search(r" v0 +agent .* \+\d+\.\d% \[\+\d+\.\d\.\.\+\d+\.\d\] ", v1), v1


def test_without_a_debrief_reply_the_record_is_still_kept_and_the_summary_stands(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """A debrief the API refuses costs the model's lesson, never the step or its record: the
    lesson is written from the record instead (issue 86: a lesson for every step)."""
    fake.script(reply(tool_use(*edit(UNROLL_LINE, UNROLL_2)),
                      tool_use("evaluate", {"idea": UNROLL_IDEA})),
                reply(text("stopping here")))  # then the script is empty: the debrief gets a 400
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge, debrief=True))
    live.finish(120)
    assert len(fake.requests) == 3 and "The step has ended" in fake.requests[2].texts()[-1]
    [event] = live.kinds("research")
    record = payload_of(event)
    assert isinstance(record, ResearchPayload)
    assert record.lesson.startswith("[from the record, the debrief failed: "), record.lesson
    assert record.final == "stopping here" and record.outcome.startswith("no commit; best")
    assert "summary" not in session.state["operator_memory"]
    assert not live.kinds("step")[-1].data["failed"]


def test_the_commit_tool_shows_a_checklist_first_and_never_measures_the_kernel_again(
    tenfold: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    briefs: list[str] = []
    fake.script(*[researcher(briefs)] * 12)
    live = start(tenfold, worker, max_steps=1, operator=make_agent(knowledge))
    live.finish(240)
    step = live.kinds("step")[-1]
    messages = json.loads(tenfold.blobs.get_text(step.data["transcript"]))["messages"]
    checklists = [b["content"] for m in messages if m["role"] == "user"
                  for b in m["content"] if b.get("type") == "tool_result"
                  and str(b["content"]).startswith(CHECKLIST)]
    assert len(checklists) == 1  # one per kernel
    shown = checklists[0]
    assert "1. The change against the head v0 (+1/-1 lines)" in shown
    assert f"-{TENFOLD}" in shown and f"+{ONCE}" in shown
    assert "2. Per shape:\nagainst v0 (the head): geomean +" in shown
    assert "regressions over 1%:" in shown
    assert "3. Synchronisation the change adds or removes" in shown and "\nnone" in shown
    # Every evaluation was the agent's own or the gate's (undecided where a loaded machine left
    # it so): neither commit call measured again.
    attempts = tenfold.recent_attempts(50)
    assert {a.outcome for a in attempts} <= {"promising", "slower", "within_noise",
                                            "committed", "not_confirmed", "undecided"}
    assert all(a.idea and IDEA in a.idea for a in attempts)  # the gate's too
    assert tenfold.version("head").id == "v1"


def test_the_system_prompt_states_the_measured_hardware_the_rules_and_the_judging(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(reply(text("nothing to do")))
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
    live.finish(120)
    system = fake.requests[0].body["system"][0]["text"]
    facts = session.state["hardware"]
    assert facts, "the evaluation's measured facts are kept in the session"
    peak = next(v for k, v in facts.items() if k.startswith("peak"))
    assert isinstance(peak, float) and peak > 0
    hardware = system[system.index("The hardware, measured by the evaluator:"):]
    assert f"{peak:.4g}" in hardware and str(worker.info["cores"]) in hardware
    assert "Rules. They are not negotiable" in system
    for rule in ("The same math on every shape", "Never touch the harness",
                 "One gate decision per kernel", "float32 inputs, output and accumulation"):
        assert rule in system
    assert "Each query row, and the whole output, must lie within 8x" in system
    # A CPU target is told to measure with evaluate: profile and sanitize refuse on a CPU.
    assert "read evaluate's throughput per configuration" in system
    assert "profile" not in system and "sanitize" not in system


def test_the_brief_outlines_the_kernel_files_and_attempts_carry_their_ideas(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    def show_and_diff(request: Recorded) -> Step:
        attempt = session.recent_attempts(1)[0].id
        return reply(tool_use("show_attempt", {"attempt": attempt}),
                     tool_use("diff_attempt", {"attempt": attempt}),
                     tool_use("list_attempts", {}),
                     tool_use("evaluate", {}))  # no idea: refused by the schema

    fake.script(reply(tool_use(*edit(UNROLL_LINE, UNROLL_2)),
                      tool_use("evaluate", {"idea": UNROLL_IDEA})),
                show_and_diff, reply(text("done")))
    start(session, worker, max_steps=1, operator=make_agent(knowledge)).finish(120)
    brief = fake.requests[0].texts()[0]
    files = brief[brief.index("## The kernel's files"):]
    assert "attention.c (" in files and "lines)" in files
    shown, diff, listed, refused = (r["content"] for r in fake.requests[2].tool_results())
    assert f"idea: {UNROLL_IDEA}" in shown
    assert "change against v0 (its parent, the best): geomean" in shown
    assert f"-{UNROLL_LINE}" in diff and f"+{UNROLL_2}" in diff
    assert f"idea: {UNROLL_IDEA}" in listed
    assert "idea is required" in refused
    assert session.recent_attempts(1)[0].idea == UNROLL_IDEA


def test_the_supervisors_directions_stand_until_the_agent_says_they_are_done(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """Step 1's failed candidate stalls the search; the review (with thinking, the research
    log and the code) gives directions that are in the briefs of steps 2 and 3, and gone from
    step 4's once step 3's debrief says they are done."""
    directions = "1. Try THREADS 0 to use every core."
    briefs: list[str] = []

    def turn(request: Recorded) -> Step:
        if not request.stream:  # the supervisor's review
            return reply(text(directions))
        texts = last_user_texts(request)
        if any("The step has ended" in t for t in texts):
            state = "done" if len(briefs) == 3 else "open"
            return reply(text(f"<lesson>step {len(briefs)}</lesson><summary>s</summary>"
                              f"<directions>{state}</directions>"))
        brief = next((t for t in texts if STEP.search(t)), None)
        if brief:
            briefs.append(brief)
            if len(briefs) == 1:
                return reply(tool_use(*edit(UNROLL_LINE, UNROLL_LINE + "\nstatic int broken = ;")),
                             tool_use("evaluate", {"idea": "a broken line"}))
        return reply(text("nothing more"))

    fake.script(*[turn] * 20)
    live = start(session, worker, operator=make_agent(knowledge, debrief=True),
                 budgets=Budgets(max_steps=4), limits=SupervisorLimits(consecutive_failures=1))
    live.finish(240)
    [review] = [r for r in fake.requests if not r.stream]
    assert review.body["thinking"] == {"type": "adaptive"}
    prompt = review.texts()[0]
    assert "Research log (newest last):" in prompt and "a broken line" in prompt
    assert "The best kernel, v0:" in prompt and "attention.c (" in prompt
    assert [directions in b for b in briefs] == [False, True, True, False]
    assert "directions" not in session.state["operator_memory"] or (
        session.state["operator_memory"]["directions"] is None)


# -- the tools that guide: profile and sanitize pick their configuration --------------------

def test_profile_defaults_to_the_configuration_furthest_behind_its_baseline_and_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_context import StandIn

    from avo_tui.evaluation import get_target
    from avo_tui.evaluation.diagnostics.sanitize import smallest_config
    from avo_tui.knowledge import KnowledgeBase
    from avo_tui.operators.agent import tools
    from avo_tui.operators.agent.workspace import Workspace
    from avo_tui.store import Score
    from avo_tui.store.view import SessionView

    mha = get_target("mha")
    names = [c.name for c in mha.configs]
    worst = names[3]
    score = Score(500.0, {n: 500.0 for n in names}, unit="TFLOP/s")
    calls: list[tuple[str, dict[str, object]]] = []

    def fake_profile(target: str, entry: str, sources: dict[str, str], config: str,
                     **options: object) -> str:
        calls.append((config, options))
        return f"profile of {config}"

    monkeypatch.setattr(tools, "profile", fake_profile)
    monkeypatch.setattr(tools, "sanitize", lambda *args, **options: f"sanitized {args[3]}")
    with Session.create(tmp_path / "s", target="mha", operator="agent", sync=False,
                        seed_files={"k.cu": "// seed"}, score=score) as session:
        class OnMha(StandIn):
            def baselines(self) -> dict[str, dict[str, float]]:
                return {n: {"cudnn": 700.0 if n == worst else 450.0} for n in names}

        ctx = OnMha(SessionView(session), target=mha)
        knowledge = KnowledgeBase([])
        workspace = Workspace(tmp_path / "ws", knowledge, 100_000)
        workspace.reset({"k.cu": "// candidate"})
        box = tools.Toolbox(ctx, workspace, knowledge, base="v0",  # type: ignore[arg-type]
                            transcript=lambda: "{}")
        assert box.call("profile", {}).text == f"profile of {worst}"
        assert calls[-1] == (worst, {})
        assert ctx.kept["profile"] == f"profile of {worst}"  # the stall review reads it
        box.call("profile", {"config": names[0], "sections": ["warp_state", "source"],
                             "metrics": ["sm__cycles_elapsed.avg"]})
        assert calls[-1] == (names[0], {"sections": ("warp_state", "source"),
                                        "metrics": ("sm__cycles_elapsed.avg",)})
        refused = box.call("profile", {"sections": ["everything"]})
        assert refused.is_error and "summary" in refused.text
        smallest = smallest_config(mha)
        assert box.call("sanitize", {}).text == f"sanitized {smallest}"
        assert box.call("sanitize", {"config": "b9-nonsense"}).is_error


def test_a_review_before_the_commit_is_asked_with_thinking_recorded_and_shown(
    tenfold: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    verdict = "REJECT\nline 3 of the diff drops the last tile."
    briefs: list[str] = []
    agent = researcher(briefs)

    def turn(request: Recorded) -> Step:
        return reply(text(verdict)) if not request.stream else agent(request)

    fake.script(*[turn] * 12)
    live = start(tenfold, worker, max_steps=1,
                 operator=make_agent(knowledge, review_commits=True))
    live.finish(240)
    [review] = [r for r in fake.requests if not r.stream]
    assert review.body["thinking"] == {"type": "adaptive"}
    assert review.body["system"].startswith("You review a kernel change")
    assert "1. The change against the head v0" in review.texts()[0]
    [event] = [e for e in live.kinds("research") if e.data["action"] == "review"]
    recorded = payload_of(event)
    assert isinstance(recorded, ResearchPayload)
    assert recorded.outcome == "reject" and "drops the last tile" in recorded.final
    messages = json.loads(tenfold.blobs.get_text(live.kinds("step")[-1].data["transcript"]))
    shown = [b["content"] for m in messages["messages"] if m["role"] == "user"
             for b in m["content"] if b.get("type") == "tool_result"
             and str(b["content"]).startswith(CHECKLIST)]
    assert shown and shown[0].endswith("The reviewer's verdict:\n" + verdict)
