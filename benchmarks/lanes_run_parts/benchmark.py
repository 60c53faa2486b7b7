"""The benchmark itself: the runs, the kill, the resume and the checks."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common import ROOT
from common.slowed_seed import SHARE, SeedError, share_of, slowed_seed, work_factor

from lanes_run_parts.script import FakeApi, Script
from lanes_run_parts.settings import (
    API_KEY,
    NAME,
    POLL_S,
    SETTINGS,
    WORKERS_EXIT_S,
    Failed,
    progress,
)
from lanes_run_parts.watch import (
    Run,
    Snapshot,
    alive,
    approvable,
    descendants,
    ended_within,
    events_after,
    snapshot,
)

from avo_tui.evaluation import TargetSpec


@dataclass
class Outcome:
    """Everything measured, for the report."""

    target: str
    lanes: int
    placement: str
    slowdown: str
    seconds: dict[str, float] = field(default_factory=dict)
    kill: dict[str, Any] = field(default_factory=dict)
    lineage: list[dict[str, Any]] = field(default_factory=list)
    per_lane: list[dict[str, Any]] = field(default_factory=list)
    interrupted: list[dict[str, Any]] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)  # suspects approved, as the operator
    stopped: list[int] = field(default_factory=list)  # lanes stopped once their share was out
    api: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def check(self, name: str, passed: bool, reason: str) -> None:
        self.checks[name] = bool(passed)
        if not passed:
            self.reasons[name] = reason

    @property
    def failed(self) -> str | None:
        return next((f"{name}: {why}" for name, why in self.reasons.items()), None)


@dataclass
class Killed:
    """What the kill left: the session as the dead run wrote it, what the agents were told,
    and the run's processes that outlived it."""

    session: Snapshot
    told: list[str]
    outlived: list[int]


KILLED = "killed.json"  # what the kill left, for a later phase (--phase resume)


def save_killed(workdir: Path, killed: Killed, seconds: dict[str, float],
                stopped: list[int]) -> None:
    """What the kill left, the seconds so far and the lanes stopped so far, for a later
    phase: its report counts a lane stopped in an earlier phase as stopped."""
    (workdir / KILLED).write_text(json.dumps({
        "session": asdict(killed.session), "told": killed.told, "outlived": killed.outlived,
        "seconds": seconds, "stopped": stopped}))


def load_killed(workdir: Path, seconds: dict[str, float], stopped: list[int]) -> Killed:
    """What an earlier phase's kill left (save_killed), its seconds added to ``seconds`` and
    its stopped lanes to ``stopped``."""
    try:
        saved = json.loads((workdir / KILLED).read_text())
    except (OSError, ValueError) as error:
        raise Failed(f"--phase resume: no run killed by an earlier phase in {workdir} "
                     f"({error}); start with --phase first") from None
    session = saved["session"]
    by_lane = ("flying", "steps")  # JSON keeps int keys as strings
    session.update({k: {int(lane): v for lane, v in session[k].items()} for k in by_lane})
    session["shares"] = {ref: {int(k): v for k, v in knobs.items()}
                         for ref, knobs in session["shares"].items()}
    seconds.update(saved["seconds"])
    stopped.extend(saved.get("stopped", []))
    return Killed(Snapshot(**session), saved["told"], saved["outlived"])


class Benchmark:
    def __init__(self, args: argparse.Namespace, target: TargetSpec, workdir: Path) -> None:
        self.target, self.workdir = target, workdir
        self.lanes, self.shares = args.lanes, args.shares
        self.operators: list[str] = args.operator.split(",")
        self.tuners = [k for k in range(1, self.lanes + 1) if self.operator_of(k) == "tuner"]
        # With tuner lanes, an agent lane's share is no knob, so a tuner cannot take it out.
        hidden = frozenset(share_of(k, self.shares) for k in range(1, self.lanes + 1)
                           if k not in self.tuners) if self.tuners else frozenset()
        self.phase, self.kill_after, self.stop_after = args.phase, args.kill_after, args.stop_after
        self.directory = workdir / "sessions" / NAME
        try:
            ((name, source),) = slowed_seed(target, self.shares, hidden, args.share).items()
        except SeedError as error:
            raise Failed(str(error)) from None
        seed = workdir / "seed" / name
        seed.parent.mkdir(parents=True, exist_ok=True)
        seed.write_text(source)  # the same on a later phase's start
        settings = workdir / "settings.toml"
        settings.write_text(SETTINGS)
        self.api = FakeApi(Script(name, self.shares, hidden))
        self.env = dict(os.environ, AVO_SETTINGS=str(settings), ANTHROPIC_API_KEY=API_KEY,
                        PYTHONPATH=os.pathsep.join(
                            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        placement = (["--ray", args.ray] if args.ray
                     else ["--gpus", args.gpus] if target.device == "cuda"
                     else ["--workers", str(args.workers)])
        self.avo = [sys.executable, "-m", "avo_tui", "--sessions-dir", str(self.directory.parent)]
        hours = ["--hours", f"{args.minutes / 60:.6f}"] if args.minutes else []
        cap = ["--gate-cap", f"{args.gate_cap:g}"] if args.gate_cap else []
        self.command = [*self.avo, "run", "--session", NAME, "--target", target.ref, "--lanes",
                        str(self.lanes), "--operator", args.operator, "--headless", "--quick",
                        "--seed", str(seed), "--max-steps", str(args.max_steps), *hours,
                        *cap, *placement]
        num, den = args.share or SHARE[target.toolchain]
        factor = work_factor(self.shares, target.toolchain, args.share)
        self.outcome = Outcome(
            target.name, self.lanes, " ".join(placement),
            f"{self.shares} shares of {num}/{den} (lane K owns share (K - 1) % {self.shares} + "
            f"1); the seed does {factor:.2f}x the shipped seed's work")
        self.deadline = time.monotonic() + args.timeout
        self.api.hold_s = args.timeout

    def operator_of(self, lane: int) -> str:
        return self.operators[(lane - 1) % len(self.operators)]

    def run(self) -> Outcome | None:
        """Every phase in this process (``all``), or one of them: None after ``first`` and
        after a ``resume`` stopped by --stop-after, whose state the next phase reads."""
        seconds, began = self.outcome.seconds, time.monotonic()
        with self.api.serving() as url:
            self.env["ANTHROPIC_BASE_URL"] = url
            if self.phase in ("all", "first"):
                progress(f"run 1: {self.lanes} lanes ({', '.join(self.operators)}) on "
                         f"{self.target.name} ({self.outcome.placement}); the seed is scored "
                         "twice first")
                first = Run(self.command, self.env, self.workdir / "run-1.log")
                try:
                    killed = self.kill_when_parallel(first, first.start())
                finally:
                    first.stop()
                seconds["to_kill"] = round(time.monotonic() - began, 1)
                if self.phase == "first":
                    save_killed(self.workdir, killed, seconds, self.outcome.stopped)
                    progress(f"phase first done: the session and what the kill left are in "
                             f"{self.workdir}; go on with --phase resume --dir {self.workdir}")
                    return None
            else:
                killed = load_killed(self.workdir, seconds, self.outcome.stopped)
                self.api.open_every_lane()
            runs = len(list(self.workdir.glob("run-*.log")))
            progress(f"run {runs + 1}: the same command, a resume")
            resumed = Run(self.command, self.env, self.workdir / f"run-{runs + 1}.log")
            found = snapshot(self.directory, self.lanes)
            if found is None:
                raise Failed("the session cannot be read before the resume")
            try:
                code = self.watch(resumed, resumed.start(), found)
            finally:
                resumed.stop()
            seconds[f"run_{runs + 1}"] = round(time.monotonic() - began, 1)
            _, requests = self.api.seen()
            if code is None:  # stopped by --stop-after: the next phase goes on
                save_killed(self.workdir, killed, seconds, self.outcome.stopped)
                progress(f"run {runs + 1} stopped after --stop-after; go on with --phase "
                         f"resume --dir {self.workdir}")
                return None
        seconds["total"] = round(time.monotonic() - began, 1)
        after = snapshot(self.directory, self.lanes)
        if after is None:
            raise Failed("the session cannot be read after the resume")
        self.outcome.api = {"requests": sum(requests.values()),
                            "per_lane": {str(k): v for k, v in sorted(requests.items())}}
        self.verify(killed, after, events_after(self.directory, 0))
        self.outcome.check("resume_finished", code == 0 and not after.flying
                           and after.status in ("finished", "stopped"),
                           f"exit {code}, status {after.status}, in flight "
                           f"{sorted(after.flying)}:\n{resumed.tail()}")
        return self.outcome

    def kill_when_parallel(self, run: Run, proc: subprocess.Popen[bytes]) -> Killed:
        """Watch the session until a version is committed while >= 2 evaluations are in
        flight, then kill -9 the run (its workers, in sessions of their own, are left to end by
        themselves, as they do when their parent dies)."""
        committed: list[str] = []
        started = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise Failed(f"run 1 ended (exit {proc.returncode}) before a commit met two "
                             f"evaluations in flight:\n{run.tail()}")
            if time.monotonic() > self.deadline:
                raise Failed("--timeout passed before a commit met two evaluations in flight:"
                             f"\n{run.tail()}")
            if len(self.api.holding()) == self.lanes:
                raise Failed("every lane had its share out before a commit met two "
                             f"evaluations in flight:\n{run.tail()}")
            now = snapshot(self.directory, self.lanes)
            if now is not None and time.monotonic() - started >= self.kill_after:
                if now.agent_versions != committed:
                    committed = now.agent_versions
                    progress(f"run 1: committed {', '.join(committed)}")
                if committed and now.running() >= 2 and self.still_parallel(proc):
                    break
                self.approve_jumps(now)
            time.sleep(POLL_S)
        workers = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        self.api.release()  # the killed run's held requests: nobody waits for them now
        self.api.open_every_lane()
        told, _ = self.api.seen()
        at_kill = snapshot(self.directory, self.lanes)
        if at_kill is None:
            raise Failed("the session cannot be read after the kill")
        progress(f"killed run 1 (-9) with {len(at_kill.flying)} candidates in flight (lanes "
                 f"{', '.join(map(str, at_kill.flying)) or 'none'}) and "
                 f"{', '.join(at_kill.agent_versions)} committed")
        return Killed(at_kill, [version for _, version in told], self.outlived(workers))

    def still_parallel(self, proc: subprocess.Popen[bytes]) -> bool:
        """Stop the run (SIGSTOP) and read its session again: True, the run left stopped, where
        a commit and >= 2 evaluations are still in flight, so the kill that follows finds them
        as read; else the run goes on. On four H200s an evaluation can end within a poll: the
        watch, killing on what it had read, left 1 in flight in 1 run of 5, and waiting for
        the same two at two polls found none in 3 runs of 10."""
        os.kill(proc.pid, signal.SIGSTOP)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)  # stopped once it returns, not when sent
        if not os.WIFSTOPPED(status):  # it ended first: the watch's next poll says so
            proc.returncode = os.waitstatus_to_exitcode(status)
            return False
        now = snapshot(self.directory, self.lanes)
        if now is not None and now.agent_versions and now.running() >= 2:
            return True
        os.kill(proc.pid, signal.SIGCONT)
        return False

    def outlived(self, workers: list[int]) -> list[int]:
        """The killed run's processes still alive after WORKERS_EXIT_S (then ended here)."""
        deadline = time.monotonic() + WORKERS_EXIT_S
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        left = [p for p in workers if alive(p)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        return left

    def watch(self, run: Run, proc: subprocess.Popen[bytes], before: Snapshot) -> int | None:
        """Wait for the resumed run to end, approving the suspects it holds (approve_jumps)
        and stopping each agent lane once it has taken a step in this run and its share is out
        of the head (it has nothing left to do; a stop sent before the kill would have waited
        in the inbox and ended the lane before it resumed); tuner lanes search on. After
        --stop-after seconds the whole run is stopped, as its operator would, and None is
        returned: a later phase resumes it. ``before`` is the session as this run found it
        (the kill's; after a stop, the stopped run's)."""
        # Stopped here, not in an earlier phase: a stop sent just before the whole run was
        # stopped may not have been taken, and the lane then steps again in this run.
        stopped: list[int] = []
        began = time.monotonic()
        while proc.poll() is None:
            if time.monotonic() > self.deadline:
                raise Failed(f"the resumed run had not ended by --timeout:\n{run.tail()}")
            if self.stop_after and time.monotonic() - began >= self.stop_after:
                self.stop_whole(run, proc)
                return None
            now = snapshot(self.directory, self.lanes)
            if now is not None:
                self.approve_jumps(now)
                holding = self.api.holding()
                for lane in range(1, self.lanes + 1):
                    if (lane not in stopped and lane not in self.tuners
                            and share_of(lane, self.shares) in now.out(now.head)
                            and (lane in holding
                                 or now.steps.get(lane, 0) > before.steps.get(lane, 0))):
                        if not self.send("--lane", str(lane), "stop", run_ended=proc):
                            break  # the run ended on its own meanwhile: nothing to stop
                        stopped.append(lane)
                        if lane not in self.outcome.stopped:
                            self.outcome.stopped.append(lane)
                        self.api.release([lane])
            time.sleep(POLL_S)
        return proc.returncode

    def stop_whole(self, run: Run, proc: subprocess.Popen[bytes]) -> None:
        """``avo send stop`` to the run, its held agents let go, and its end awaited."""
        if self.send("stop", run_ended=proc):
            self.api.release()
        try:
            proc.wait(max(1.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Failed(f"the run had not stopped by --timeout:\n{run.tail()}") from None

    def send(self, *command: str, run_ended: subprocess.Popen[bytes] | None = None) -> bool:
        """``avo send`` a command to the run, as its operator; False where it was refused
        because the run (``run_ended``) ended between the look and the send."""
        done = subprocess.run([*self.avo, "send", NAME, *command], env=self.env, cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            if run_ended is not None and ended_within(run_ended, POLL_S * 10):
                progress(f"not sent {' '.join(command)}: the run had ended")
                return False
            raise Failed(f"avo send {NAME} {' '.join(command)} failed: "
                         f"{(done.stderr or done.stdout).strip()}")
        progress(f"sent {' '.join(command)}")
        return True

    def approve_jumps(self, now: Snapshot) -> None:
        """As the operator: approve the suspect approvable() picks."""
        attempt = approvable(now, self.outcome.approved)
        if attempt is not None:
            self.send("approve", attempt)
            self.outcome.approved.append(attempt)

    # -- the checks (the module's doc lists them) ---------------------------------------------

    def verify(self, killed: Killed, after: Snapshot,
               events: list[tuple[int, str, dict[str, Any]]]) -> None:
        at_kill, out = killed.session, self.outcome
        out.kill = {
            "after_s": out.seconds.get("to_kill"),
            "in_flight": {str(k): {"base": f["base"], "gpu": f.get("gpu")}
                          for k, f in at_kill.flying.items()},
            "drafts": at_kill.drafts,
            "resumable_drafts": at_kill.resumable,
            "versions_in_store": at_kill.agent_versions,
            "versions_agents_were_told": killed.told,
            "workers_outlived": len(killed.outlived),
        }
        out.check("kill_during_parallel_evaluations", at_kill.running() >= 2,
                  f"the kill left {len(at_kill.flying)} candidates in flight")
        out.check("commit_acknowledged_before_kill", bool(at_kill.agent_versions),
                  "nothing was committed before the kill")
        self.check_kept(killed, after)
        approved = {data.get("version"): data.get("attempt") for _, kind, data in events
                    if kind == "suspect" and data.get("action") == "approved"}
        self.check_lineage(after, approved)
        self.check_interrupted(at_kill, after)
        self.check_lanes(at_kill, after, [(kind, data) for seq, kind, data in events
                                          if seq > at_kill.last_seq])
        out.check("no_orphaned_workers", not killed.outlived,
                  f"processes {killed.outlived} of the killed run outlived it by "
                  f"{WORKERS_EXIT_S:.0f} s")

    def check_kept(self, killed: Killed, after: Snapshot) -> None:
        at_kill, keys = killed.session, ("id", "files", "lane", "parent", "author")
        versions = {v["id"]: v for v in after.versions}
        lost = [v["id"] for v in at_kill.versions
                if {k: versions.get(v["id"], {}).get(k) for k in keys} != {k: v[k] for k in keys}]
        lost += [v for v in killed.told if v not in at_kill.agent_versions]
        self.outcome.check("acknowledged_versions_kept", not lost,
                           f"{', '.join(lost)} acknowledged before the kill, not kept as it was")
        kept = after.attempts[: len(at_kill.attempts)]
        changed = [a["id"] for a, b in zip(at_kill.attempts, kept, strict=False) if a != b]
        changed += [a["id"] for a in at_kill.attempts[len(kept):]]
        self.outcome.check("attempts_kept", not changed,
                           f"attempts {', '.join(changed)} changed or lost")

    def check_lineage(self, after: Snapshot, approved: dict[Any, Any]) -> None:
        """Ids without a gap or repeat, distinct kernels, each version decided once in its
        lane (by the gate, or as an approved suspect), each one share on the version before."""
        out = self.outcome
        ids = [v["id"] for v in after.versions]
        kernels = {json.dumps(v["files"], sort_keys=True) for v in after.versions}
        attempts = {a["id"]: a for a in after.attempts}
        strays = []
        for v in after.versions[1:]:
            deciding = [a["lane"] for a in after.attempts
                        if a["outcome"] == "committed" and a["version"] == v["id"]]
            if v["id"] in approved:
                deciding.append(attempts[approved[v["id"]]]["lane"])
            if deciding != [v["lane"]]:
                strays.append(v["id"])
        out.lineage = [{"id": v["id"], "parent": v["parent"], "lane": v["lane"],
                        "shares_out": sorted(after.out(v["id"])),
                        "approved": v["id"] in approved} for v in after.versions]
        out.check("lineage_whole", ids == [f"v{n}" for n in range(len(ids))]
                  and len(kernels) == len(ids) and not strays,
                  f"versions {ids}, {len(kernels)} distinct kernels; not decided exactly once "
                  f"in their lane: {strays}")
        apart = [new["id"] for old, new in zip(after.versions, after.versions[1:], strict=False)
                 if not self.builds_on(self.built_on(old, new), new, after)]
        out.check("versions_build_on_each_other", not apart,
                  f"{apart} are not the version they build on with one more share out, that of "
                  "their lane (the version before them; from a tuner lane, its parent, with its "
                  "share out or not)")

    def built_on(self, before: dict[str, Any], new: dict[str, Any]) -> str:
        """The version ``new`` builds on: the one before it for an agent lane's (the scripted
        agents merge their share onto the newest version, whatever their step started from);
        its parent for a tuner lane's, which starts from its island of the frontier
        (engine/lanes.py) and merges nothing."""
        return str(new["parent"] if new["lane"] in self.tuners and new["parent"] else before["id"])

    def builds_on(self, old: str, new: dict[str, Any], after: Snapshot) -> bool:
        """``new`` is ``old`` with its lane's share out; or, from a tuner lane, ``old``'s
        shares with other knobs turned (a tuner searches on once its share is out)."""
        mine, before, now = share_of(new["lane"] or 1, self.shares), after.out(old), \
            after.out(new["id"])
        if new["lane"] in self.tuners and now == before:
            return True
        return mine not in before and now == before | {mine}

    def check_interrupted(self, at_kill: Snapshot, after: Snapshot) -> None:
        written = {a["id"] for a in at_kill.attempts}
        interrupted = [a for a in after.attempts
                       if a["id"] not in written and a["outcome"] == "interrupted"]
        self.outcome.interrupted = [{"attempt": a["id"], "lane": a["lane"], "base": a["base"]}
                                    for a in interrupted]
        flying = at_kill.flying
        wrong = sorted(a["lane"] for a in interrupted) != sorted(flying) or any(
            (a["files"], a["base"]) != (flying[a["lane"]]["files"], flying[a["lane"]]["base"])
            for a in interrupted)
        self.outcome.check("interrupted_once_per_lane", not wrong,
                           f"in flight at the kill: lanes {sorted(flying)}; recorded "
                           f"interrupted: {[(a['id'], a['lane']) for a in interrupted]}")

    def check_lanes(self, at_kill: Snapshot, after: Snapshot,
                    events: list[tuple[str, dict[str, Any]]]) -> None:
        """Per lane, after the resume: its step taken up from its draft, its steps and
        attempts; and the commits of the whole run."""
        out = self.outcome
        written = {a["id"] for a in at_kill.attempts}
        resumed = {data.get("lane") for kind, data in events if kind == "step_resumed"}
        out.per_lane = [{
            "lane": lane,
            "in_flight_at_kill": lane in at_kill.flying,
            "draft_at_kill": lane in at_kill.drafts,
            "draft_resumable": lane in at_kill.resumable,
            "resumed_from_draft": lane in resumed,
            "steps_after": sum(1 for kind, data in events
                               if kind == "step" and data.get("lane") == lane),
            "attempts_after": sum(1 for a in after.attempts if a["id"] not in written
                                  and a["lane"] == lane and a["outcome"] != "interrupted"),
            "share": share_of(lane, self.shares),
            "commits": sum(1 for v in after.versions if v["lane"] == lane),
            "stopped": lane in out.stopped,
        } for lane in range(1, self.lanes + 1)]
        stuck = [r["lane"] for r in out.per_lane if r["steps_after"] < 1
                 or (r["draft_resumable"] and not r["resumed_from_draft"])]
        out.check("every_lane_resumed", not stuck,
                  f"lanes {stuck} did not resume their step from its draft, or completed no "
                  "step after the resume")
        committing = [r["lane"] for r in out.per_lane if r["commits"]]
        if self.tuners and self.shares == self.lanes:  # every lane has a share of its own
            out.check("commits_from_every_lane", len(committing) == self.lanes,
                      f"only lanes {committing} committed")
        else:
            out.check("commits_from_several_lanes", len(committing) >= 2,
                      f"only lanes {committing} committed")
        committed = sorted(share_of(new["lane"] or 1, self.shares) for old, new
                           in zip(after.versions, after.versions[1:], strict=False)
                           if after.out(new["id"]) != after.out(self.built_on(old, new)))
        # A share taken out twice was taken out on two lines of the lineage (a tuner's island
        # and the newest's): versions_build_on_each_other holds each to what it built on.
        out.check("every_share_done", sorted(set(committed)) == list(range(1, self.shares + 1))
                  and after.out(after.head) == set(committed),
                  f"shares committed {committed}, out of the head "
                  f"{sorted(after.out(after.head))}, of {self.shares}")
