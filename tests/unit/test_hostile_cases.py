"""Hostile input cases (issue 68): the importer finds them by running the forward
(kernelbench/target/hostile.py) and writes them into the target file; the harness checks every timed
shape under each of them too (measurement/checks.py). For each case, a real wrong kernel of the
kind users write is rejected with the case named, passes once the file's cases are taken out
(so the case is what catches it), and the importer's own seed passes under every case."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from avo_tui.evaluation import EvalRequest, EvalResult, get_target
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.kernelbench import import_problem
from avo_tui.kernelbench.target import hostile

HEAD = """import torch
import torch.nn as nn

batch_size = 8
dim = {dim}


class Model(nn.Module):
    def __init__(self):
        super().__init__()
{init}
    def forward(self, x):
        return {body}


def get_inputs():
    return [{draw}]


def get_init_inputs():
    return []
"""

# name -> (dim, the forward's module fields, its body, its input)
PROBLEMS = {
    "softmax": (512, "", "torch.softmax(x, dim=1)", "torch.randn(batch_size, dim)"),
    "argmax": (300, "", "torch.argmax(x, dim=1)", "torch.randn(batch_size, dim)"),
    "layernorm": (1024, "        self.ln = nn.LayerNorm(dim)\n", "self.ln(x)",
                  "torch.randn(batch_size, dim)"),
    "int8_sum": (1024, "", "x.sum(dim=1)",
                 "torch.randint(-128, 128, (batch_size, dim), dtype=torch.int8)"),
}

# Wrong kernels that pass on the drawn inputs, each with the case that catches it.
WRONG = {
    # exp() of the raw logits: overflows past about 88
    "softmax": ("offset_logits", """#include <math.h>
void avo_softmax(const float *x, float *out, int batch_size, int dim) {
    for (long r = 0; r < batch_size; ++r) {
        double total = 0;
        for (long j = 0; j < dim; ++j) total += expf(x[r * dim + j]);
        for (long j = 0; j < dim; ++j) out[r * dim + j] = expf(x[r * dim + j]) / total;
    }
}
"""),
    # ">=" keeps the last of tied values; torch returns the first
    "argmax": ("ties", """#include <stdint.h>
void avo_argmax(const float *x, int64_t *out, int batch_size, int dim) {
    for (long r = 0; r < batch_size; ++r) {
        long best = 0;
        for (long j = 1; j < dim; ++j)
            if (x[r * dim + j] >= x[r * dim + best]) best = j;
        out[r] = best;
    }
}
"""),
    # the variance as the float32 mean of squares less the squared mean
    "layernorm": ("large_mean", """#include <math.h>
void avo_layernorm(const float *x, const float *w, const float *b, float *out,
                   int batch_size, int dim) {
    for (long r = 0; r < batch_size; ++r) {
        double sum = 0, squares = 0;
        for (long j = 0; j < dim; ++j) {
            sum += x[r * dim + j];
            squares += (double)x[r * dim + j] * x[r * dim + j];
        }
        float mean = (float)(sum / dim), mean_square = (float)(squares / dim);
        float inv = 1.0f / sqrtf(mean_square - mean * mean + 1e-5f);
        for (long j = 0; j < dim; ++j)
            out[r * dim + j] = (x[r * dim + j] - mean) * inv * w[j] + b[j];
    }
}
"""),
    # a 16-bit running sum: rows of one extreme value overflow it
    "int8_sum": ("extremes", """#include <stdint.h>
void avo_int8_sum(const int8_t *x, int64_t *out, int batch_size, int dim) {
    for (long r = 0; r < batch_size; ++r) {
        int16_t total = 0;
        for (long j = 0; j < dim; ++j) total = (int16_t)(total + x[r * dim + j]);
        out[r] = total;
    }
}
"""),
}


# Correct kernels for the problems the importer writes no seed for.
CONTROL = {"int8_sum": """#include <stdint.h>
void avo_int8_sum(const int8_t *x, int64_t *out, int batch_size, int dim) {
    for (long r = 0; r < batch_size; ++r) {
        int64_t total = 0;
        for (long j = 0; j < dim; ++j) total += x[r * dim + j];
        out[r] = total;
    }
}
"""}


def imported(name: str, folder: Path) -> Path:
    dim, init, body, draw = PROBLEMS[name]
    folder.mkdir(parents=True, exist_ok=True)
    problem = folder / f"{name}.py"
    problem.write_text(HEAD.format(dim=dim, init=init or "        pass\n", body=body,
                                   draw=draw))
    return import_problem(problem).target


def control(name: str, target: Path) -> str:
    """A correct kernel: the importer's seed, or this file's where it writes none."""
    seed = target.with_name(f"{name}_seed.c")
    return seed.read_text() if seed.exists() else CONTROL[name]


def evaluate(target: Path, source: str, seed: int) -> EvalResult:
    request = EvalRequest(str(target), {"kernel.c": source}, quick=True, seed=seed,
                          measure_baselines=False)
    return Evaluation(Pipeline("cpu"), request, lambda phase, detail: None).run()


def without_cases(target: Path) -> Path:
    """A copy of the target file with its hostile cases taken out."""
    text, count = re.subn(r"    cases=\{\n(?:        .*\n)*    \},\n", "", target.read_text())
    assert count == 1
    bare = target.with_name(target.stem + "_bare.py")
    bare.write_text(text)
    return bare


@pytest.mark.parametrize("name", sorted(WRONG))
def test_each_hostile_case_catches_a_wrong_kernel_that_passes_without_it(
        quick_timing: None, name: str, tmp_path: Path) -> None:
    target = imported(name, tmp_path)
    case, wrong = WRONG[name]
    assert case in get_target(str(target)).problem.input_cases
    for seed in (1, 2):
        result = evaluate(target, wrong, seed)
        assert not result.correct and result.failure is not None
        assert f"on {case} inputs" in result.failure.message, result.failure.message
    assert evaluate(without_cases(target), wrong, 1).correct
    assert evaluate(target, control(name, target), 1).correct


def test_the_cases_are_found_by_the_operation_they_break(tmp_path: Path) -> None:
    """Each problem gets the cases of its own operations and no other (and every one the
    problem's own draw, problem_draw: test_kernelbench_values.py; every one with a floating
    input its mirror, mirrored: test_hostile_kinds.py)."""
    found = {name: set(get_target(str(imported(name, tmp_path / name))).problem.input_cases)
             - {"problem_draw"} for name in PROBLEMS}
    assert found == {"softmax": {"normal", "offset_logits", "large_logits", "mirrored"},
                     "argmax": {"normal", "ties", "mirrored"},
                     "layernorm": {"normal", "large_mean", "mirrored"},
                     "int8_sum": {"normal", "extremes"}}


def test_the_probes_stop_at_their_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    """Each probe runs the forward once; past the probes' budget none is started, not even
    the ones that find which inputs to change (a ResNet-101's hundreds of weights, one run
    each, took its import past its limit), and the import says the time ran out."""
    runs: list[object] = []
    record = hostile._Probe.record

    def counted(probe: object, values: object) -> object:
        runs.append(values)
        return record(probe, values)  # type: ignore[arg-type]

    monkeypatch.setattr(hostile, "SECONDS", 0.0)
    monkeypatch.setattr(hostile._Probe, "record", counted)
    (tmp_path / "layernorm").mkdir()
    problem = tmp_path / "layernorm" / "layernorm.py"
    dim, init, body, draw = PROBLEMS["layernorm"]
    problem.write_text(HEAD.format(dim=dim, init=init, body=body, draw=draw))
    done = import_problem(problem)
    assert len(runs) == 1  # the forward as drawn, which says which operations it runs
    assert "large_mean" not in get_target(str(done.target)).problem.input_cases
    assert any("the probes' 0 s ran out" in note for note in done.notes), done.notes


# exp() of the raw logits at the timed width alone, a stable softmax everywhere else
WRONG_AT_WIDTH = """#include <math.h>
void avo_softmax(const float *x, float *out, int batch_size, int dim) {
    for (long r = 0; r < batch_size; ++r) {
        const float *row = x + r * dim;
        double top = dim == WIDTH ? 0.0 : -INFINITY, total = 0;
        for (long j = 0; j < dim && dim != WIDTH; ++j) top = fmax(top, row[j]);
        for (long j = 0; j < dim; ++j) total += expf((float)(row[j] - top));
        for (long j = 0; j < dim; ++j) out[r * dim + j] = expf((float)(row[j] - top)) / total;
    }
}
"""


def test_a_kernel_wrong_only_at_the_timed_width_is_caught_there(tmp_path: Path) -> None:
    target = imported("softmax", tmp_path)
    timed = get_target(str(target)).quick_configs[0]
    wrong = WRONG_AT_WIDTH.replace("WIDTH", str(timed["dim"]))
    result = evaluate(target, wrong, 1)
    assert result.failure is not None and result.failure.config == timed.name
    assert re.search(r"on (offset|large)_logits inputs", result.failure.message)
    assert evaluate(target, WRONG_AT_WIDTH.replace("WIDTH", "-1"), 1).correct


PACKED = """import torch
import torch.nn as nn

batch_size = 8
dim = 8192


class Model(nn.Module):
    def forward(self, x):
        return torch.cat([torch.softmax(x, dim=1), torch.logsumexp(x, dim=1, keepdim=True)],
                         dim=1)


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
"""

# The probabilities 1% off, the log-sum-exp column exact, packed side by side in one output
PACKED_WRONG = """#include <math.h>
void avo_packed(const float *x, float *out, int batch_size, int dim) {
    for (long r = 0; r < batch_size; ++r) {
        const float *row = x + r * dim;
        float *o = out + r * (dim + 1);
        double top = -INFINITY, total = 0;
        for (long j = 0; j < dim; ++j) top = fmax(top, row[j]);
        for (long j = 0; j < dim; ++j) total += exp(row[j] - top);
        for (long j = 0; j < dim; ++j) o[j] = exp(row[j] - top) / total * FACTOR;
        o[dim] = top + log(total);
    }
}
"""


def test_each_column_of_a_packed_output_is_held_to_its_own_tolerance(tmp_path: Path) -> None:
    """The whole output's bounds are set by the log-sum-exp column's larger values, and a 1%
    error in every probability stays inside them; each column's own bound does not."""
    problem = tmp_path / "packed.py"
    problem.write_text(PACKED)
    target = import_problem(problem).target
    result = evaluate(target, PACKED_WRONG.replace("FACTOR", "1.01"), 1)
    assert result.failure is not None
    assert result.failure.message.startswith("column "), result.failure.message
    failed = result.failed_config
    assert failed is not None and failed.tolerance is not None
    assert failed.rel_l2_err is not None and failed.max_abs_err is not None
    assert failed.rel_l2_err < failed.tolerance[0] and failed.max_abs_err < failed.tolerance[1]
    assert evaluate(target, PACKED_WRONG.replace("FACTOR", "1.0"), 1).correct
