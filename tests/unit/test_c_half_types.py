"""A `cpu` target's tensors may be bfloat16 or float16, as a `cuda` target's: a C kernel takes
bfloat16 as its bits (`uint16_t`, no portable C type exists) and float16 as `_Float16`. The
harness makes the tensors in their dtype and hands the arena's bytes to the kernel as they
are; the judge holds the output to its dtype's precision. Each target here is checked and its
honest kernel evaluated through the real C toolchain and evaluator, and a kernel that reads
the bits as the other half type is rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.cli import main
from avo_tui.evaluation import EvalRequest, EvalResult, declared_target, get_target
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.words import entry_words
from avo_tui.operators.agent.first_version import skeleton

TARGET = '''
from typing import Any

from avo_tui.evaluation import Input, Int, Output, Target


def rows_cols(c: dict[str, Any]) -> tuple[int, int]:
    return (c["rows"], c["cols"])


def scaled(x: Any, weight: Any, **_: Any) -> Any:
    return x * weight


def in_its_dtype(x: Any, weight: Any, **_: Any) -> Any:
    return (x.float() * weight).to(x.dtype)


target = Target(
    name="half-scale",
    description="out = x * weight, x and out DTYPE, weight float32, on the CPU",
    kind="cpu",
    entry="half_scale",
    dims=("rows", "cols"),
    parameters=(
        Input("x", rows_cols),
        Input("weight", lambda c: (c["cols"],), dtype="float32"),
        Output("out", rows_cols),
        Int("rows"),
        Int("cols"),
    ),
    configs=({"rows": 64, "cols": 256},),
    edge_configs=({"rows": 1, "cols": 1}, {"rows": 3, "cols": 37}),
    reference=scaled,
    honest=in_its_dtype,
    bytes=lambda c: 4.0 * c["rows"] * c["cols"] + 4.0 * c["cols"],
    baselines={"torch": in_its_dtype},
    seed="half_scale.c",
    dtype="DTYPE",
)
'''

BF16 = r'''#include <stdint.h>
#include <string.h>

static float widen(uint16_t bits) {
  uint32_t wide = (uint32_t)bits << 16;
  float value;
  memcpy(&value, &wide, sizeof value);
  return value;
}

static uint16_t narrow(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  /* NaN stays NaN */
  return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

void half_scale(const uint16_t *x, const float *weight, uint16_t *out, int rows, int cols) {
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      out[(long)r * cols + c] = narrow(widen(x[(long)r * cols + c]) * weight[c]);
}
'''

FP16 = r'''void half_scale(const _Float16 *x, const float *weight, _Float16 *out, int rows,
                int cols) {
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      out[(long)r * cols + c] = (_Float16)((float)x[(long)r * cols + c] * weight[c]);
}
'''

# Each half type's kernel run on the other's bits: it compiles, runs and writes every element,
# and must be rejected for its values.
SWAPPED = {"bfloat16": FP16, "float16": BF16}
KERNELS = {"bfloat16": BF16, "float16": FP16}


def half_target(folder: Path, dtype: str) -> Path:
    (folder / "half_scale.c").write_text(KERNELS[dtype])
    path = folder / "half_scale.py"
    path.write_text(TARGET.replace("DTYPE", dtype))
    return path


def evaluate(target: Path, source: str) -> EvalResult:
    request = EvalRequest(str(target), {"half_scale.c": source}, quick=True, seed=5,
                          measure_baselines=False)
    return Evaluation(Pipeline("cpu"), request, lambda phase, detail: None).run()


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_a_cpu_target_of_half_tensors_checks_and_scores_its_honest_kernel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dtype: str,
) -> None:
    path = half_target(tmp_path, dtype)
    assert main(["targets", "check", str(path)]) == 0, capsys.readouterr()
    assert f"cpu, {dtype} (weight float32); 1 timed" in capsys.readouterr().out
    result = evaluate(path, KERNELS[dtype])
    assert result.correct, result.failure
    assert result.geomean > 0


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_a_kernel_that_reads_the_bits_as_the_other_half_type_is_rejected(
    tmp_path: Path, dtype: str,
) -> None:
    result = evaluate(half_target(tmp_path, dtype), SWAPPED[dtype])
    assert not result.correct
    assert result.failure is not None and result.failure.kind in ("incorrect", "nonfinite")


def test_the_c_kernel_is_told_how_it_takes_each_half_type(tmp_path: Path) -> None:
    bf16 = entry_words(declared_target(str(half_target(tmp_path, "bfloat16"))))
    assert "In C: bfloat16 is uint16_t (its bits, the upper half of a float32's" in bf16, bf16
    fp16 = entry_words(declared_target(str(half_target(tmp_path, "float16"))))
    assert "In C: float16 is _Float16." in fp16, fp16


def test_version_0_of_a_half_target_starts_from_the_signature_in_those_types(
    tmp_path: Path,
) -> None:
    """Where the agent writes v0, its skeleton declares the entry point as the contract says."""
    (text,) = skeleton(get_target(str(half_target(tmp_path, "bfloat16")))).values()
    assert "#include <stdint.h>" in text
    assert ("void half_scale(const uint16_t *x, const float *weight, uint16_t *out, int rows, "
            "int cols)") in text, text
