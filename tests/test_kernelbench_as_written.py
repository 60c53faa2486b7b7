"""KernelBench as it is written (issue 68, item 7): a configuration's name says which size is
which where the problem's sizes end in a digit; BatchNorm in training mode, as KernelBench
builds its models, imports, and its target computes with batch statistics on read-only
inputs; an import that takes long says what it is doing on stderr and stops at a limit,
naming what was slow."""

from __future__ import annotations

from pathlib import Path

import torch
from kernelbench_problems import BATCHNORM_TRAINING, copy_problem
from target_example import avo

from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.targets.declared import DeclaredProblem
from avo_tui.kernelbench import import_problem


def checked(target: Path) -> str:
    """``avo targets check`` on the target file: its output (it passed)."""
    done = avo("targets", "check", target.name, cwd=target.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_size_whose_name_ends_in_a_digit_is_named_with_its_value_apart(
        tmp_path: Path) -> None:
    """dim1 = 1 beside dim2 = 11 would read dim11 and dim211: every size of such a target is
    name=value; a target of sizes that end in letters keeps its names (the sessions hold
    them)."""
    imported = import_problem(copy_problem("level1_sum_reduction", tmp_path))
    target = get_target(str(imported.target))
    names = [c.name for c in (*target.configs, *target.edge_configs)]
    assert names[1] == "batch_size=1-dim1=1-dim2=1", names
    assert all(name.count("=") == 3 for name in names)
    plain = import_problem(copy_problem("level1_softmax", tmp_path))
    assert get_target(str(plain.target)).edge_configs[0].name == "batch_size1-dim1"


def test_batchnorm_in_training_mode_imports_and_normalises_with_the_batch(
        tmp_path: Path) -> None:
    """KernelBench builds BatchNorm in training mode: the import takes it, the running
    statistics are not among the kernel's inputs (their update is no part of its contract),
    the target passes check, and its reference normalises with the batch's mean and variance
    (not the running ones, as eval mode would), the same on every call: no call sees the
    update of another, and the harness's inputs stay as drawn."""
    path = tmp_path / "batchnorm_training.py"
    path.write_text(BATCHNORM_TRAINING)
    imported = import_problem(path)
    text = imported.target.read_text()
    assert "UPDATED = ('bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked')" in text
    assert "Training mode: the model's forward updates bn.running_mean" in text
    target = get_target(str(imported.target))
    problem = target.problem
    assert isinstance(problem, DeclaredProblem)
    assert [p.name for p in problem.parameters if p.kind == "input"] == ["x", "bn_weight",
                                                                         "bn_bias"]
    assert checked(imported.target).splitlines()[-1].endswith("--operator agent")
    config = target.edge_configs[-1]
    numerics = problem.numerics()
    inputs = make_inputs(config, torch.Generator().manual_seed(0), "cpu")
    drawn = {name: tensor.clone() for name, tensor in inputs.named.items()}
    first, _ = numerics.references(config, inputs, torch.float32)
    again, _ = numerics.references(config, inputs, torch.float32)
    x, weight, bias = (inputs[n].double() for n in ("x", "bn_weight", "bn_bias"))
    batch = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5) * weight + bias
    assert torch.allclose(first, batch) and torch.equal(first, again)
    assert not torch.allclose(first, x / (1 + 1e-5) ** 0.5 * weight + bias)  # eval mode's
    assert all(torch.equal(drawn[n], t) for n, t in inputs.named.items())
