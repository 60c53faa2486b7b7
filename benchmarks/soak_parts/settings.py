"""soak.py's settings: its sizes, and the rates of the faults and edits the fake agent draws."""

from __future__ import annotations

import re

API_KEY = "soak-key"
KERNEL = "attention.c"
FULL_STEPS = 10_000
QUICK_STEPS = 300
CHECKPOINTS = 10
PROBE_TIMEOUT_S = 300.0
MAX_RESUMES = 5  # crashes after which the soak gives up resuming

# Per API request.
FAULT_RATES: dict[str, float] = {
    "overloaded_529": 0.010,
    "rate_limited_429": 0.002,
    "dropped": 0.005,
    "stalled": 0.0002,  # no answer until the client's timeout
    "cut_drop": 0.0008,  # a few SSE events, then the connection closes
    "cut_end": 0.0005,  # a few SSE events, then a clean end without message_stop
    "cut_stall": 0.0002,  # a few SSE events, then silence until the client's timeout
    "malformed_sse": 0.0005,  # an SSE data line that is not JSON
}
BAD_INPUT_RATE = 0.01  # per turn: one tool call with garbled or ill-typed input

# Per edit cycle of the fake agent: what its str_replace does to the marker line.
EDIT_MIX: tuple[tuple[str, float], ...] = (
    ("gain", 0.022),  # level + 1 or 2: 1% faster per level, the only way to a commit
    ("compile_error", 0.10),
    ("incorrect", 0.08),
    ("tweak", 1.0),  # the rest: a change that costs 0.3-1.5%
)
QUICK_EVALUATE = 0.15  # of evaluations: quick grid ("checked", never committed)
EXTRA_TOOL = 0.3  # of cycles: one more call (note, plan, lineage, knowledge)
CYCLES = (3, 34)  # edit cycles a step allows itself, uniform (the agent's max_turns is 60)

MARK = re.compile(r"// avo:soak level=(\d+) tweak=(\d+) fault=(\d+)")
HEAD = re.compile(r"The workspace holds (v\d+)")
