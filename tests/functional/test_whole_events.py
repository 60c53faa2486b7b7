"""Events keep their whole text (issue 53): the journal stores it, and every view wraps it
rather than cut it. The number that explains a rejection comes last, and a cut at 200
characters used to fall inside it (``... not above the bar of +``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_session
from test_app_layout import SMALL, content, shown_in
from test_unreadable_records import headless_step
from tui_helpers import branched_session, opened, settled, until

from avo_tui.engine.client import RunClient
from avo_tui.evaluation import Worker
from avo_tui.operators.protocol import StepContext, StepResult
from avo_tui.store import AttemptPayload, CommitPayload, Score, Session, payload_of
from avo_tui.store.clip import EVENT_TEXT_CHARS, clip
from avo_tui.tui import make_app
from avo_tui.tui.widgets.output import OutputPane

# a gate's verdict as the issue measured it, its last number past the old cut at 200
VERDICT = ("not confirmed on re-evaluation of a17: +16.85% ± 4.96% on v3 at first, then "
           "re-evaluated at 10.12 GFLOP/s, +0.61% ± 0.20% on v3 timed beside it (16 sweeps, "
           "13 s, UNROLL 16->64): not above the bar of +0.17%")
TAIL = "not above the bar of +0.17%"


def test_the_verdict_is_one_the_old_cut_broke_inside_its_number() -> None:
    assert VERDICT[:200].endswith("bar of +") and VERDICT.endswith(TAIL)


def test_the_journal_keeps_an_events_whole_text(tmp_path: Path) -> None:
    """Read back from the TinyDB journal on disk, by another open: the attempt's detail and
    a commit's message are whole; only a runaway text is cut, at a word."""
    message = f"{'BLOCK_K 64->32 and UNROLL 2->4, timed beside v3; ' * 6}{TAIL}"
    runaway = "word " * EVENT_TEXT_CHARS
    with make_session(tmp_path / "s") as session:
        files = session.read_files("v0")
        session.record_attempt(files, base="v0", author="tuner", outcome="not_confirmed",
                               detail=VERDICT)
        session.commit(files, author="operator", message=message, score=Score(1.0))
        session.record_attempt(files, base="v0", author="tuner", outcome="slower",
                               detail=runaway)
    with Session.open(tmp_path / "s", writable=False) as reader:
        payloads = [payload_of(e) for e in reader.events()]
        attempts = [p for p in payloads if isinstance(p, AttemptPayload)]
        commits = [p for p in payloads if isinstance(p, CommitPayload)]
        assert attempts[0].detail == VERDICT
        assert commits[-1].message == message
        kept = attempts[1].detail
        assert len(kept) <= EVENT_TEXT_CHARS and kept.endswith("word …")
        assert reader.attempt("a2").detail == runaway  # the attempt itself keeps it all


def test_a_compact_line_is_cut_at_a_word_never_inside_a_number() -> None:
    for limit in range(20, len(VERDICT)):
        cut = clip(VERDICT, limit)
        head = cut.removesuffix(" …")
        assert len(cut) <= limit and head != cut, limit
        assert VERDICT.startswith(head) and VERDICT[len(head)] == " ", cut
        assert not head.endswith("±"), cut  # a figure keeps its error or goes without it
    assert clip(VERDICT, len(VERDICT)) == VERDICT


def test_a_word_too_long_to_cut_at_a_space_keeps_its_numbers_whole() -> None:
    assert clip("/tmp/avo/kernels/attention_0123456789.cu", 30) == "/tmp/avo/kernels/attention_ …"
    assert clip("short", 30) == "short"


class Rejected:
    """A step whose candidate the gate turned down, with the gate's whole verdict."""

    name = "tuner"

    def __init__(self, session: Session) -> None:
        self.session = session

    def step(self, ctx: StepContext) -> StepResult:
        self.session.record_attempt(self.session.read_files("v0"), base="v0", author="tuner",
                                    outcome="not_confirmed", detail=VERDICT)
        return StepResult("the gate turned the candidate down")

    def redirect(self, ctx: StepContext, reason: str) -> None:
        pass


def test_output_log_and_the_headless_console_show_the_whole_verdict(
    tmp_path: Path, worker: Worker
) -> None:
    """output.log and the console printer on a live engine, on an 80-column console."""
    session = make_session(tmp_path / "s")
    printed, logged = headless_step(session, Rejected(session), worker, width=80)
    for shown in (printed, logged):
        line = next(line for line in shown.splitlines() if "a1 " in line)
        # one line, whole (the terminal wraps it), the deciding gain first
        assert line.endswith(f"not_confirmed +0.61% ± 0.20% · {VERDICT}")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_output_pane_wraps_the_verdict_to_its_last_number(tmp_path: Path) -> None:
    """At 80x24 the pane is narrow: with events wrapped whole (w; one line each is the
    default below 30 rows) the verdict takes several rows, and the last one ends with the
    bar."""
    branched_session(tmp_path / "b").close()
    app = make_app(RunClient(tmp_path / "b"))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        await pilot.press("w")
        output = app.query_one(OutputPane)
        with Session.open(tmp_path / "b") as writer:
            writer.record_attempt(writer.read_files("v0"), base="v0", author="tuner",
                                  outcome="not_confirmed", detail=VERDICT)
            last = writer.last_seq
        await until(pilot, lambda: app.client is not None and app.client.cursor >= last)
        await settled(pilot, app)
        shown = shown_in(app, content(output))
        assert " ".join(VERDICT.split()) in shown
        assert shown.endswith(TAIL)
        assert content(output).width < len(VERDICT)  # it did need more than one row
