"""Kernel declarations: knobs the tuner can read and rewrite, requirements, launch expressions."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.evaluation import contract
from avo_tui.evaluation.candidate import CandidateError, apply_knobs
from avo_tui.evaluation.contract import ContractError

SEED = (Path(__file__).parents[1] / "kernels" / "cpu" / "attention.c").read_text()

KERNEL = """\
#define BLOCK_M 64   // avo:knob 32 64 128
#define WARPS 4      // avo:knob 4, 8
#define THREADS (WARPS * 32)
#define SMEM (BLOCK_M * 128 * 2)
// avo:require BLOCK_M * WARPS <= 512 && SMEM <= 32768
// avo:launch grid=(ceil_div(S, BLOCK_M), HQ, B) block=(THREADS,) smem=SMEM
__global__ void k() {}
"""


def test_seed_kernel_declares_its_knobs() -> None:
    declared = contract.parse(SEED)
    names = {k.name: k for k in declared.knobs}
    assert set(names) == {"BLOCK_Q", "BLOCK_K", "UNROLL", "THREADS"}
    assert names["BLOCK_Q"].value == "32" and "64" in names["BLOCK_Q"].choices
    declared.check_requirements()


def test_knobs_are_rewritten_in_place_and_read_back() -> None:
    tuned = contract.set_knobs(KERNEL, {"BLOCK_M": 128, "WARPS": 8})
    knobs = {k.name: k.value for k in contract.parse(tuned).knobs}
    assert knobs == {"BLOCK_M": "128", "WARPS": "8"}
    assert "#define BLOCK_M 128   // avo:knob 32 64 128" in tuned
    # everything else is untouched
    assert tuned.splitlines()[2:] == KERNEL.splitlines()[2:]


def test_a_value_outside_the_choices_is_refused() -> None:
    with pytest.raises(ContractError, match="not an allowed value of BLOCK_M"):
        contract.set_knobs(KERNEL, {"BLOCK_M": 96})
    assert "96" in contract.set_knobs(KERNEL, {"BLOCK_M": 96}, strict=False)
    with pytest.raises(ContractError, match="no knob 'TILE'"):
        contract.set_knobs(KERNEL, {"TILE": 1})


def test_requirements_and_launch_expressions_are_evaluated() -> None:
    declared = contract.parse(KERNEL)
    declared.check_requirements()
    env = declared.environment({"S": 1000, "HQ": 16, "B": 2})
    assert env.evaluate(declared.launch["grid"]) == (16, 16, 2)
    assert env.evaluate(declared.launch["block"]) == (128,)
    assert env.evaluate(declared.launch["smem"]) == 16384
    broken = contract.set_knobs(KERNEL, {"BLOCK_M": 128, "WARPS": 8})
    with pytest.raises(ContractError, match=r"line 5: requirement not met"):
        contract.parse(broken).check_requirements()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("#define A 3 // avo:knob 1 2\n", "A = 3 is not one of its allowed values"),
        ("#define A 1 // avo:knob\n", "lists no allowed values"),
        ("#define A 1 // avo:knob 1\n#define A 1 // avo:knob 1\n", "declared twice"),
        ("// avo:require A >\n", "cannot read the expression"),
        ("// avo:launch grids=(1,)\n", "avo:launch takes grid="),
    ],
)
def test_malformed_declarations_are_errors_with_a_reason(source: str, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        contract.parse(source)


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("7 / 2", 3),  # C integer division
        ("ceil_div(7, 2)", 4),
        ("1 && !0", True),
        ("0 || 2 > 3", False),
        ("min(4, 2) * max(1, 3)", 6),
        ("64u << 2", 256),
        ("1 if 2 > 1 else 0", 1),
    ],
)
def test_expressions_follow_c_where_c_differs(expression: str, value: object) -> None:
    assert contract.Environment({}, {}).evaluate(expression) == value


@pytest.mark.parametrize(
    "expression", ["__import__('os')", "open('x')", "().__class__", "[1, 2]", "x", "'text' * 2"]
)
def test_expressions_cannot_reach_python(expression: str) -> None:
    with pytest.raises(ContractError):
        contract.Environment({}, {}).evaluate(expression)


def test_a_define_that_refers_to_itself_is_an_error() -> None:
    env = contract.parse("#define A (B + 1)\n#define B (A + 1)\n").environment()
    with pytest.raises(ContractError, match="refers to itself"):
        env.value("A")


def test_knob_overrides_reach_whichever_file_declares_them() -> None:
    sources = {"main.c": '#include "tiles.h"\n', "tiles.h": KERNEL}
    tuned = apply_knobs(sources, {"WARPS": "8"})
    assert tuned["main.c"] == sources["main.c"]
    assert "#define WARPS 8" in tuned["tiles.h"]
    with pytest.raises(CandidateError, match="no knob NOPE in the kernel"):
        apply_knobs(sources, {"NOPE": "1"})
