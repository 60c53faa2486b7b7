from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# Before anything imports torch: its OpenMP threads sleep once their work is done, as the
# worker's do (isolation/worker.py). Left spinning, each test process's idle threads hold the
# cores the other xdist workers and a busy machine's processes need: on two cores beside a
# spinner, two processes judging the backward target's outputs took 19.8 s each spinning and
# 5.7-6.6 s passive (docs/testing.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from avo_tui.store import Session

# worker, template, session: a live engine's parts; knowledge, fake: the agent's
pytest_plugins = ["engine_fixtures", "agent_fixtures"]

# benchmarks/ on sys.path, as Python puts it there for a script of it that it runs: the tests
# import its shared code (benchmarks/common, the scripts' parts) and load its scripts, which import
# that code, by the names the scripts use.
BENCHMARKS = str(Path(__file__).parents[1] / "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)

# The rooms of tests/ on sys.path, as tests/ itself is (pytest's rootdir-less `prepend` import
# mode puts each test file's folder there as it collects it): a test imports another room's
# test module's helpers by its name (tests/gpu's Ray tests, test_ray_pool's), whichever room
# pytest collects first, or alone.
for room in ("unit", "functional"):
    if (folder := str(Path(__file__).parent / room)) not in sys.path:
        sys.path.insert(0, folder)

# The whole suite runs on this many pytest-xdist workers unless told otherwise (-n N, -n 0, or
# -p no:xdist), each given whole files so that a module's fixtures are built once. Three on two
# cores: much of a test's time is spent waiting on a process it started (a CLI run, a worker's
# evaluation), and a third worker fills those waits: on a quiet 2-core machine three kept the
# cores 180% busy and took 13 min 48 s, where two had kept them 139% busy (benchmarks/RESULTS.md,
# 2026-11-24, sixth session); beside a CPU hog three passed too. Runs of chosen files or tests
# stay in one process, as does a machine without xdist (the GPU machine's image) or with an
# NVIDIA GPU, where GPU tests in two processes would time on one GPU at once.
WORKERS = 3


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    option = config.option
    if (
        config.pluginmanager.hasplugin("xdist")
        and not hasattr(config, "workerinput")  # a worker itself
        and option.numprocesses is None
        and option.dist == "no"
        and not option.file_or_dir
        and not option.collectonly
        and not option.usepdb
        and shutil.which("nvidia-smi") is None
    ):
        option.numprocesses = WORKERS
        option.dist = "loadfile"
        # Files in collection order (LONGEST_FIRST), not xdist's default of most tests first.
        option.loadscopereorder = False


# The files that take longest, longest first, run before all others (measured with
# --durations=0). A worker takes the next file when it is nearly done with its own. xdist's own
# order, most tests first, puts these files of few long tests late, where one of them begun last
# keeps one core busy for minutes after the other has run out of work; begun first, the short
# files fill in beside them.
LONGEST_FIRST = (
    "tests/functional/test_app_promises.py",
    "tests/functional/test_app.py",
    "tests/functional/test_eval_cli.py",
    "tests/adversarial/test_adversarial_cpu.py",
    "tests/functional/test_lanes.py",
    "tests/adversarial/test_attacks_every_target.py",
    "tests/functional/test_ray_pool.py",
    "tests/functional/test_lanes_run_bench.py",
    "tests/functional/test_engine.py",
    "tests/functional/test_tmux_smoke.py",
    "tests/functional/test_target_files.py",
    "tests/functional/test_seed_per_arch.py",
    "tests/functional/test_packaging.py",
    "tests/functional/test_gemm_targets.py",
    "tests/adversarial/test_judge_rows.py",
    "tests/functional/test_app_lanes.py",
    "tests/unit/test_cuda_toolchain.py",
    "tests/functional/test_agent_cli.py",
    "tests/functional/test_bytes_targets.py",
    "tests/functional/test_agent_resume_cli.py",
    "tests/functional/test_agent_providers.py",
    "tests/functional/test_agent_long_run.py",
    "tests/functional/test_rmsnorm_target.py",
    "tests/functional/test_cli_resume.py",
    "tests/functional/test_gate.py",
    "tests/functional/test_suspects.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    # Stable: the tests of one file keep their order, and the other files theirs.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def memory_folder(need_bytes: int = 2 << 30) -> Path | None:
    """/dev/shm where it is a writable folder in memory with room to spare and programs may run
    from it (a test installs a wheel and runs its scripts there); None elsewhere."""
    shm = Path("/dev/shm")
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    if (not os.access(shm, os.W_OK | os.X_OK) or stats.f_flag & os.ST_NOEXEC
            or stats.f_bavail * stats.f_frsize < need_bytes):
        return None
    return shm


# Every test's tmp_path lies in memory where the machine has it. Sessions fsync every write
# (journal, atomic replacements, their folders): on a shared virtual disk each fsync took 4 ms
# and more, a third of a 200-step agent run (79 s -> 43 s). A killed process loses nothing the
# kernel has taken, on disk or not (fsync guards against power loss), so the tests test the same
# thing. Set before pytest first makes its base folder; xdist's workers are given theirs in it.
if "PYTEST_DEBUG_TEMPROOT" not in os.environ and (memory := memory_folder()) is not None:
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(memory)

# Compiled kernels go to a throwaway cache, not the user's ~/.cache; worker processes inherit it.
os.environ["AVO_CACHE_DIR"] = tempfile.mkdtemp(prefix="avo-test-cache-")
atexit.register(shutil.rmtree, os.environ["AVO_CACHE_DIR"], True)

SEED = "// seed kernel\nint tile = 64;\n"


@pytest.fixture
def c_compiler() -> None:
    """Skips a test that compiles C where this machine has no C compiler."""
    from avo_tui.evaluation.toolchains.c import CToolchain

    try:
        CToolchain().version()
    except Exception as error:  # any failure means the compiler cannot be used
        pytest.skip(str(error))


@pytest.fixture
def quick_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The importer's timed shape at 0.5 to 5 ms of its seed's estimated launch, not 5 to 50
    (kernelbench/target/configs.py): for tests whose subject (a hostile case, an edge shape at the
    problem's own length) does not hang on the timed shape, which each evaluation checks on
    several inputs and then times. The shape is still scaled from the problem's, as a CPU
    target's always is. Not shorter: a launch of 0.6 ms, shorter than a loaded machine's run
    queue waits, failed the evaluator's consistency looks on a CI run (an honest seed)."""
    from avo_tui.kernelbench.target import configs

    monkeypatch.setattr(configs, "TIMED_S", (0.0005, 0.005))


def make_session(directory: Path, **options: object) -> Session:
    # Imported here so the GPU machine, which has no tinydb, can still collect tests/gpu.
    from avo_tui.store import Score, Session

    return Session.create(
        directory,
        target="cpu-attention",
        operator="tuner",
        seed_files={"kernel.c": SEED},
        score=Score(1.0),
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def session_dir(tmp_path: Path) -> Path:
    return tmp_path / "sessions" / "demo"
