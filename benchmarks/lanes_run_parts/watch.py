"""The run watched from outside: its session read-only, as `avo attach` reads it, and its
processes."""

from __future__ import annotations

import ctypes
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import ROOT
from common.slowed_seed import knob_values

from lanes_run_parts.settings import JUMP

from avo_tui.engine.lanes import draft_name
from avo_tui.store import Session, StoreError

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


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """In the child, before it runs its command: killed as soon as the process that started
    it dies, however it dies. A kill -9 of this script (a test's timeout) left its run going on,
    orphaned, for 40 minutes beside the tests that came after it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Run:
    """One ``avo run`` process, its output in a log file; it ends when this script does."""

    command: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=die_with_parent)
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


def ended_within(proc: subprocess.Popen[bytes], within_s: float) -> bool:
    """Whether ``proc`` has ended, or ends within ``within_s`` seconds."""
    try:
        proc.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        return False
    return True
