"""Fixtures for tests that run a live engine: one warm CPU worker for the whole test run, and
a session with a scored seed, made once and copied for each test (scoring the seed costs two
evaluations and the baselines' timings; once per module, that was a minute of the suite).

``template`` is the session as ``avo run --quick`` makes it; ``session`` is a copy of another,
``capped_template``, whose gate stops measuring a close call after engine_helpers.
SHORT_GATE_CAP_S: the tests that take ``session`` meet the gate only on the way. A test of what
the gate decides makes its session from ``template`` (engine_helpers.flagged_session does).

Loaded for every test module by conftest.py; a module may still define its own. The imports
sit inside the fixtures so the GPU machine can collect tests/gpu without the store's packages.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from avo_tui.evaluation import Worker
    from avo_tui.store import Session


@pytest.fixture(scope="session")
def worker() -> Iterator[Worker]:
    """Shared as one warm worker serves a whole run of avo: a kernel that crashes or hangs
    costs its own process, or a restart of the worker, never the next test's evaluation."""
    from avo_tui.evaluation import Worker

    with Worker("cpu") as w:
        yield w


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory, worker: Worker) -> Path:
    from engine_helpers import new_session

    path = tmp_path_factory.mktemp("template") / "seeded"
    new_session(path, worker).close()
    return path


@pytest.fixture(scope="session")
def capped_template(tmp_path_factory: pytest.TempPathFactory, worker: Worker) -> Path:
    """The seeded session again, its gate capped at engine_helpers.SHORT_GATE_CAP_S (a
    session's settings are fixed when it is made, so it is scored once more)."""
    from engine_helpers import SHORT_GATE_CAP_S, new_session

    path = tmp_path_factory.mktemp("template") / "capped"
    new_session(path, worker, gate_cap_s=SHORT_GATE_CAP_S).close()
    return path


@pytest.fixture
def session(capped_template: Path, tmp_path: Path) -> Iterator[Session]:
    from avo_tui.store import Session

    path = tmp_path / "run"
    shutil.copytree(capped_template, path)
    with Session.open(path) as s:
        yield s
