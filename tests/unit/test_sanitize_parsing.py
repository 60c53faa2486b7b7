"""The sanitize tool without a GPU: which tools may be asked for, the configuration it picks, and
the reading of compute-sanitizer's output (written below in the shape its 2025 releases print)
into a few lines per tool. A fake ``compute-sanitizer`` on the PATH stands in end to end."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from avo_tui.evaluation import (
    SANITIZER_TOOLS,
    ProfileRequestError,
    SanitizerUnavailable,
    get_target,
    smallest_config,
)
from avo_tui.evaluation.diagnostics import sanitize as sanitizing
from avo_tui.evaluation.diagnostics.profile import CHILD, LAUNCHED, run_bounded
from avo_tui.evaluation.diagnostics.sanitize import (
    check_tools,
    format_reports,
    parse_report,
    sanitize,
)
from avo_tui.evaluation.problems.attention import Shape
from avo_tui.evaluation.problems.attention import config as attention_config

CONFIG = "b1-h16-s129-d128-full"
K = "avo_attention_fwd"
RACE = f"""========= COMPUTE-SANITIZER
========= Error: Race reported between Write access at {K}+0x3a0
=========     and Read access at {K}+0x4f0 [1536 hazards]
=========     and Read access at {K}+0x510 [512 hazards]
=========
========= Warning: Race reported between Write access at {K}+0x3a0
=========     and Write access at {K}+0x3a0 [32 hazards]
=========
{LAUNCHED}
========= RACECHECK SUMMARY: 2 hazards displayed (1 error, 1 warning)
"""
RACE_CLEAN = f"""========= COMPUTE-SANITIZER
{LAUNCHED}
========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)
"""
LEGACY_HAZARD = f"""========= COMPUTE-SANITIZER
========= ERROR: Potential RAW hazard detected at __shared__ 0x80 in block (1, 0, 0) :
=========     Write Thread (32, 0, 0) at 0x000003a0 in shared_memory_race.cu:12:{K}
=========     Read Thread (0, 0, 0) at 0x000004f0 in shared_memory_race.cu:15:{K}
=========     Current Value : 0, Incoming Value : 1061997773
=========
{LAUNCHED}
========= RACECHECK SUMMARY: 1 hazard displayed (1 error, 0 warnings)
"""


def invalid_write(thread: int, offset: str = "0x1c70") -> str:
    return f"""========= Invalid __global__ write of size 16 bytes
=========     at {K}+{offset} in attention.cu:301
=========     by thread ({thread},0,0) in block (0,3,0)
=========     Address 0x7f1a2c000100 is out of bounds
=========     and is 256 bytes after the nearest allocation at 0x7f1a2b000000 of size 16 bytes
=========
"""


MEMCHECK = ("========= COMPUTE-SANITIZER\n" + invalid_write(128) + invalid_write(129)
            + invalid_write(130) + invalid_write(0, "0x2000")
            + """========= Program hit cudaErrorLaunchFailure (error 719) due to \
"unspecified launch failure" on CUDA API call to cuStreamSynchronize.
=========
Traceback (most recent call last):
RuntimeError: CUDA error: unspecified launch failure
========= Target application returned an error
========= ERROR SUMMARY: 5 errors
""")
SYNCCHECK = f"""========= COMPUTE-SANITIZER
========= Barrier error detected. Divergent thread(s) in warp
=========     at {K}+0x880
=========     by thread (96,0,0) in block (0,0,0)
=========
{LAUNCHED}
========= ERROR SUMMARY: 1 error
"""
CLEAN = f"========= COMPUTE-SANITIZER\n{LAUNCHED}\n========= ERROR SUMMARY: 0 errors\n"
NOT_BUILT = """========= COMPUTE-SANITIZER
the candidate does not build: compile: kernel.cu(12): error: identifier "x" is undefined
========= Target application returned an error
========= ERROR SUMMARY: 0 errors
"""


def lines_of(tool: str, text: str) -> list[str]:
    return format_reports(CONFIG, [parse_report(tool, text, "last words")]).splitlines()[1:]


# -- the request ------------------------------------------------------------------------------


def test_unknown_tools_name_every_allowed_one() -> None:
    with pytest.raises(ProfileRequestError) as caught:
        check_tools(["racecheck", "leakcheck"])
    assert "'leakcheck'" in str(caught.value)
    assert all(tool in str(caught.value) for tool in SANITIZER_TOOLS)
    with pytest.raises(ProfileRequestError):
        check_tools([])
    assert check_tools("memcheck") == ("memcheck",)
    assert check_tools(["memcheck", "racecheck", "memcheck"]) == ("memcheck", "racecheck")


def test_the_smallest_configuration_covers_more_than_one_tile_of_keys() -> None:
    assert smallest_config("mha") == CONFIG
    assert smallest_config(get_target("cpu-attention")) == "b1-h4kv2-s129-d64-causal"
    mha = get_target("mha")
    edges = (attention_config(1, 16, 16, 37, 128, True, "bfloat16"),
             attention_config(1, 16, 16, 1, 128, False, "bfloat16"))
    short = dataclasses.replace(mha, edge_configs=edges, quick_configs=())
    assert smallest_config(short) == "b1-h16-s1-d128-full"  # none long enough: the smallest
    chosen = next(c for c in mha.edge_configs if c.name == CONFIG)
    assert all(mha.work(c) >= mha.work(chosen) for c in (*mha.edge_configs, *mha.quick_configs)
               if Shape.of(c).seq_len > 128)


# -- reading the tools' output ----------------------------------------------------------------


def test_a_race_names_its_accesses_and_counts_hazards() -> None:
    report = parse_report("racecheck", RACE)
    assert (report.errors, report.warnings, report.hazards) == (1, 1, 1536 + 512 + 32)
    lines = lines_of("racecheck", RACE)
    assert lines[0] == "racecheck: 1 errors and 1 warnings over 2080 hazards; the first 3 distinct:"
    assert lines[1] == (f"  error: write-read race at {K}+0x3a0 and {K}+0x4f0 (1536 hazards)")
    assert lines[3] == (f"  warning: write-write race at {K}+0x3a0 and {K}+0x3a0 (32 hazards)")


def test_the_older_hazard_report_is_read_too() -> None:
    lines = lines_of("racecheck", LEGACY_HAZARD)
    assert lines[0].startswith("racecheck: 1 errors and 0 warnings over 1 hazards")
    assert "error: RAW hazard at Write Thread (32, 0, 0) at 0x000003a0 in" in lines[1]
    assert "shared_memory_race.cu:12" in lines[1]


def test_clean_runs_say_clean_and_what_was_checked() -> None:
    assert lines_of("racecheck", RACE_CLEAN) == ["racecheck: clean (no shared-memory data races)"]
    assert lines_of("synccheck", CLEAN)[0].startswith("synccheck: clean (no invalid barrier")
    assert parse_report("memcheck", CLEAN).clean


def test_memcheck_groups_errors_by_kind_and_place_and_notes_the_fault() -> None:
    lines = lines_of("memcheck", MEMCHECK)
    assert lines[0] == "memcheck: 5 errors; the first 3 distinct:"
    assert lines[1] == (f"  Invalid __global__ write of size 16 bytes at {K}+0x1c70 in "
                        "attention.cu:301 (thread (128,0,0) in block (0,3,0)), 3 like it")
    assert f"{K}+0x2000" in lines[2] and "like it" not in lines[2]
    assert "Program hit cudaErrorLaunchFailure" in lines[3]
    assert lines[-1] == "  (the launch did not complete: a fault ended it)"


def test_a_barrier_error_shows_where_and_which_thread() -> None:
    assert lines_of("synccheck", SYNCCHECK) == [
        "synccheck: 1 errors; the first 1 distinct:",
        f"  Barrier error detected. Divergent thread(s) in warp at {K}+0x880 "
        "(thread (96,0,0) in block (0,0,0))",
    ]


def test_a_launch_that_never_ran_is_not_called_clean() -> None:
    report = parse_report("synccheck", NOT_BUILT, "the candidate does not build: ...")
    assert not report.clean
    assert lines_of("synccheck", NOT_BUILT) == [
        "synccheck: the candidate did not run to completion: last words"
    ]


def test_many_distinct_errors_are_cut_to_a_few() -> None:
    text = "".join(invalid_write(i, hex(0x100 * i)) for i in range(30)) + "ERROR SUMMARY: 30 errors"
    lines = lines_of("memcheck", text)
    assert lines[0] == "memcheck: 30 errors; the first 4 distinct:"
    assert len(lines) == 1 + sanitizing.MAX_FINDINGS + 1  # and the fault note: no launch marker


# -- sanitize() end to end, with a fake compute-sanitizer -------------------------------------

FAKE_SANITIZER = """#!{python}
import json, pathlib, sys
args = sys.argv[1:]
request = json.loads(pathlib.Path(args[-1]).read_text())
with open({log!r}, "a") as log:
    log.write(json.dumps({{"args": args, "request": request}}) + "\\n")
tool = args[args.index("--tool") + 1]
print(pathlib.Path({outputs!r}, tool + ".txt").read_text())
"""


def install_fake_sanitizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           outputs: dict[str, str]) -> Path:
    folder, log, texts = tmp_path / "bin", tmp_path / "calls.log", tmp_path / "outputs"
    folder.mkdir()
    texts.mkdir()
    for tool, text in outputs.items():
        (texts / f"{tool}.txt").write_text(text)
    tool_path = folder / "compute-sanitizer"
    tool_path.write_text(FAKE_SANITIZER.format(python=sys.executable, log=str(log),
                                               outputs=str(texts)))
    tool_path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    return log


def test_sanitize_runs_each_tool_on_the_launch_child_of_the_entry_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = install_fake_sanitizer(tmp_path, monkeypatch, {"racecheck": RACE, "synccheck": CLEAN})
    text = sanitize("mha", K, {"k.cu": "// kernel"}, CONFIG, tools=["synccheck", "racecheck"])
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["args"][c["args"].index("--tool") + 1] for c in calls] == ["synccheck", "racecheck"]
    for call in calls:
        args = call["args"]
        assert args[args.index("--kernel-name") + 1] == f"regex={K}"
        assert args[-3:-1] == ["-c", CHILD]
        assert call["request"] == {"target": "mha", "sources": {"k.cu": "// kernel"},
                                   "config": CONFIG}
    lines = text.splitlines()
    assert lines[0] == f"compute-sanitizer on {CONFIG} (one launch):"
    assert lines[1].startswith("synccheck: clean")
    assert lines[2].startswith("racecheck: 1 errors")


def test_a_device_the_sanitizer_refuses_is_sanitizer_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = "========= Error: Device not supported. Please refer to the documentation.\n"
    install_fake_sanitizer(tmp_path, monkeypatch, {"memcheck": refused})
    with pytest.raises(SanitizerUnavailable, match="Device not supported"):
        sanitize("mha", K, {"k.cu": ""}, CONFIG, tools=["memcheck"])


def test_no_sanitizer_or_a_cpu_target_is_sanitizer_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sanitizing, "find_tool", lambda name, places=(): None)
    with pytest.raises(SanitizerUnavailable, match="not installed"):
        sanitize("mha", K, {}, CONFIG)
    with pytest.raises(SanitizerUnavailable, match="not a CUDA target"):
        sanitize("cpu-attention", K, {}, "b1-h4kv2-s129-d64-causal")
    with pytest.raises(ProfileRequestError):
        sanitize("mha", K, {}, CONFIG, tools=["valgrind"])


GRANDPARENT = """
import os, signal, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
print(child.pid, flush=True)
signal.pause()
"""


def test_a_tool_past_its_time_limit_is_killed_with_the_child_it_started() -> None:
    done = run_bounded([sys.executable, "-c", GRANDPARENT], timeout_s=3)
    assert done.returncode is None
    try:
        handle = os.pidfd_open(int(done.stdout.split()[0]))
    except ProcessLookupError:
        return  # gone already
    # A pidfd turns readable once its process has exited; a SIGKILLed one may still be on its
    # way out when the pipes close, so this waits for that, not for a time.
    with os.fdopen(handle) as pidfd:
        assert select.select([pidfd], [], [], 60)[0]


# A tool (here a stand-in for ncu) that starts a child on the GPU and writes the child's pid to
# the file its argument names; and a caller that runs it through run_bounded and turns SIGTERM
# into SystemExit, as benchmarks/profile_vs_fa4.py does.
TOOL_WITH_PIDFILE = """
import signal, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
with open(sys.argv[1], "w") as fifo:
    fifo.write(str(child.pid))
signal.pause()
"""
CALLER = """
import signal, sys
from avo_tui.evaluation.diagnostics.profile import run_bounded
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
run_bounded([sys.executable, "-c", sys.argv[1], sys.argv[2]], 600)
"""


def test_a_caller_stopped_while_it_waits_takes_the_tool_and_its_child_with_it(
    tmp_path: Path,
) -> None:
    # A profile run stopped by an outer `timeout` (SIGTERM) once left ncu and the kernel it
    # profiled on the GPU, in their own session, and the next evaluation stalled behind them.
    pidfile = tmp_path / "child.pid"
    os.mkfifo(pidfile)
    root = Path(__file__).resolve().parents[2]
    # The read end is open before the tool starts, so its write never blocks; the test wakes
    # when the pid arrives, however slow the machine.
    reader = os.open(pidfile, os.O_RDONLY | os.O_NONBLOCK)
    caller = subprocess.Popen([sys.executable, "-c", CALLER, TOOL_WITH_PIDFILE, str(pidfile)],
                              cwd=root, env=os.environ | {"PYTHONPATH": str(root)})
    try:
        with os.fdopen(reader) as fifo:
            assert select.select([fifo], [], [], 600)[0], "the tool never started its child"
            grandchild = int(fifo.read())
        caller.send_signal(signal.SIGTERM)
        assert caller.wait(timeout=60) == 143
    finally:
        caller.kill()
    try:
        handle = os.pidfd_open(grandchild)
    except ProcessLookupError:
        return  # gone already
    with os.fdopen(handle) as pidfd:  # readable once the child has exited
        try:
            assert select.select([pidfd], [], [], 60)[0], "the tool's child outlived its caller"
        finally:
            with contextlib.suppress(ProcessLookupError):  # never leave it behind
                signal.pidfd_send_signal(pidfd.fileno(), signal.SIGKILL)
