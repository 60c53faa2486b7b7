"""The example target of docs/targets.md ("Your own target, from nothing to a first run"),
taken from the page itself so that the docs cannot drift from what the tests run, and written
into a folder with its seed, edits applied where a test needs a broken variant."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from engine_helpers import SHORT_GATE_CAP_S

import avo_tui
from avo_tui.evaluation.toolchains.c import CToolchain

REPO = Path(__file__).parents[1]
DOCS = REPO / "docs" / "targets.md"
SECTION = "## Your own target, from nothing to a first run"
TARGET_FILE, SEED_FILE = "my_target.py", "scaled_residual.c"
Edits = Sequence[tuple[str, str]]


def example() -> tuple[str, str]:
    """(the target file, the seed kernel) as the walkthrough shows them."""
    text = DOCS.read_text()
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", len(SECTION))]
    python = re.findall(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    c = re.findall(r"^```c\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert len(python) == 1 and len(c) == 1, "the walkthrough has one target file and one seed"
    return python[0], c[0]


def edited(text: str, edits: Edits) -> str:
    for old, new in edits:
        assert old in text, f"the docs' example no longer holds {old!r}"
        text = text.replace(old, new)
    return text


def write_example(folder: Path, target: Edits = (), seed: Edits = ()) -> Path:
    """The example's two files in ``folder`` (outside the checkout); the target file's path."""
    assert not folder.resolve().is_relative_to(REPO), "the example lives outside the checkout"
    folder.mkdir(parents=True, exist_ok=True)
    target_text, seed_text = example()
    (folder / SEED_FILE).write_text(edited(seed_text, seed))
    path = folder / TARGET_FILE
    path.write_text(edited(target_text, target))
    return path


def example_folder(factory: pytest.TempPathFactory, name: str, target: Edits = ()) -> Path:
    """A folder of its own holding the example (with ``target``'s edits); the test is skipped
    on a machine with no C compiler."""
    try:
        CToolchain().version()
    except Exception as error:  # no C compiler on this machine
        pytest.skip(str(error))
    folder = factory.mktemp(name)
    write_example(folder, target)
    return folder


def avo(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real ``avo`` command in a process of its own, in ``cwd``, on this avo_tui (the
    checkout under test, wherever the interpreter's own install points), with whatever else
    the path already holds (the GPU machines bring the pure-Python dependencies so)."""
    path = [str(Path(avo_tui.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    return subprocess.run([sys.executable, "-m", "avo_tui.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def tuner_run(target: str, sessions: Path, session: str, cwd: Path, steps: int = 2) -> str:
    """A headless tuner run of ``steps`` steps on ``target``'s quick grid through the real
    command, in a session of its own; its output, once it ended on its step budget. Its gate
    is capped at engine_helpers.SHORT_GATE_CAP_S: what it decides is not what is checked."""
    done = avo("--sessions-dir", str(sessions), "run", "--target", target, "--session", session,
               "--headless", "--operator", "tuner", "--max-steps", str(steps), "--quick",
               "--rng-seed", "1", "--gate-cap", str(SHORT_GATE_CAP_S), cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    ended = f"run ended: limit reached: {steps} of {steps} steps this run (--max-steps)"
    assert ended in done.stdout, done.stdout
    return done.stdout
