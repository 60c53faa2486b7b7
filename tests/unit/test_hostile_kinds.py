"""A hostile check for every kind of operation the trace shows (issue 85), not only the ones
the importer names: an elementwise exponential gets large magnitudes (``large_magnitude``), a
max pooling negative values at its borders (``negative_borders``), and a scan or a norm the
forward writes by hand (a mean of squares, a square root) an edge shape with the problem's
own row, where the timed shape is scaled down for timing. For each, a wrong kernel of the
kind users write, exact on every other check, is rejected for that reason, passes once the
check is taken out of the target file (so the check is what catches it), and the same kernel
with its one mistake fixed passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_hostile_cases import HEAD, evaluate

from avo_tui.evaluation import get_target
from avo_tui.kernelbench import import_problem
from avo_tui.kernelbench.target import own_lengths

# The problem's file, its size globals written in its place
PROBLEM = HEAD.replace("batch_size = 8\ndim = {dim}", "{sizes}")

# name -> (its size globals, the forward's module fields, its body, its input)
PROBLEMS = {
    "sigmoid": ("batch_size = 8\ndim = 4096", "", "torch.sigmoid(x)",
                "torch.randn(batch_size, dim)"),
    "maxpool": ("batch_size = 4\nchannels = 8\nheight = 32\nwidth = 32",
                "        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)\n",
                "self.pool(x)", "torch.rand(batch_size, channels, height, width)"),
    "scan": ("batch_size = 16\nlength = 1 << 20", "", "torch.cumsum(x, dim=1)",
             "torch.randn(batch_size, length)"),
    # drawn in [0, 1) by the problem: a kernel right only for positive inputs passes there
    "cube": ("batch_size = 8\ndim = 4096", "", "torch.pow(x, 3)", "torch.rand(batch_size, dim)"),
    # an RMS norm no module names: a mean of squares and a square root
    "rms": ("batch_size = 16\nfeatures = 1 << 20", "",
            "x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-6)",
            "torch.randn(batch_size, features)"),
}

# Each kernel with its mistake (BUG 1) or without it (BUG 0); LIMIT is the longest row any
# other check reaches, read off the target.
KERNELS = {
    # a sigmoid as a ratio of exponentials: inf / inf past x = 88
    "sigmoid": """#include <math.h>
void avo_sigmoid(const float *x, float *out, int batch_size, int dim) {
    for (long i = 0; i < (long)batch_size * dim; ++i) {
        if (BUG) {
            float e = expf(x[i]);
            out[i] = e / (1.0f + e);
        } else {
            out[i] = 1.0f / (1.0f + expf(-x[i]));
        }
    }
}
""",
    # a power taken as exp(p * log(x)), in double: exact for positive x, NaN for negative
    "cube": """#include <math.h>
void avo_cube(const float *x, float *out, int batch_size, int dim) {
    for (long i = 0; i < (long)batch_size * dim; ++i)
        out[i] = BUG ? (float)exp(3.0 * log((double)x[i])) : x[i] * x[i] * x[i];
}
""",
    # the padding taken as 0 where torch takes -inf: right while every value is positive
    "maxpool": """#include <math.h>
void avo_maxpool(const float *x, float *out, int batch_size, int channels, int height,
                 int width_) {
    long oh = (height + 1) / 2, ow = (width_ + 1) / 2;
    for (long p = 0; p < (long)batch_size * channels; ++p)
        for (long i = 0; i < oh; ++i)
            for (long j = 0; j < ow; ++j) {
                float best = -INFINITY;
                for (long a = 0; a < 3; ++a)
                    for (long b = 0; b < 3; ++b) {
                        long r = 2 * i - 1 + a, c = 2 * j - 1 + b;
                        int inside = r >= 0 && r < height && c >= 0 && c < width_;
                        float v = inside ? x[(p * height + r) * width_ + c] : (BUG ? 0.0f
                                                                              : -INFINITY);
                        if (v > best) best = v;
                    }
                out[(p * oh + i) * ow + j] = best;
            }
}
""",
    # a scan whose carry is kept for LIMIT elements only: exact on every row up to LIMIT
    "scan": """void avo_scan(const float *x, float *out, int batch_size, int length) {
    for (long r = 0; r < batch_size; ++r) {
        double total = 0;
        for (long j = 0; j < length; ++j) {
            if (BUG && j % LIMIT == 0) total = 0;
            total += x[r * length + j];
            out[r * length + j] = (float)total;
        }
    }
}
""",
    # the mean of squares summed over the first tile (LIMIT elements) of each row only
    "rms": """#include <math.h>
void avo_rms(const float *x, float *out, int batch_size, int features) {
    for (long r = 0; r < batch_size; ++r) {
        const float *row = x + r * features;
        long summed = BUG && features > LIMIT ? LIMIT : features;
        double squares = 0;
        for (long j = 0; j < summed; ++j) squares += (double)row[j] * row[j];
        float scale = (float)(1.0 / sqrt(squares / features + 1e-6));
        for (long j = 0; j < features; ++j) out[r * features + j] = row[j] * scale;
    }
}
""",
}

# The input case that catches each, and the others that catch it too (the mirror's negated,
# magnitudes in the hundreds): taken out with it to see that nothing else does.
CASES = {"sigmoid": ("large_magnitude", ("mirrored",)),
         "maxpool": ("negative_borders", ("mirrored",)),
         "cube": ("mirrored", ())}
LONG = ("scan", "rms")  # caught at the long-row edge shape


def imported(name: str, folder: Path) -> Path:
    sizes, init, body, draw = PROBLEMS[name]
    problem = folder / f"{name}.py"
    problem.write_text(PROBLEM.format(sizes=sizes, init=init or "        pass\n", body=body,
                                      draw=draw))
    return import_problem(problem).target


def kernel(name: str, bug: bool, limit: int = 0) -> str:
    return KERNELS[name].replace("BUG", str(int(bug))).replace("LIMIT", str(limit))


def without(target: Path, pattern: str, lines: int = 1) -> Path:
    """A copy of the target file with the ``lines`` lines ``pattern`` matches taken out."""
    text, count = re.subn(pattern, "", target.read_text())
    assert count == lines
    bare = target.with_name(target.stem + "_bare.py")
    bare.write_text(text)
    return bare


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_wrong_kernel_is_rejected_on_the_case_for_its_kind(
        c_compiler: None, quick_timing: None, name: str, tmp_path: Path) -> None:
    target = imported(name, tmp_path)
    case, also = CASES[name]
    assert case in get_target(str(target)).problem.input_cases
    wrong = kernel(name, bug=True)
    for seed in (1, 2):
        result = evaluate(target, wrong, seed)
        assert not result.correct and result.failure is not None
        assert f"on {case} inputs" in result.failure.message, result.failure.message
    bare = without(target, "|".join(rf"        '{c}': {c},\n" for c in (case, *also)),
                   1 + len(also))
    assert evaluate(bare, wrong, 1).correct
    assert evaluate(target, kernel(name, bug=False), 1).correct


@pytest.mark.parametrize("name", LONG)
def test_a_kernel_exact_only_up_to_a_length_is_rejected_at_the_problems_own_row(
        c_compiler: None, quick_timing: None, name: str, tmp_path: Path) -> None:
    target = imported(name, tmp_path)
    loaded = get_target(str(target))
    dim, own = {"scan": "length", "rms": "features"}[name], 1 << 20
    *others, long = (*loaded.configs, *loaded.edge_configs)
    assert loaded.configs[0][dim] < own  # the timed row, scaled down for timing
    assert long[dim] == own and long["batch_size"] == 1  # a few long rows, not the problem
    assert "checks rows of the problem's own length" in " ".join(target.read_text().split())
    # exact on every row up to the longest the other shapes check
    wrong = kernel(name, bug=True, limit=max(c[dim] for c in others))
    result = evaluate(target, wrong, 1)
    assert result.failure is not None and result.failure.config == long.name, result.failure
    line = rf'        \{{"batch_size": 1, "{dim}": {own}\}},\n'
    assert evaluate(without(target, line), wrong, 1).correct
    assert evaluate(target, kernel(name, bug=False), 1).correct


# columns past LIMIT left unwritten (a grid sized for the shapes it was tried on)
COLUMNS_UP_TO = """#include <math.h>
void avo_wide(const float *x, float *out, int batch_size, int dim) {
    for (long r = 0; r < batch_size; ++r)
        for (long j = 0; j < dim && j < LIMIT; ++j) out[r * dim + j] = fmaxf(x[r * dim + j], 0);
}
"""


def test_every_dimension_is_checked_at_the_problems_own_length(
        c_compiler: None, quick_timing: None, tmp_path: Path) -> None:
    """The timed shape of a GPU-sized problem is scaled far down; the edge shapes still
    bring each dimension to its own length, in a shape small enough for the float64
    reference, and a kernel wrong only past the sizes otherwise checked is rejected there."""
    problem = tmp_path / "wide.py"
    own = {"batch_size": 4096, "dim": 393216}
    problem.write_text(PROBLEM.format(sizes="batch_size = 4096\ndim = 393216",
                                      init="        pass\n", body="torch.relu(x)",
                                      draw="torch.randn(batch_size, dim)"))
    target = import_problem(problem).target
    loaded = get_target(str(target))
    timed, edges = loaded.configs[0], loaded.edge_configs
    assert timed["dim"] < own["dim"]  # scaled down for timing
    assert {d for c in (timed, *edges) for d in own if c[d] == own[d]} == set(own)
    full = [e for e in edges if e["dim"] == own["dim"]]
    assert full and all(e["batch_size"] * e["dim"] <= own_lengths.ROW_ELEMENTS for e in full)
    assert "at the problem's own lengths" in " ".join(target.read_text().split())
    limit = max(c["dim"] for c in (timed, *edges) if c not in full)
    result = evaluate(target, COLUMNS_UP_TO.replace("LIMIT", str(limit)), 1)
    assert result.failure is not None and result.failure.config in {e.name for e in full}
    assert evaluate(target, COLUMNS_UP_TO.replace("LIMIT", "dim"), 1).correct
