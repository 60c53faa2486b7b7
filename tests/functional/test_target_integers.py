"""Tensors of every common kind (issue 56): integer and bool inputs and outputs on a C target,
compared with the reference exactly. An argmax with an int32 output checks and scores, and an
off-by-one answer is rejected (under a float tolerance it passed, the tolerance growing with
the indices); an int8 input is drawn as integers and summed exactly; a bool output left
partly unwritten is seen to be; a float index output and a packed output are refused in one
line that says what to declare instead."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from target_example import avo

from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.tensors import BOOL_POISON, empty_output, make_inputs

pytestmark = pytest.mark.usefixtures("c_compiler")

ARGMAX_TARGET = '''
"""out[r] = argmax(x[r, :]), float32 rows, int32 indices, on the CPU."""

from avo_tui.evaluation import Input, Int, Output, Target


def last(inputs, generator):
    # every row's largest value in its last column: a loop that stops one short misses it
    x = inputs["x"]
    x[..., -1] = x.abs().amax(-1) + 1.0


target = Target(
    name="argmax-rows",
    description="argmax of each row",
    kind="cpu",
    entry="avo_argmax",
    dims=("rows", "cols"),
    parameters=(Input("x", lambda c: (c["rows"], c["cols"])),
                Output("out", lambda c: (c["rows"],), dtype=OUT_DTYPE),
                Int("rows"), Int("cols")),
    configs=({"rows": 512, "cols": 2048},),
    edge_configs=({"rows": 1, "cols": 1}, {"rows": 3, "cols": 37}),
    cases={"last": last},
    reference=lambda x, **_: x.argmax(-1),
    honest=lambda x, **_: x.argmax(-1),
    bytes=lambda c: 4 * c["rows"] * (c["cols"] + 1),
    baselines={"torch": lambda x, **_: x.argmax(-1)},
    seed="argmax.c",
)
'''

ARGMAX = """
#include <stdint.h>
#define UNROLL 1  // avo:knob 1 2

void avo_argmax(const float *x, int32_t *out, int rows, int cols) {
    for (int r = 0; r < rows; ++r) {
        const float *row = x + (long)r * cols;
        int best = 0;
        for (int c = 1; c < STOP; ++c)
            if (row[c] > row[best]) best = c;
        out[r] = best + SHIFT;
    }
}
"""


def argmax_folder(folder: Path, out_dtype: str = "int32") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "argmax.c").write_text(ARGMAX.replace("STOP", "cols").replace("SHIFT", "0"))
    path = folder / "argmax_target.py"
    path.write_text(ARGMAX_TARGET.replace("OUT_DTYPE", repr(out_dtype)))
    return path


def evaluated(path: Path, kernel: str, folder: Path) -> str:
    """``avo eval`` of ``kernel``'s text on the target at ``path``: its output, whole."""
    source = folder / "candidate.c"
    source.write_text(kernel)
    done = avo("eval", str(source), "--target", str(path), "--quick", cwd=folder)
    return " ".join(f"exit {done.returncode} {done.stdout} {done.stderr}".split())  # unwrapped


def test_an_argmax_with_an_int32_output_checks_and_its_seed_scores(tmp_path: Path) -> None:
    path = argmax_folder(tmp_path)
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seed argmax.c: PASS" in done.stdout
    entry = get_target(str(path)).problem.contract().entry
    assert "out [rows] int32 (the output; an unpredictable value when the kernel starts)" in entry
    assert "In C: int32 is int32_t." in entry


@pytest.mark.parametrize(("stop", "shift", "why"), [
    ("cols", "1", "one past the index"),
    ("cols", "-1", "one before the index"),
    ("cols - 1", "0", "the last column never looked at"),
])
def test_an_off_by_one_argmax_is_rejected(tmp_path: Path, stop: str, shift: str,
                                          why: str) -> None:
    path = argmax_folder(tmp_path)
    said = evaluated(path, ARGMAX.replace("STOP", stop).replace("SHIFT", shift), tmp_path)
    assert said.startswith("exit 3") and "incorrect" in said, (why, said)
    assert "(an integer output is compared exactly)" in said, said


def test_a_float_index_output_is_refused_with_what_to_declare(tmp_path: Path) -> None:
    path = argmax_folder(tmp_path, out_dtype="float32")
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert "returned int64 values" in done.stderr, done.stderr
    assert "but out is declared float32: declare Output('out', ..., dtype=\"int32\")" in \
        done.stderr


def test_a_packed_output_is_refused_with_what_to_declare(tmp_path: Path) -> None:
    path = argmax_folder(tmp_path)
    path.write_text(path.read_text().replace(
        'reference=lambda x, **_: x.argmax(-1),',
        'reference=lambda x, **_: (x.argmax(-1), x.amax(-1)),'))
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert "the reference returned 2 values" in done.stderr, done.stderr
    assert "declare an Output for each" in done.stderr


INT8_TARGET = '''
"""out[r] = sum of the int8 row x[r, :], in int32, on the CPU."""

from avo_tui.evaluation import Input, Int, Output, Target


def row_sum(x, **_):
    import torch

    return x.to(torch.int64).sum(-1)


target = Target(
    name="int8-row-sum",
    description="exact sums of int8 rows",
    kind="cpu",
    entry="avo_row_sum",
    dims=("rows", "cols"),
    parameters=(Input("x", lambda c: (c["rows"], c["cols"]), dtype="int8"),
                Output("out", lambda c: (c["rows"],), dtype="int32"), Int("rows"), Int("cols")),
    configs=({"rows": 1024, "cols": 4096},),
    edge_configs=({"rows": 1, "cols": 1}, {"rows": 5, "cols": 300}),
    reference=row_sum,
    honest=row_sum,
    bytes=lambda c: c["rows"] * (c["cols"] + 4),
    baselines={"torch": row_sum},
    seed="row_sum.c",
)
'''

ROW_SUM = """
#include <stdint.h>
#define UNROLL 1  // avo:knob 1 2

void avo_row_sum(const int8_t *x, int32_t *out, int rows, int cols) {
    for (int r = 0; r < rows; ++r) {
        ACCUMULATOR total = 0;
        for (int c = 0; c < cols; ++c) total += x[(long)r * cols + c];
        out[r] = total;
    }
}
"""


def test_an_int8_input_is_drawn_as_integers_and_summed_exactly(tmp_path: Path) -> None:
    (tmp_path / "row_sum.c").write_text(ROW_SUM.replace("ACCUMULATOR", "int32_t"))
    path = tmp_path / "row_sum_target.py"
    path.write_text(INT8_TARGET)
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seed row_sum.c: PASS" in done.stdout
    config = get_target(str(path)).edge_configs[1]
    x = make_inputs(config, torch.Generator().manual_seed(0), "cpu")["x"]
    assert x.dtype == torch.int8 and int(x.min()) < -100 and int(x.max()) > 100  # whole range
    # the same sum kept in 8 bits wraps: it is caught
    said = evaluated(path, ROW_SUM.replace("ACCUMULATOR", "int8_t"), tmp_path)
    assert said.startswith("exit 3") and "values differ" in said, said


MASK_TARGET = '''
"""out = x > y, elementwise, a bool output, on the CPU."""

from avo_tui.evaluation import Input, Int, Output, Target

shape = lambda c: (c["n"],)

target = Target(
    name="greater",
    description="x > y",
    kind="cpu",
    entry="avo_greater",
    dims=("n",),
    parameters=(Input("x", shape), Input("y", shape), Output("out", shape, dtype="bool"),
                Int("n")),
    configs=({"n": 1 << 20},),
    edge_configs=({"n": 1}, {"n": 77}),
    reference=lambda x, y, **_: x > y,
    honest=lambda x, y, **_: x > y,
    bytes=lambda c: 9 * c["n"],
    baselines={"torch": lambda x, y, **_: x > y},
    seed="greater.c",
)
'''

GREATER = """
#include <stdbool.h>
#define UNROLL 1  // avo:knob 1 2

void avo_greater(const float *x, const float *y, bool *out, int n) {
    for (int i = 0; i < LIMIT; ++i) out[i] = x[i] > y[i];
}
"""


def test_a_bool_output_left_partly_unwritten_is_seen_to_be(tmp_path: Path) -> None:
    (tmp_path / "greater.c").write_text(GREATER.replace("LIMIT", "n"))
    path = tmp_path / "greater_target.py"
    path.write_text(MASK_TARGET)
    done = avo("targets", "check", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    said = evaluated(path, GREATER.replace("LIMIT", "n - n / 64"), tmp_path)
    assert said.startswith("exit 3"), said
    assert "output values were never written (neither true nor false)" in said, said


def test_every_dtype_is_poisoned_so_an_unwritten_value_shows() -> None:
    path = Path(__file__).parents[2] / "targets" / "rmsnorm_cpu.py"
    config = get_target(str(path)).edge_configs[0]
    floats = empty_output(config, "cpu")
    assert bool(floats.isnan().all())
    flags = torch.empty(64, dtype=torch.bool)
    from avo_tui.evaluation.measurement.tensors import poison

    poison(flags)
    assert bool((flags.view(torch.uint8) == BOOL_POISON).all())
    drawn = set()
    for _ in range(8):
        ints = torch.empty(4, dtype=torch.int32)
        poison(ints)
        drawn.add(int(ints[0]))
    assert len(drawn) > 1  # drawn afresh: no fixed value a kernel could leave in place
