"""SIGKILL a writing process at random moments; the session must always open with every
acknowledged commit present and no version id duplicated."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from avo_tui.store import Score, Session
from avo_tui.store.errors import DamagedSession
from avo_tui.store.journal_storage import BASE
from avo_tui.store.repair import apply_repair, plan_repair

KILLS = 220
# Small segments and a small journal threshold, so kills also land in sealing and compaction.
CAPACITY = {"events": 16, "versions": 8, "attempts": 8}
COMPACT_BYTES = 4096


def write_until_killed(directory: Path, ack_fd: int, seed: int) -> None:
    rng = random.Random(seed)
    session = Session.open(directory, compact_bytes=COMPACT_BYTES)
    n = 0
    while True:
        n += 1
        roll = rng.random()
        if roll < 0.45:
            version = session.commit(
                {"kernel.c": f"// child {seed} step {n}\n" * rng.randint(1, 40)},
                author="tuner",
                message=f"step {n}",
                score=Score(rng.random()),
            )
            os.write(ack_fd, f"{version.id}\n".encode())
        elif roll < 0.8:
            session.append_event("tool_call", step=n, payload="x" * rng.randint(0, 300))
        elif roll < 0.9:
            session.record_attempt(
                {"kernel.c": f"// attempt {n}\n"}, base=session.head.id, author="tuner",
                outcome="incorrect", detail="max error 3e-2", log="log " * rng.randint(1, 100),
            )
        else:
            session.rollback(rng.choice(session.lineage.ids))


def run_and_kill(directory: Path, seed: int, delay_s: float) -> list[str]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer
        os.close(read_fd)
        try:
            write_until_killed(directory, write_fd, seed)
        finally:
            os._exit(1)
    os.close(write_fd)
    time.sleep(delay_s)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    acked = b""
    while chunk := os.read(read_fd, 65536):
        acked += chunk
    os.close(read_fd)
    return acked.decode().split()


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
        assert session.head.id in ids


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_acknowledged_commit(tmp_path: Path) -> None:
    directory = tmp_path / "crashy"
    Session.create(
        directory, target="cpu-attention", operator="tuner", seed_files={"kernel.c": "// 0\n"},
        segment_capacity=CAPACITY, compact_bytes=COMPACT_BYTES,
    ).close()
    rng = random.Random(20261121)
    acknowledged: set[str] = set()
    repairs = 0
    for kill in range(KILLS):
        acknowledged.update(run_and_kill(directory, seed=kill, delay_s=rng.uniform(0.0, 0.04)))
        if kill % 40 == 39:
            # Ruin the base file as a disk might: recovery from the backup chain must still
            # bring back every acknowledged commit.
            (directory / BASE).write_bytes(b'{"format": "avo-st')
            with pytest.raises(DamagedSession):
                Session.open(directory)
            apply_repair(plan_repair(directory))
            repairs += 1
        else:
            assert not plan_repair(directory).needed
        check(directory, acknowledged)
    assert len(acknowledged) > KILLS  # the writers did get commits in before dying
    assert repairs == KILLS // 40
