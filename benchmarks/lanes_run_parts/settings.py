"""lanes_run.py's names, settings and limits, and how the benchmark fails and says where it
is."""

from __future__ import annotations

import re
import sys

from avo_tui.operators.agent import research

NAME = "lanes-run"  # the session
API_KEY = "lanes-run-key"
CPU_SHARES = 2  # the CPU target's shares (default); a GPU target has one per lane
MAX_SHARES = 8  # a GPU seed does (5/4)^8 = 6x its work at 8 (a CPU one (5/2)^N)
LANE = re.compile(r"You are lane (\d+) of (\d+)")
# plausibility_flags: over the best timed beside it, or its stored score where not timed beside
JUMP = re.compile(r"^geomean \S+ is \S+x the best (timed beside it|committed score)")
MAX_EVALUATIONS = 12  # a lane's evaluations in one step before it gives the step up
# How often the session is read while the runs go on. An evaluation lasts seconds; a read costs
# ~35 ms of CPU, which on two cores a busier watch would take from the evaluations it watches.
POLL_S = 0.5
WORKERS_EXIT_S = 30.0  # a killed run's workers end within a second or two (PARENT_POLL_S)
DEFAULT_TIMEOUT_S = 1800.0
# The agents' settings file. The debrief is the one more turn after a step's end: after a
# commit it carries the commit tool's answer ("committed vN") to the fake, which so learns what
# the agents were told before the kill.
SETTINGS = """\
[agent]
thinking = "off"
outage_wait_s = 0.05
outage_wait_max_s = 0.5
request_timeout_s = 300
debrief = true
"""
# A candidate evaluated again after the kill, identical to its promising reading from before
# it: "commit asks the gate about it" (read as a failure, a lane evaluated it 59 times over).
TWIN = re.compile(r"identical to a\d+ \(promising\)")
DONE = "my part is done"  # a scripted lane with nothing left to do ends its step saying so
CHECKLIST = "Nothing was submitted yet."  # how the commit tool's checklist opens
DEBRIEF = research.DEBRIEF.split("{", 1)[0]  # how the agent's end-of-step question opens


class Failed(Exception):
    """The benchmark cannot go on; the message is its one-line reason."""


def progress(line: str) -> None:
    print(f"lanes_run: {line}", file=sys.stderr, flush=True)
