"""The soak run: the engine and its agent against the fake server, its checkpoints, and what
they measure."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import ROOT

from soak_parts.model import seed_source
from soak_parts.settings import API_KEY, CHECKPOINTS, KERNEL, MAX_RESUMES, PROBE_TIMEOUT_S
from soak_parts.worker import InstantWorker

if TYPE_CHECKING:
    from avo_tui.engine import Engine

SCRIPT = str(ROOT / "benchmarks" / "soak.py")  # run again: the fake server, an open probe


# -- measuring the run ------------------------------------------------------------------------


class Timed:
    """Wraps one method of one object (an instance attribute shadows the class's) and keeps
    the duration of every call since the last ``take``."""

    def __init__(self, owner: object, name: str) -> None:
        self.samples: list[float] = []
        self.calls = 0
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.samples.append(time.perf_counter() - start)
                self.calls += 1

        setattr(owner, name, timed)

    def take(self) -> list[float]:
        samples, self.samples = self.samples, []
        return samples


def percentile_ms(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1e3, 3)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def probe_open(directory: Path) -> dict[str, float]:
    """In a fresh process: open the session read-only, then the real app until its first
    screen (as tests/functional/test_app.py and benchmarks/tui_scale.py drive it)."""
    from avo_tui.engine.client import RunClient
    from avo_tui.store import Session
    from avo_tui.tui import make_app

    start = time.perf_counter()
    Session.open(directory, writable=False).close()
    opened = time.perf_counter() - start

    async def app_open() -> float:
        start = time.perf_counter()
        app = make_app(RunClient(directory))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            return time.perf_counter() - start

    return {"open_s": round(opened, 4), "app_open_s": round(asyncio.run(app_open()), 3)}


def probe_in_fresh_process(directory: Path) -> dict[str, float | None]:
    command = [sys.executable, SCRIPT, "--probe-open", str(directory)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              start_new_session=True, check=True)
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (subprocess.SubprocessError, ValueError, IndexError) as error:
        print(f"soak: the open probe failed: {error}", file=sys.stderr)
        return {"open_s": None, "app_open_s": None}


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the soak counts from the engine's events (on the engine's thread)."""

    kinds: Counter[str] = field(default_factory=Counter)
    step_numbers: list[int] = field(default_factory=list)
    committed_steps: int = 0
    ended_early: Counter[str] = field(default_factory=Counter)
    crashed_status: int = 0
    versions: int = 1
    last_event: int = 0

    def add(self, event: Any) -> None:
        self.kinds[event.kind] += 1
        self.last_event = event.seq
        data = event.data
        if event.kind == "step":
            self.step_numbers.append(int(data.get("step", 0)))
            summary = str(data.get("summary", ""))
            if data.get("version"):
                self.committed_steps += 1
            elif summary.startswith("step ended"):
                self.ended_early[summary.split(":", 1)[-1].strip()[:60]] += 1
        elif event.kind == "commit":
            self.versions += 1
        elif event.kind == "status" and data.get("status") == "crashed":
            self.crashed_status += 1


class Soak:
    def __init__(self, directory: Path, steps: int, seed: int, url: str,
                 checkpoints: int = CHECKPOINTS) -> None:
        from avo_tui.engine import Budgets, Evaluator, RunSettings, Usage
        from avo_tui.engine.gate import NoiseEstimate
        from avo_tui.engine.scores import score_of
        from avo_tui.operators.agent import AgentSettings
        from avo_tui.operators.agent.agent import Agent
        from avo_tui.store import Session

        os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"] = API_KEY, url
        self.steps, self.budgets = steps, Budgets(max_steps=steps)
        # Outages waited out in 0.01 s, and the quick retries (0.5 s, 1 s ...) off: every fault
        # goes through the agent's announced waits, and costs the simulation little.
        self.settings = AgentSettings(outage_wait_s=0.01, outage_wait_max_s=0.05,
                                      request_timeout_s=2.0, sdk_retries=0)
        settings = RunSettings(operator="agent", budgets=self.budgets,
                               agent=self.settings.to_doc())
        worker = InstantWorker(seed)
        self.evaluator = Evaluator(worker.target, worker)
        seed_score = score_of(self.evaluator.evaluate({KERNEL: seed_source()}))
        self.session = Session.create(directory, target=worker.target.ref, operator="agent",
                                      seed_files={KERNEL: seed_source()}, score=seed_score,
                                      host=self.evaluator.host(),
                                      settings=settings.to_doc())
        self.session.set_state(announce=False, usage=Usage().to_doc(),
                               noise=NoiseEstimate().to_doc(), baselines={})
        self.agent = Agent(self.settings)
        self.started = Timed(self.agent, "step")  # every step the operator began
        self.appends = Timed(self.session, "append_event")
        self.commits = Timed(self.session, "commit")
        self.states = Timed(self.session, "set_state")
        self.tally = Tally()
        self.rows: list[dict[str, Any]] = []
        self.crashes: list[str] = []
        self.engine: Engine | None = None
        self.result = ""
        self.clock = time.monotonic()
        self.server_stats: dict[str, int] = {}
        self.every = max(1, steps // checkpoints)

    def run(self) -> None:
        """Run the engine to the step budget; a crash is recorded and the run resumed."""
        from avo_tui.engine import Engine

        while True:
            self.engine = Engine(self.session, self.agent, self.evaluator, budgets=self.budgets)
            self.engine.subscribe(self._on_event)
            try:
                self.result = self.engine.run()
                return
            except Exception:
                self.crashes.append(traceback.format_exc())
                print(f"soak: the engine crashed (resuming):\n{self.crashes[-1]}",
                      file=sys.stderr, flush=True)
                if len(self.crashes) > MAX_RESUMES:
                    self.result = "crashed too often"
                    return

    def stop(self) -> None:
        from avo_tui.engine import Stop

        if self.engine is not None:
            self.engine.submit(Stop("interrupted by Ctrl-C (soak)"))

    def _on_event(self, event: Any) -> None:
        self.tally.add(event)
        if event.kind != "step":
            return
        number = int(event.data.get("step", 0))
        if number % 100 == 0:
            rate = number / max(1e-9, time.monotonic() - self.clock)
            print(f"soak: step {number}/{self.steps} ({rate:.2f} steps/s)", file=sys.stderr,
                  flush=True)
        if number % self.every == 0 or number == self.steps:
            self.checkpoint(number)

    def checkpoint(self, step: int) -> None:
        """One row of the table: runs on the engine's thread, which waits meanwhile."""
        appends, commits, states = self.appends.take(), self.commits.take(), self.states.take()
        row: dict[str, Any] = {
            "steps": step,
            "elapsed_s": round(time.monotonic() - self.clock, 1),
            "events": self.tally.last_event,
            "versions": self.tally.versions,
            "rss_mb": rss_mb(),
            "append_p50_ms": percentile_ms(appends, 0.5),
            "append_p99_ms": percentile_ms(appends, 0.99),
            "commit_p50_ms": percentile_ms(commits, 0.5),
            "commit_p99_ms": percentile_ms(commits, 0.99),
            "state_p99_ms": percentile_ms(states, 0.99),
            "window_commits": len(commits),
        }
        row |= probe_in_fresh_process(self.session.directory)
        row["errors"] = self.tally.kinds["error"]
        row["committed_steps"] = self.tally.committed_steps
        row["ended_early"] = sum(self.tally.ended_early.values())
        self.rows.append(row)
        print("soak: checkpoint " + json.dumps(row), file=sys.stderr, flush=True)

    def final_checkpoint(self) -> None:
        """A run stopped between checkpoints still reports where it stood."""
        last = max(self.tally.step_numbers, default=0)
        if last and (not self.rows or self.rows[-1]["steps"] != last):
            self.checkpoint(last)

    def survival(self, interrupted: bool) -> dict[str, Any]:
        """Crashes, lost steps and how the session ended."""
        numbers = self.tally.step_numbers
        last = max(numbers, default=0)
        status = self.session.state.get("status")
        lost = self.started.calls - len(numbers)
        gaps = sorted(set(range(1, last + 1)) - set(numbers))
        repeats = len(numbers) - len(set(numbers))
        survived = (not self.crashes and not self.tally.crashed_status and lost == 0
                    and not gaps and not repeats
                    and (status == "finished" or (interrupted and status == "stopped")))
        return {
            "survived": survived,
            "status": status,
            "reason": self.result,
            "crashes": len(self.crashes),
            "crashed_status_events": self.tally.crashed_status,
            "steps_started": self.started.calls,
            "step_events": len(numbers),
            "lost_steps": lost,
            "step_number_gaps": gaps[:20],
            "step_number_repeats": repeats,
        }


def start_fake_server(seed: int) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([sys.executable, SCRIPT, "--serve-fake", "--seed", str(seed)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    if not url.startswith("http://"):
        server.kill()
        raise SystemExit("soak: the fake Messages API did not start")
    return server, url


def stop_fake_server(server: subprocess.Popen[str]) -> dict[str, int]:
    try:
        out, _ = server.communicate("stop\n", timeout=30)
        return dict(json.loads(out.strip().splitlines()[-1]))
    except (subprocess.SubprocessError, ValueError, IndexError):
        server.kill()
        return {}


def stop_on_signals() -> None:
    """Ctrl-C, and a plain ``kill``, stop the run cleanly: also in a background job, whose
    shell may have started it with SIGINT ignored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def drive(soak: Soak) -> bool:
    """Run the soak on a thread; Ctrl-C asks the engine to stop, a second one leaves."""
    finished = threading.Event()

    def run() -> None:
        try:
            soak.run()
        finally:
            finished.set()

    # Not Thread.join: on Python 3.11 a join interrupted by Ctrl-C can leave is_alive() False
    # while the thread still runs.
    thread = threading.Thread(target=run, name="soak-engine", daemon=True)
    thread.start()
    interrupted = False
    while not finished.is_set():
        try:
            finished.wait(0.5)
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            print("\nsoak: stopping at the next safe point (Ctrl-C again to leave now)",
                  file=sys.stderr, flush=True)
            soak.stop()
    thread.join()
    return interrupted
