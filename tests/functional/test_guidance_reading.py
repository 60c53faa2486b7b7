"""Guidance read as meant (issue 53): ``avo send NAME guide "keep UNROLL at 8"`` was read as
"vary UNROLL", and the next plans were UNROLL 8->2 and 8->1. The tuner reads the common ways
to say keep, fix, pin, hold, avoid, only, vary, never touch and don't change; what it cannot
read is refused in one line naming the forms it reads, never read backwards."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from engine_helpers import KERNEL, SHORT_GATE_CAP_S, TARGET, new_session, start

from avo_tui.cli import main
from avo_tui.engine import seed_files
from avo_tui.engine.inbox import queued
from avo_tui.evaluation import Worker
from avo_tui.evaluation.declarations import contract
from avo_tui.operators.hints import FORMS, read_knob_request, reading_line
from avo_tui.store import Session

# The knob names of the acceptance phrases: the CPU seed declares UNROLL, BLOCK_K and THREADS;
# BLOCK_N and STAGES are declared beside them (macros the kernel does not use).
EXTRA_KNOBS = ("#define BLOCK_N 64      // avo:knob 64 128 256\n"
               "#define STAGES 2        // avo:knob 1 2 3\n")
KNOBS = {"UNROLL": ("1", "2", "4", "8"), "BLOCK_N": ("64", "128", "256"),
         "BLOCK_K": ("16", "32", "64", "128"), "THREADS": ("0", "1", "2", "4", "8"),
         "STAGES": ("1", "2", "3"), "BLOCK_Q": ("8", "16", "32", "64")}


@pytest.mark.parametrize(("text", "reading"), [
    ("keep UNROLL at 8", "UNROLL=8"),
    ("hold BLOCK_N at 128", "BLOCK_N=128"),
    ("pin UNROLL to 4", "UNROLL=4"),
    ("fix UNROLL = 2", "UNROLL=2"),
    ("lock unroll at 8", "UNROLL=8"),
    ("UNROLL must stay 8", "UNROLL=8"),
    ("UNROLL should be 8", "UNROLL=8"),
    ("keep the UNROLL knob at 8", "UNROLL=8"),
    ("UNROLL=8", "UNROLL=8"), ("UNROLL: 8", "UNROLL=8"), ("UNROLL to 8", "UNROLL=8"),
    ("UNROLL 8", "UNROLL=8"),
    ("please try BLOCK_Q = 16", "BLOCK_Q=16"),
    ("only vary BLOCK_K", "vary BLOCK_K"),
    ("vary only BLOCK_K", "vary BLOCK_K"),
    ("vary UNROLL only", "vary UNROLL"),
    ("focus on BLOCK_K", "vary BLOCK_K"),
    ("vary BLOCK_K and UNROLL", "vary BLOCK_K, UNROLL"),
    ("UNROLL", "vary UNROLL"),
    ("never touch THREADS", "THREADS as it is"),
    ("don't change STAGES", "STAGES as it is"),
    ("don’t change STAGES", "STAGES as it is"),
    ("do not change STAGES", "STAGES as it is"),
    ("STAGES must not change", "STAGES as it is"),
    ("THREADS: don't touch", "THREADS as it is"),
    ("leave THREADS alone", "THREADS as it is"),
    ("keep UNROLL", "UNROLL as it is"),
    ("never touch THREADS or STAGES", "STAGES as it is, THREADS as it is"),
    ("avoid UNROLL 1", "UNROLL never 1"),
    ("avoid UNROLL 1 or 2", "UNROLL never 1 2"),
    ("UNROLL != 1", "UNROLL never 1"),
    ("don't use UNROLL 1", "UNROLL never 1"),
    ("keep UNROLL at 8 but vary BLOCK_K", "UNROLL=8, vary BLOCK_K"),
    ("keep UNROLL at 8 and BLOCK_N at 128", "UNROLL=8, BLOCK_N=128"),
])
def test_each_common_form_is_read_as_meant(text: str, reading: str) -> None:
    request = read_knob_request(text, KNOBS)
    assert request.usable and request.describe() == reading, request


@pytest.mark.parametrize(("text", "why"), [
    ("make it faster", "it names no knob of this kernel"),
    ("increase UNROLL", "cannot tell what 'increase UNROLL' asks of UNROLL"),
    ("UNROLL, keep it", "cannot tell what 'UNROLL, keep it' asks of UNROLL"),
    ("don't keep UNROLL at 8", "cannot tell what"),
    ("keep UNROLL at 3", "UNROLL=3 is not a declared value (1 2 4 8)"),
    ("UNROLL=fast", "UNROLL=fast is not a declared value"),
    ("vary UNROLL, never touch UNROLL", "UNROLL is asked to vary and to stay"),
    ("keep UNROLL at 8, avoid UNROLL 8", "UNROLL=8 is both kept and avoided"),
    ("avoid UNROLL 1 2 or 4 and 8", "leaves UNROLL no value"),
])
def test_what_cannot_be_read_for_sure_is_refused_with_the_forms(text: str, why: str) -> None:
    request = read_knob_request(text, KNOBS)
    assert not request.usable
    line = reading_line(request, KNOBS)
    assert why in line and FORMS in line and "\n" not in line, line


def test_a_keep_like_verb_never_becomes_vary() -> None:
    for verb in ("keep", "hold", "pin", "fix", "freeze", "lock", "never touch", "don't change",
                 "do not vary", "avoid", "leave"):
        for tail in ("", " at 8", " as it is", " alone", " please"):
            request = read_knob_request(f"{verb} UNROLL{tail}", KNOBS)
            assert "UNROLL" not in request.focus, (verb, tail, request)


# -- through avo send, into a real session, and the tuner's next candidates -----------------------


@pytest.fixture(scope="module")
def knob_template(tmp_path_factory: pytest.TempPathFactory, worker: Worker) -> Path:
    files = seed_files(TARGET)
    text = files[KERNEL]
    anchor = "#define MAX_HEAD_DIM"
    assert anchor in text
    path = tmp_path_factory.mktemp("knobs") / "knobs"
    new_session(path, worker, {KERNEL: text.replace(anchor, EXTRA_KNOBS + anchor)},
                gate_cap_s=SHORT_GATE_CAP_S).close()
    return path


@pytest.fixture
def sessions(knob_template: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "sessions"
    shutil.copytree(knob_template, root / "knobs")
    yield root


def knobs_of(session: Session, hashes: dict[str, str]) -> dict[str, str]:
    return {k.name: k.value for k in contract.parse(session.blobs.get_text(hashes[KERNEL])).knobs}


STEPS = 3


@pytest.mark.parametrize(("text", "reading", "holds"), [
    ("keep UNROLL at 8", "UNROLL=8",
     lambda base, after: after["UNROLL"] == "8"),
    ("hold BLOCK_N at 128", "BLOCK_N=128",
     lambda base, after: after["BLOCK_N"] == "128"),
    ("only vary BLOCK_K", "vary BLOCK_K (the other knobs stay as they are)",
     lambda base, after: {k for k in after if after[k] != base[k]} == {"BLOCK_K"}),
    ("never touch THREADS", "THREADS as it is",
     lambda base, after: after["THREADS"] == base["THREADS"] and after != base),
    ("don't change STAGES", "STAGES as it is",
     lambda base, after: after["STAGES"] == base["STAGES"] and after != base),
    # issue 71: read as "BLOCK_K=16" and "UNROLL as it is" (the seed has BLOCK_K 64, UNROLL 4)
    ("BLOCK_K=16 is bad", "BLOCK_K never 16",
     lambda base, after: after["BLOCK_K"] != "16"),
    ("keep UNROLL away from 4", "UNROLL never 4",
     lambda base, after: after["UNROLL"] != "4"),
    # issue 87: read as "BLOCK_K=64", "UNROLL=2", "THREADS as it is" and keeping the head's 1
    # (the seed has BLOCK_K 64, UNROLL 4, THREADS 1): each moved the run onto what it ruled out
    ("BLOCK_K < 64", "BLOCK_K one of 16 32",
     lambda base, after: after["BLOCK_K"] in {"16", "32"}),
    ("UNROLL > 2", "UNROLL one of 4 8",
     lambda base, after: after["UNROLL"] in {"4", "8"}),
    ("avoid 1 thread", "THREADS never 1",
     lambda base, after: after["THREADS"] != "1"),
    ("keep 8 threads", "THREADS=8",
     lambda base, after: after["THREADS"] == "8"),
])
def test_guidance_sent_with_avo_send_is_read_as_meant_and_the_tuner_keeps_to_it(
    sessions: Path, worker: Worker, capsys: pytest.CaptureFixture[str], text: str,
    reading: str, holds: Callable[[dict[str, str], dict[str, str]], bool],
) -> None:
    assert main(["--sessions-dir", str(sessions), "send", "knobs", "guide", *text.split()]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"the tuner reads {text!r} as: {reading}\n"), out
    assert len(queued(sessions / "knobs")) == 1
    with Session.open(sessions / "knobs") as session:
        live = start(session, worker, max_steps=STEPS)
        live.finish()
        assert session.state["guidance"] == text
        [ack] = [e.data for e in live.kinds("hint") if e.data["action"] != "received"]
        assert ack["action"] == "used" and ack["note"] == (
            f"{reading.split(' (')[0]} for every step while it stands"), ack
        # every candidate the tuner made (a re-measure of a version's own files is none)
        made = [a for a in session.recent_attempts(100)
                if a.author == "tuner" and a.files != session.version(a.base or "v0").files]
        assert len(made) >= STEPS - 1, [(a.id, a.outcome, a.detail[:80]) for a in made]
        for attempt in made:
            base = knobs_of(session, session.version(attempt.base or "v0").files)
            after = knobs_of(session, attempt.files)
            assert holds(base, after), (attempt.id, base, after)


def test_guidance_the_tuner_cannot_read_is_refused_at_send_in_one_line(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--sessions-dir", str(sessions), "send", "knobs", "guide", "make it faster"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert "the tuner cannot read it: it names no knob of this kernel" in err and FORMS in err
    assert "BLOCK_K, BLOCK_N, BLOCK_Q, STAGES, THREADS, UNROLL" in err
    code = main(["--sessions-dir", str(sessions), "send", "knobs", "hint", "increase UNROLL"])
    assert code == 1 and "cannot tell what 'increase UNROLL' asks of UNROLL" in (
        capsys.readouterr().err)
    assert queued(sessions / "knobs") == []


def test_guidance_for_one_step_is_spent_once_followed_and_a_resume_does_not_follow_it_again(
    sessions: Path, worker: Worker, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 87: "try BLOCK_K=16 first" was one step's per run, and a resumed run followed it
    again. It is stored as spent once followed; sent again, it is followed again."""
    text = "try BLOCK_K=16 first"

    def followed() -> list[str]:
        with Session.open(sessions / "knobs") as session:
            return [e.data["action"] for e in session.events()
                    if e.kind == "hint" and e.data.get("text") == text
                    and e.data["action"] != "received"]

    def run(steps: int) -> None:  # ``steps``: the session's steps when the run ends
        with Session.open(sessions / "knobs") as session:
            start(session, worker, max_steps=steps).finish()

    assert main(["--sessions-dir", str(sessions), "send", "knobs", "guide", text]) == 0
    capsys.readouterr()
    run(1)
    assert followed() == ["used"]
    with Session.open(sessions / "knobs") as session:
        assert session.run_state.lane(1).spent_guidance == text
        assert session.state["guidance"] == text  # it stands, shown, but is spent
    run(2)  # a resume: the tuner is new, the guidance the same
    assert followed() == ["used"]
    assert main(["--sessions-dir", str(sessions), "send", "knobs", "guide", text]) == 0
    run(3)
    assert followed() == ["used", "used"]
