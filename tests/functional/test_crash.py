"""Kill a writing process at random moments; the session must always open with every
acknowledged commit present and no version id duplicated.

The moments are drawn in the writer's own CPU time, not in wall-clock time: a kill window in
milliseconds of wall-clock time killed most writers before they had opened the session on a
loaded 2-core machine, where a commit with its fsyncs takes 20 ms, and so tested little there.
The writer arms ITIMER_PROF for a random amount of its CPU time, scaled by what opening the
session and one operation cost it so far; the timer's signal, left to its default action, ends
the process wherever it is, as SIGKILL does: no handler, no flush, no exit code runs. A slower
or busier machine slows the writer's clock with it, so the kills land at the same points of its
work on any machine.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pytest

from avo_tui.store import Score, Session
from avo_tui.store.errors import DamagedSession
from avo_tui.store.journal_storage import BASE
from avo_tui.store.repair import apply_repair, plan_repair

KILLS = 100
REPAIR_EVERY = 25  # every so many kills, the base file is ruined as a disk might ruin it
# Small segments and a small journal threshold, so kills also land in sealing and compaction.
CAPACITY = {"events": 16, "versions": 8, "attempts": 8}
COMPACT_BYTES = 4096
IN_OPEN = 0.2  # the share of kills aimed at opening the session
OPERATIONS = 20  # the others, anywhere in about this many operations after it
FIRST_BUDGET_S = 0.05  # CPU seconds, before the writers have shown what their work costs
STUCK_S = 120.0


def write_until_killed(directory: Path, report: int, seed: int) -> None:
    """Open the session and write to it forever, reporting on ``report`` the CPU time at which
    each step begins and ends, and the id of each commit once it is acknowledged."""

    def say(*words: object) -> None:
        os.write(report, (" ".join(map(str, (*words, time.process_time()))) + "\n").encode())

    rng = random.Random(seed)
    say("open")
    session = Session.open(directory, compact_bytes=COMPACT_BYTES)
    say("ready")
    n = 0
    while True:
        n += 1
        roll = rng.random()
        if roll < 0.45:
            say("begin", "commit")
            version = session.commit(
                {"kernel.c": f"// child {seed} step {n}\n" * rng.randint(1, 40)},
                author="tuner",
                message=f"step {n}",
                score=Score(rng.random()),
            )
            say("end", "commit", version.id)
        elif roll < 0.8:
            say("begin", "event")
            session.append_event("tool_call", step=n, payload="x" * rng.randint(0, 300))
            say("end", "event")
        elif roll < 0.9:
            say("begin", "attempt")
            session.record_attempt(
                {"kernel.c": f"// attempt {n}\n"}, base=session.version("head").id, author="tuner",
                outcome="incorrect", detail="max error 3e-2", log="log " * rng.randint(1, 100),
            )
            say("end", "attempt")
        else:
            say("begin", "rollback")
            session.rollback(rng.choice(session.lineage.ids))
            say("end", "rollback")


@dataclass
class Writers:
    """What the writers so far have shown: the CPU time their work costs, where the kills
    landed, and which commits were acknowledged."""

    open_s: list[float] = field(default_factory=list)
    operation_s: list[float] = field(default_factory=list)
    landed: Counter[str] = field(default_factory=Counter)
    acknowledged: set[str] = field(default_factory=set)

    def budget(self, rng: random.Random) -> float:
        """CPU seconds for the next writer: a moment in opening the session (the lock taken
        over, the journal replayed), or in the operations after it."""
        if not self.operation_s:
            return FIRST_BUDGET_S
        open_s = statistics.median(self.open_s[-20:])
        if rng.random() < IN_OPEN:
            return rng.uniform(0.0, open_s)
        operation_s = statistics.fmean(self.operation_s[-100:])  # a mean: commits weigh
        return open_s + rng.uniform(0.0, OPERATIONS * operation_s)

    def read(self, stream: BinaryIO) -> None:
        """Take in one killed writer's report."""
        lines = [line.split() for line in stream.read().decode().splitlines()]
        began = 0.0
        for words in lines:
            moment = float(words[-1])
            if words[0] in ("open", "begin"):
                began = moment
            elif words[0] == "ready":
                self.open_s.append(moment - began)
            else:
                self.operation_s.append(moment - began)
                if words[1] == "commit":
                    self.acknowledged.add(words[2])
        self.landed[landing(lines[-1] if lines else [])] += 1


def landing(last: list[str]) -> str:
    """Where a writer whose last report was ``last`` was killed."""
    if not last:
        return "before open"
    if last[0] == "open":
        return "in open"
    if last[0] == "begin":
        return f"in {last[1]}"
    return "between"


def run_and_kill(directory: Path, seed: int, budget_s: float, writers: Writers) -> None:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer
        try:
            os.close(read_fd)
            for number in (signal.SIGPROF, signal.SIGALRM):
                signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGPROF, signal.SIGALRM])
            signal.setitimer(signal.ITIMER_PROF, max(budget_s, 1e-6))
            # A backstop in wall-clock time: a writer that stops using CPU (a lock some other
            # thread of this process held at the fork) would never reach its budget.
            signal.setitimer(signal.ITIMER_REAL, STUCK_S)
            write_until_killed(directory, write_fd, seed)
        finally:
            os._exit(1)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stream:
        writers.read(stream)  # to the end: the writer's death closes the pipe
    _, status = os.waitpid(pid, 0)
    assert not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM), (
        f"the writer was stuck for {STUCK_S:.0f} s without using its CPU budget")
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGPROF, (
        f"the writer ended by itself (wait status {status}); its error is in the captured "
        "stderr")


def check(directory: Path, acknowledged: set[str]) -> None:
    with Session.open(directory) as session:
        ids = session.lineage.ids
        assert len(ids) == len(set(ids))
        assert ids == [f"v{n}" for n in range(len(ids))]
        missing = acknowledged - set(ids)
        assert not missing, f"acknowledged commits lost: {sorted(missing)[:5]}"
        for vid in ids[-3:]:
            assert session.read_files(vid)  # blobs of recent versions are there
        tail = session.events(after=max(0, session.last_seq - 40))
        assert [e.seq for e in tail] == list(range(tail[0].seq, session.last_seq + 1))
        assert session.version("head").id in ids


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A folder in memory where the machine has one. A killed process loses nothing the
    kernel has taken, whether or not it reached the disk (fsync guards against power loss,
    not this), so memory tests the same thing, and the writers do in microseconds what a
    busy disk makes take 20 ms."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="avo-crash-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_killed_at_random_moments_a_writer_loses_no_acknowledged_commit(folder: Path) -> None:
    directory = folder / "crashy"
    Session.create(
        directory, target="cpu-attention", operator="tuner", seed_files={"kernel.c": "// 0\n"},
        segment_capacity=CAPACITY, compact_bytes=COMPACT_BYTES,
    ).close()
    rng = random.Random(20261121)
    writers = Writers()
    for kill in range(KILLS):
        run_and_kill(directory, kill, writers.budget(rng), writers)
        if kill % REPAIR_EVERY == REPAIR_EVERY - 1:
            # Recovery from the backup chain must still bring back every acknowledged commit.
            (directory / BASE).write_bytes(b'{"format": "avo-st')
            with pytest.raises(DamagedSession):
                Session.open(directory)
            apply_repair(plan_repair(directory))
        else:
            assert not plan_repair(directory).needed
        check(directory, writers.acknowledged)
    # The kills landed in the writes themselves, not only before or between them.
    assert writers.landed["in commit"] >= KILLS // 10, writers.landed
    assert len(writers.acknowledged) >= KILLS // 2, writers.landed
