"""Several outputs (issue 56): a softmax that also writes its log-sum-exp declares two Outputs,
each checked and reported on its own, each with its own dtype and tolerance. Packed into one
output, a 1% error in the probabilities hid under the tolerance the log-sum-exp's larger
values set; declared apart it is rejected, and so is an error in the log-sum-exp alone, or
one left unwritten; an int32 index beside float values is compared exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from target_example import avo

from avo_tui.evaluation import get_target

pytestmark = pytest.mark.usefixtures("c_compiler")

SOFTMAX_TARGET = '''
"""probs = softmax(x) along rows, and lse = logsumexp(x) per row: float32, on the CPU."""

from avo_tui.evaluation import Input, Int, Output, Target


def softmax_lse(x, **_):
    return x.softmax(-1), x.logsumexp(-1)


def torch_softmax_lse(x, **_):
    import torch

    return torch.softmax(x, -1), torch.logsumexp(x, -1)


target = Target(
    name="softmax-lse",
    description="row softmax and its log-sum-exp",
    kind="cpu",
    entry="avo_softmax_lse",
    dims=("rows", "cols"),
    parameters=(Input("x", lambda c: (c["rows"], c["cols"])),
                Output("probs", lambda c: (c["rows"], c["cols"])),
                Output("lse", lambda c: (c["rows"],)),
                Int("rows"), Int("cols")),
    configs=({"rows": 256, "cols": 1024},),
    edge_configs=({"rows": 1, "cols": 1}, {"rows": 3, "cols": 37}),
    reference=softmax_lse,
    honest=softmax_lse,
    bytes=lambda c: 4 * c["rows"] * (2 * c["cols"] + 1),
    baselines={"torch": torch_softmax_lse},
    seed="softmax_lse.c",
)
'''

KERNEL = """
#include <math.h>
#define UNROLL 1  // avo:knob 1 2

void avo_softmax_lse(const float *x, float *probs, float *lse, int rows, int cols) {
    for (int r = 0; r < rows; ++r) {
        const float *row = x + (long)r * cols;
        float m = row[0];
        for (int c = 1; c < cols; ++c) m = fmaxf(m, row[c]);
        float total = 0.0f;
        for (int c = 0; c < cols; ++c) total += expf(row[c] - m);
        for (int c = 0; c < cols; ++c) probs[(long)r * cols + c] = PROBS;
        LSE_LINE
    }
}
"""
RIGHT_PROBS = "expf(row[c] - m) / total"
RIGHT_LSE = "lse[r] = m + logf(total);"


def kernel(probs: str = RIGHT_PROBS, lse: str = RIGHT_LSE) -> str:
    return KERNEL.replace("PROBS", probs).replace("LSE_LINE", lse)


def softmax_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "softmax_lse.c").write_text(kernel())
    path = folder / "softmax_lse_target.py"
    path.write_text(SOFTMAX_TARGET)
    return path


def evaluated(path: Path, source: str, folder: Path) -> tuple[int, dict[str, object]]:
    (folder / "candidate.c").write_text(source)
    done = avo("eval", str(folder / "candidate.c"), "--target", str(path), "--quick", "--json",
               cwd=folder)
    return done.returncode, json.loads(done.stdout)


def test_a_softmax_with_its_log_sum_exp_checks_and_scores_each_output(tmp_path: Path) -> None:
    path = softmax_folder(tmp_path)
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seed softmax_lse.c: PASS" in done.stdout
    code, result = evaluated(path, kernel(), tmp_path)
    assert code == 0, result["failure"]
    configs = result["configs"]
    assert isinstance(configs, list)
    timed = next(c for c in configs if not c["edge"])
    assert set(timed["outputs"]) == {"probs", "lse"}  # each reported on its own
    assert all(o["rel_l2_err"] < o["tolerance"][0] for o in timed["outputs"].values())
    contract = get_target(str(path)).problem.contract()
    assert "probs [rows, cols] (an output; NaN when the kernel starts)" in contract.entry
    assert "lse [rows] (an output; NaN when the kernel starts)" in contract.entry
    assert "Each output is checked on its own." in contract.exact


@pytest.mark.parametrize(("probs", "lse", "output", "kind"), [
    ("1.01f * expf(row[c] - m) / total", RIGHT_LSE, "probs", "incorrect"),  # 1% off
    (RIGHT_PROBS, "lse[r] = logf(total);", "lse", "incorrect"),  # forgets the max
    (RIGHT_PROBS, "if (r > 0) lse[r] = m + logf(total);", "lse", "nonfinite"),  # a row unwritten
])
def test_an_error_in_one_output_is_rejected_and_named(
    tmp_path: Path, probs: str, lse: str, output: str, kind: str,
) -> None:
    path = softmax_folder(tmp_path)
    code, result = evaluated(path, kernel(probs, lse), tmp_path)
    failure = result["failure"]
    assert code == 3 and isinstance(failure, dict), result
    assert failure["kind"] == kind, failure
    assert output in failure["message"], failure


def test_a_reference_that_returns_too_few_outputs_is_one_line(tmp_path: Path) -> None:
    path = softmax_folder(tmp_path)
    path.write_text(path.read_text().replace(
        "    return x.softmax(-1), x.logsumexp(-1)", "    return x.softmax(-1)"))
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert "returned one value on" in done.stderr
    assert "not one for each of the outputs probs, lse" in done.stderr, done.stderr


TOPK_TARGET = '''
"""The largest value of each row and where it is: a float32 output and an int32 index."""

from avo_tui.evaluation import Input, Int, Output, Target


def top(x, **_):
    values, index = x.max(-1)
    return {"index": index, "value": values}


target = Target(
    name="row-max",
    description="max and argmax of each row",
    kind="cpu",
    entry="avo_row_max",
    dims=("rows", "cols"),
    parameters=(Input("x", lambda c: (c["rows"], c["cols"])),
                Output("value", lambda c: (c["rows"],)),
                Output("index", lambda c: (c["rows"],), dtype="int32"),
                Int("rows"), Int("cols")),
    configs=({"rows": 512, "cols": 1024},),
    edge_configs=({"rows": 1, "cols": 1}, {"rows": 3, "cols": 37}),
    reference=top,
    honest=top,
    bytes=lambda c: 4 * c["rows"] * (c["cols"] + 2),
    baselines={"torch": top},
    seed="row_max.c",
)
'''

ROW_MAX = """
#include <stdint.h>
#define UNROLL 1  // avo:knob 1 2

void avo_row_max(const float *x, float *value, int32_t *index, int rows, int cols) {
    for (int r = 0; r < rows; ++r) {
        const float *row = x + (long)r * cols;
        int best = 0;
        for (int c = 1; c < cols; ++c) if (row[c] > row[best]) best = c;
        value[r] = row[best];
        index[r] = best + SHIFT;
    }
}
"""


def test_an_integer_output_beside_a_float_one_is_compared_exactly(tmp_path: Path) -> None:
    (tmp_path / "row_max.c").write_text(ROW_MAX.replace("SHIFT", "0"))
    path = tmp_path / "row_max_target.py"
    path.write_text(TOPK_TARGET)
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    code, result = evaluated(path, ROW_MAX.replace("SHIFT", "1"), tmp_path)
    failure = result["failure"]
    assert code == 3 and isinstance(failure, dict), result
    assert failure["message"].startswith("element ") and " of index: " in failure["message"]
    assert "(an integer output is compared exactly)" in failure["message"]
