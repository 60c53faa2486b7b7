"""The five attention targets are the same targets they were as entries of the evaluator, field
for field (issue 41, item 3): every fact of each TargetSpec, from its configurations' names
and work to the rules the agent reads, equals the one stored from the code before
(tests/fixtures/attention_target_specs.json, target_spec_facts.py)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from target_spec_facts import ATTENTION_TARGETS, FIXTURE, as_json, facts

from avo_tui.cli import main
from avo_tui.engine.launch import session_target, shipped_target_changed, target_file_meta
from avo_tui.evaluation import get_target, known_names
from avo_tui.evaluation.targets import spec as targets


@pytest.mark.parametrize("name", ATTENTION_TARGETS)
def test_each_attention_target_is_what_it_was(name: str) -> None:
    stored = json.loads(FIXTURE.read_text())[name]
    now = json.loads(as_json({name: facts(get_target(name))}))[name]
    assert now == stored


@pytest.mark.parametrize("name", ATTENTION_TARGETS)
def test_each_is_a_shipped_file_found_by_its_name(name: str) -> None:
    spec = get_target(name)
    assert spec.source is not None and spec.source.shipped and spec.ref == name
    path = Path(spec.source.path)
    assert path.name == f"{name.replace('-', '_')}.py" and path.parent.name == "targets"


def test_the_evaluator_holds_no_attention_target_of_its_own() -> None:
    assert not hasattr(targets, "TARGETS") and not targets.IN_PROCESS
    assert "problems.attention" not in Path(targets.__file__).read_text()
    assert known_names()[:len(ATTENTION_TARGETS)] == list(ATTENTION_TARGETS)


def test_targets_check_takes_cpu_attention_by_name_and_only_its_own_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A shipped file like any other: checked by its name. The attention problem's numerics
    time cudnn, flash, fa4 and fa3 for the GPU targets; cpu-attention's one baseline is its
    own, and the check names no other."""
    assert main(["targets", "check", "cpu-attention"]) == 0
    out = capsys.readouterr().out
    assert "baseline torch-sdpa-cpu at" in out and "cudnn" not in out and "fa4" not in out
    assert out.splitlines()[-1] == "target ok: avo run --target cpu-attention --session NAME"


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine check runs the seed")
def test_targets_check_passes_a_gpu_target_without_a_gpu(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/targets.md promises that check compiles a CUDA seed where no GPU is: compiled with
    the harness's defines (the seed refuses to compile without AVO_HEAD_DIM), and each torch
    baseline said to need a GPU rather than blamed on one."""
    assert main(["targets", "check", "mha"]) == 0
    out = capsys.readouterr().out
    assert "ok  seed attention_wgmma.cu: compiles (not run: no GPU here)" in out
    assert "baseline cudnn not checked: no GPU here" in out
    assert out.splitlines()[-1] == "target ok: avo run --target mha --session NAME"


@pytest.mark.parametrize("name", ATTENTION_TARGETS)
def test_sessions_and_workers_name_it_by_its_name(name: str) -> None:
    """A new session keeps the shipped file's name and hash; a session from before, which
    kept no file, resumes on it with no note; a configuration crosses a pipe with no path."""
    spec = get_target(name)
    assert spec.source is not None
    assert target_file_meta(spec) == {"shipped": name, "sha256": spec.source.sha256}
    before = {"target": name, "target_file": None}
    assert session_target("s", before) is spec
    assert shipped_target_changed("s", before, spec) is None
    pickled = pickle.dumps(spec.configs[0])
    assert spec.source.path.encode() not in pickled and b"ATTENTION" in pickled
    assert pickle.loads(pickled) == spec.configs[0]
