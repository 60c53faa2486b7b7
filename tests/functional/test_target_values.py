"""Inputs the problem needs (issue 56): a target file's ``Input(..., values=...)`` says how the
harness draws that input for every launch (Normal, Uniform, Positive, Integers, FromFile), and
a log over positive inputs is a target that checks, evaluates and rejects its wrong kernels,
where on standard normal inputs its reference is not even finite."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from target_example import avo

from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.tensors import make_inputs, refill
from avo_tui.evaluation.targets.api import TargetFileError
from avo_tui.evaluation.targets.values import POSITIVE_FLOOR

pytestmark = pytest.mark.usefixtures("c_compiler")

LOG_TARGET = '''
"""out = log(x) + y, float32, on the CPU: x must be positive."""

from avo_tui.evaluation import FromFile, Input, Int, Integers, Output, Positive, Target, Uniform


def shape(c):
    return (c["rows"], c["cols"])


def log_add(x, y, **_):
    return x.log() + y


def torch_log_add(x, y, **_):
    import torch

    return torch.log(x) + y


target = Target(
    name="log-add",
    description="out = log(x) + y, float32",
    kind="cpu",
    entry="avo_log_add",
    dims=("rows", "cols"),
    parameters=(Input("x", shape, values=VALUES), Input("y", shape, values=Uniform(-1.0, 1.0)),
                Output("out", shape), Int("rows"), Int("cols")),
    configs=({"rows": 256, "cols": 1024},),
    edge_configs=({"rows": 1, "cols": 1}, {"rows": 3, "cols": 37}),
    reference=log_add,
    honest=log_add,
    bytes=lambda c: 12 * c["rows"] * c["cols"],
    baselines={"torch": torch_log_add},
    seed="log_add.c",
)
'''

KERNEL = """
#include <math.h>
#define UNROLL 2  // avo:knob 1 2 4

void avo_log_add(const float *x, const float *y, float *out, int rows, int cols) {
    long n = (long)rows * cols;
    for (long i = 0; i < n; ++i)
        out[i] = EXPRESSION;
}
"""
RIGHT = "logf(x[i]) + y[i]"


def log_target(folder: Path, values: str = "Positive()", expression: str = RIGHT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "log_add.c").write_text(KERNEL.replace("EXPRESSION", expression))
    path = folder / "log_add_target.py"
    path.write_text(LOG_TARGET.replace("VALUES", values))
    return path


def test_a_log_over_positive_inputs_checks_and_its_seed_passes(tmp_path: Path) -> None:
    path = log_target(tmp_path / "log")
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seed log_add.c: PASS" in done.stdout, done.stdout
    entry = get_target(str(path)).problem.contract().entry  # what the agent is told
    assert "x [rows, cols] (input, read only; positive (|standard normal| + 0.001))" in entry
    assert "y [rows, cols] (input, read only; uniform on [-1, 1))" in entry


def test_the_same_log_on_standard_normal_inputs_is_refused_for_its_reference(
    tmp_path: Path,
) -> None:
    path = log_target(tmp_path / "log", values="None")
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert "not finite" in done.stderr, done.stderr


@pytest.mark.parametrize("wrong", ["logf(fabsf(x[i]) + 1.0f) + y[i]", "log1pf(x[i]) + y[i]",
                                   "logf(x[i]) + y[i] * 0.99f"])
def test_wrong_kernels_of_the_log_target_are_rejected(tmp_path: Path, wrong: str) -> None:
    path = log_target(tmp_path / "log")
    kernel = tmp_path / "wrong.c"
    kernel.write_text(KERNEL.replace("EXPRESSION", wrong))
    done = avo("eval", str(kernel), "--target", str(path), "--quick", cwd=tmp_path)
    assert done.returncode != 0 and "incorrect" in done.stdout + done.stderr, done.stdout


def test_each_rule_draws_its_values_afresh_for_every_launch(tmp_path: Path) -> None:
    given = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 10
    torch.save(given, tmp_path / "table.pt")
    path = tmp_path / "rules.py"
    path.write_text(textwrap.dedent('''
        from avo_tui.evaluation import (FromFile, Input, Integers, Normal, Output, Positive,
                                        Target, Uniform)

        def shape(c):
            return (c["rows"], 3)

        target = Target(
            name="rules", description="every rule", kind="cpu", entry="k", dims=("rows",),
            parameters=(Input("p", shape, values=Positive(scale=2.0)),
                        Input("u", shape, values=Uniform(5.0, 6.0)),
                        Input("i", shape, values=Integers(-3, 4)),
                        Input("n", shape, values=Normal(std=0.001, mean=100.0)),
                        Input("plain", shape),
                        Input("g", lambda c: (2, 3), values=FromFile("table.pt")),
                        Output("out", shape)),
            configs=({"rows": 2000},), edge_configs=({"rows": 1},),
            reference=lambda p, **_: p, honest=lambda p, **_: p,
            bytes=lambda c: 4.0, baselines={"same": lambda p, **_: p}, seed="k.c")
    '''))
    (tmp_path / "k.c").write_text("void k(void) {}\n")
    config = get_target(str(path)).configs[0]
    generator = torch.Generator().manual_seed(1)
    inputs = make_inputs(config, generator, "cpu")
    p, u, i, n, plain, g = (inputs[name] for name in ("p", "u", "i", "n", "plain", "g"))
    assert float(p.min()) >= 2.0 * POSITIVE_FLOOR and float(p.mean()) > 1.0
    assert float(u.min()) >= 5.0 and float(u.max()) < 6.0
    assert torch.equal(i, i.round()) and set(i.unique().tolist()) == set(range(-3, 4))
    assert abs(float(n.mean()) - 100.0) < 1e-3 and float(n.std()) < 2e-3
    assert float(plain.min()) < -2.0 < 2.0 < float(plain.max())  # standard normal, as before
    assert torch.equal(g, given)
    before = {name: t.clone() for name, t in inputs.named.items()}
    refill(config, inputs, generator)
    assert all(not torch.equal(before[name], inputs[name]) for name in "puinp")
    assert torch.equal(inputs["g"], given)  # a given tensor is the same every launch
    assert float(inputs["p"].min()) > 0 and float(inputs["u"].min()) >= 5.0


def test_a_given_tensor_of_the_wrong_shape_is_one_line(tmp_path: Path) -> None:
    torch.save(torch.zeros(4), tmp_path / "table.pt")
    path = log_target(tmp_path, values='FromFile("table.pt")')
    path.write_text(path.read_text().replace("values=Uniform(-1.0, 1.0)", ""))
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert "the tensor in" in done.stderr and "is shaped (4,), but the input is" in done.stderr


def test_a_target_whose_every_input_is_given_is_refused() -> None:
    from avo_tui.evaluation import FromFile, Input, Output, Target

    with pytest.raises(TargetFileError, match="at least one must be drawn"):
        Target(name="t", description="d", kind="cpu", entry="k", dims=("n",),
               parameters=(Input("a", lambda c: (c["n"],), values=FromFile("a.pt")),
                           Output("out", lambda c: (c["n"],))),
               configs=({"n": 4},), edge_configs=(), reference=lambda a: a,
               honest=lambda a: a, bytes=lambda c: 4.0, baselines={"b": lambda a: a},
               seed="k.c")


@pytest.mark.parametrize(("rule", "message"), [
    ("Uniform(1.0, 0.0)", "low must be below high"),
    ("Positive(scale=-1.0)", "not a positive number"),
    ("Integers(0.5, 3)", "not an int"),
    ("'positive'", "not one of Normal, Uniform, Positive, Integers, Structured or FromFile"),
])
def test_a_rule_that_cannot_draw_is_one_line(tmp_path: Path, rule: str, message: str) -> None:
    path = log_target(tmp_path, values=rule)
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
