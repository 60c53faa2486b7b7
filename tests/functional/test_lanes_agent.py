"""Two agent lanes on one session, the real SDK against the fake Messages API (tests/
fake_anthropic): each lane has its own conversation, workspace and draft, and both ask the one
gate. The scripted replies read which lane asks from the lane's own brief; where the lanes
must meet, one waits for the other through an event, never on the clock."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from agent_helpers import CHECKLIST, edit, make_agent
from engine_helpers import KERNEL, ONCE, TENFOLD, tenfold_session
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use
from test_lanes import check_lineage, lane_events, start_lanes

from avo_tui.evaluation import Worker
from avo_tui.store import Score, Session
from avo_tui.store.run_state import LaneState

WAIT_S = 300.0  # a lane that waits for the other gives up after this (the test then fails)


def lane_of(request: Recorded) -> int:
    return 2 if "You are lane 2 of 2" in request.texts()[0] else 1


def test_two_agent_lanes_keep_their_own_conversations_and_workspaces_and_share_the_gate(
    tmp_path: Path, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """Both lanes make the seed do its work once, not twelve times, each in its own workspace
    (in a shared one, the second str_replace would find nothing to replace). Lane 1 commits
    it as v1 once lane 2 has its checklist; lane 2 then asks the gate for the same kernel, on
    v0, and is told it is identical to v1 and that the best moved under it."""
    ready, committed = threading.Event(), threading.Event()
    drafts: list[set[str]] = []
    requests: dict[int, list[Recorded]] = {1: [], 2: []}

    def turn(request: Recorded) -> Step:
        lane = lane_of(request)
        requests[lane].append(request)
        results = request.tool_results()
        last = str(results[-1]["content"]) if results else ""
        message = f"lane {lane}: once, not twelve times"
        if not results:  # the brief
            return reply(tool_use(*edit(TENFOLD, ONCE)), tool_use("evaluate", {"idea": "REPEAT 1"}))
        if last.startswith(CHECKLIST):
            if lane == 1:
                ready.wait(WAIT_S)
            else:
                drafts.append({p.name for p in (session.directory / "drafts").iterdir()})
                ready.set()
                committed.wait(WAIT_S)
            return reply(tool_use("commit", {"message": message}))
        if last.startswith(("committed", "the commit gate refused it")):
            committed.set()  # whatever the gate said, lane 2 goes on
            return reply(text(f"lane {lane} is done"))
        if last.startswith("not committed: "):  # a first reading no better than the seed's
            return reply(tool_use("evaluate", {"idea": "the same, again"}),
                         tool_use("commit", {"message": message}))
        return reply(tool_use("commit", {"message": message}))

    fake.script(*[turn] * 40)
    agents = [make_agent(knowledge, request_timeout_s=WAIT_S + 60) for _ in range(2)]
    with tenfold_session(tmp_path / "tenfold", worker) as session:
        live = start_lanes(session, worker, agents, max_steps=2, before=lambda engine:
                           engine.subscribe(lambda e: committed.set() if e.kind == "commit"
                                            else None))
        live.finish(WAIT_S + 120)
        assert session.lineage.ids == ["v0", "v1"]
        v1 = session.version("v1")
        assert (v1.author, v1.lane, v1.parent) == ("agent", 1, "v0")
        assert ONCE in session.read_files(v1)[KERNEL]
        check_lineage(session, {1, 2})

        # Each lane's own conversation: its brief, its turns, nothing of the other's.
        for lane in (1, 2):
            assert requests[lane] and all(lane_of(r) == lane for r in requests[lane])
            edits = [r.tool_results()[0]["content"] for r in requests[lane]
                     if len(r.body["messages"]) == 3]
            assert edits and edits[0].startswith("replaced 1 occurrence"), edits
        answer = str(requests[2][-1].tool_results()[-1]["content"])
        assert answer.startswith("the commit gate refused it: identical to v1"), answer
        assert "The best moved from v0 to v1" in answer
        assert "this step now builds on v1" in answer and "Your workspace now holds v1" in answer
        gate = [a for a in session.recent_attempts(20) if a.lane == 2 and a.outcome == "unchanged"]
        assert gate and "the best moved from v0 to v1" in gate[0].detail

        # Each lane's own workspace and draft (the drafts are dropped once the steps end).
        for folder in ("workspace", "workspace-2"):
            assert ONCE in (session.directory / folder / KERNEL).read_text()
        assert drafts == [{"conversation.json", "conversation-2.json"}]
        assert not list((session.directory / "drafts").glob("*.json"))

        # Each lane's step, transcript and spend.
        steps = {lane: lane_events(live, "step", lane) for lane in (1, 2)}
        assert [len(s) for s in steps.values()] == [1, 1]
        for lane, [step] in steps.items():
            transcript = json.loads(session.blobs.get_text(step.data["transcript"]))
            assert f"You are lane {lane} of 2" in json.dumps(transcript["messages"][0])
            assert step.data["tokens"] == 150 * len(requests[lane])
            spent = session.run_state.lanes[str(lane)]
            assert (spent.steps, spent.tokens) == (1, 150 * len(requests[lane]))
        assert lane_events(live, "tool_call", 1) and lane_events(live, "tool_call", 2)


def test_each_agent_lane_resumes_its_own_step_after_a_kill(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """What a kill -9 leaves: lane 2's conversation draft, built on v1 (not the version lane 2
    would start a new step from, v0, the second best), and no draft of lane 1's. Lane 2 takes
    its step up again where it stood, on v1 and with its files; lane 1 starts afresh."""
    saved = "the brief of lane 2's step, before the kill"
    session.commit(session.read_files("v0"), author="agent", message="a better one",
                   score=Score(1e6, unit="GFLOP/s"))
    session.set_state(announce=False, lanes={"2": LaneState("agent", base="v1").to_doc()})
    session.save_draft("conversation-2", {
        "format": 1, "head": "v1", "turns": [], "usage": {}, "pending": [], "warned": False,
        "guidance": None, "tried": None, "files": {KERNEL: "// where lane 2 stood\n"},
        "messages": [{"role": "user", "content": [{"type": "text", "text": saved}]}],
    })
    fake.script(*[lambda request: reply(text("done"))] * 2)
    live = start_lanes(session, worker, [make_agent(knowledge), make_agent(knowledge)],
                       max_steps=2)
    live.finish(120)
    [resumed] = live.kinds("step_resumed")
    assert resumed.data["lane"] == 2
    # The two steps of the budget go to whichever lane asks first: lane 1's fresh step, or,
    # on a loaded machine, lane 2's next one after its resumed step. Either way the draft is
    # taken up once, by lane 2, and every other step starts from a fresh brief.
    briefs = [r.texts()[0] for r in fake.requests]
    assert briefs.count(saved) == 1, briefs
    fresh = [b for b in briefs if b != saved]
    assert len(fresh) == 1 and fresh[0].startswith("# Step brief"), fresh
    assert "You are lane 1 of 2" in fresh[0] or "You are lane 2 of 2" in fresh[0], fresh
    assert (session.directory / "workspace-2" / KERNEL).read_text() == (
        "// where lane 2 stood\n")
    assert session.run_state.lanes["2"].base == "v1"
    assert session.run_state.lanes["1"].base == "v1"  # the head
