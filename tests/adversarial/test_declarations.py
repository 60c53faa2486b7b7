"""Hostile declarations: a kernel's author has read contract.py and writes declarations meant to
hang the run or exhaust the machine (issue 17, class 7). The tuner evaluates them in the
engine's own process, so each attack must end at once in a ContractError that says why: never
a hang, never a huge number built, never another exception type.

Attacks that would hang or eat memory without the defence run in a child process with a wall
clock limit and a cap on its address space: a regression then fails the test with
TimeoutExpired or a MemoryError, instead of hanging CI or the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.declarations.contract import (
    MAX_EXPRESSION_CHARS,
    ContractError,
    Environment,
)

ROOT = Path(__file__).parents[2]
SEEDS = ROOT / "kernels"
# Where speed is the subject (quadratic parsing), the quadratic code took 15 minutes to hours
# and the linear one 3 to 13 s on a loaded 2-core machine: this sits far from both.
ATTACK_TIMEOUT_S = 180
CHILD_EXTRA_MEMORY = 1 << 30  # address space a child may add to what its imports took

# Runs one attack read from stdin as JSON; prints how it ended. The memory cap is set after the
# imports, so it bounds only what the attack itself allocates.
CHILD = """
import json, resource, sys, types
from avo_tui.evaluation.declarations import contract
from avo_tui.operators import tuner

attack = json.load(sys.stdin)
with open("/proc/self/statm") as statm:
    mapped = int(statm.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (mapped + attack["memory"],) * 2)
try:
    if attack["path"] == "require":
        contract.parse(attack["source"]).check_requirements({"AVO_HEAD_DIM": 128})
    elif attack["path"] == "evaluate":
        contract.Environment({}, {}).evaluate(attack["source"])
    elif attack["path"] == "parse":
        contract.parse(attack["source"])
    elif attack["path"] == "tensormap":
        contract.read_tensormap("tma_q", attack["source"])
    elif attack["path"] == "tuner":
        ctx = types.SimpleNamespace(target=types.SimpleNamespace(defines={"AVO_HEAD_DIM": 128}))
        print("feasible:", tuner._feasible({"attention.c": attack["source"]}, ctx))
        sys.exit(0)
except contract.ContractError as error:
    print("ContractError:", error)
else:
    print("no error")
"""


def run_attack(path: str, source: str) -> str:
    """Run one attack in a child process; what it printed (it must have finished cleanly)."""
    attack = {"path": path, "source": source, "memory": CHILD_EXTRA_MEMORY}
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps(attack),
        capture_output=True,
        text=True,
        timeout=ATTACK_TIMEOUT_S,  # a hang fails the test with TimeoutExpired
        cwd=ROOT,
    )
    assert result.returncode == 0, f"the attack raised something else:\n{result.stderr[-3000:]}"
    return result.stdout.strip()


def refused(path: str, source: str) -> str:
    """The ContractError message an attack is refused with, run in a child process."""
    output = run_attack(path, source)
    assert output.startswith("ContractError: "), f"not refused: {output[:500]}"
    return output.removeprefix("ContractError: ")


def require(expression: str, defines: str = "") -> str:
    return f"{defines}// avo:require {expression}\n"


def evaluate(path: str, expression: str) -> object:
    """In this process: as a requirement of a parsed kernel, or straight through Environment."""
    if path == "require":
        contract.parse(require(expression)).check_requirements({})
        return None
    return Environment({}, {}).evaluate(expression)


# -- numbers that would not fit the machine ---------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "culprit"),
    [
        # refused from the operands, before the power or shift is computed
        ("2**10**10 > 0", "'2**10**10' exceeds the bound of 2**63 (2 ** 10000000000 is at least"),
        ("9**9**9 > 0", "'9**9**9' exceeds the bound of 2**63 (9 ** 387420489 is at least"),
        ("(-3)**(2**62) > 0", "'(-3)**(2**62)' exceeds the bound of 2**63 (-3 ** 461"),
        ("10**10**5 * 10**10**5 > 0", "'10**10**5' exceeds the bound of 2**63 (10 ** 100000"),
        ("(1 << 10**9) > 0", "'1 << 10**9' exceeds the bound of 2**63 (1 << 1000000000 is"),
        ("(1 << 2**36) > 0", "'1 << 2**36' exceeds the bound of 2**63 (1 << 68719476736 is"),
        # refused once computed, from operands of at most 63 bits
        ("3**62 > 0", "'3**62' exceeds the bound of 2**63: every value"),
        ("2**62 * 2**62 * 2**62 * 2**62 > 0", "'2**62 * 2**62' exceeds the bound of 2**63"),
        ("0x" + "f" * 1000 + " > 0", "exceeds the bound of 2**63"),
    ],
)
@pytest.mark.parametrize("path", ["require", "evaluate"])
def test_a_huge_number_is_refused_before_it_is_built(
    path: str, expression: str, culprit: str
) -> None:
    message = refused(path, require(expression) if path == "require" else expression)
    assert culprit in message
    if path == "require":
        assert message.startswith("line 1: ")


def test_a_chain_of_squaring_defines_stops_at_the_bound() -> None:
    # 3 squared 30 times has 2**30 * log2(3) bits: far beyond any machine without the bound
    defines = "#define A0 3\n" + "".join(
        f"#define A{i} (A{i - 1} * A{i - 1})\n" for i in range(1, 31)
    )
    message = refused("require", require("A30 > 0", defines))
    assert "'A5 * A5' exceeds the bound of 2**63" in message
    assert "(in #define A6)" in message


@pytest.mark.parametrize(
    ("expression", "culprit"),
    [
        ("2.0 ** 100000 > 0", "'2.0 ** 100000' exceeds the bound of 2**63"),
        ("1e400 > 0", "'1e400' is not a finite number (inf)"),
        ("1e300 * 1e300 > 0", "'1e300' exceeds the bound of 2**63"),
        ("(-8) ** 0.5 > 0", "'(-8) ** 0.5' is not a real number"),
    ],
)
@pytest.mark.parametrize("path", ["require", "evaluate"])
def test_a_float_beyond_the_bound_or_not_finite_is_refused(
    path: str, expression: str, culprit: str
) -> None:
    with pytest.raises(ContractError) as refusal:
        evaluate(path, expression)
    assert culprit in str(refusal.value)


def test_values_up_to_the_bound_still_work() -> None:
    env = Environment({}, {})
    assert env.evaluate("2**62 + (2**62 - 1)") == 2**63 - 1
    assert env.evaluate("1 << 62") == 2**62
    assert env.evaluate("-(2**62) - (2**62 - 1)") == -(2**63) + 1
    assert env.evaluate("0 << 10**18") == 0
    assert env.evaluate("1 ** 10**18") == 1
    assert env.evaluate("1 >> 10**18") == 0
    assert env.evaluate("(2**62 + 1) / 1") == 2**62 + 1  # C division, exact beyond 2**53
    assert env.evaluate("-7 / 2") == -3
    assert env.evaluate("2 ** -1") == 0.5


# -- too much work ---------------------------------------------------------------------------


def test_a_5000_level_define_chain_is_refused() -> None:
    # each level doubles; without a limit the resolution overflows the stack (RecursionError)
    defines = "#define A0 1\n" + "".join(
        f"#define A{i} (A{i - 1}+A{i - 1})\n" for i in range(1, 5001)
    )
    message = refused("require", require("A5000 > 0", defines))
    assert message.startswith("line 5002: more than 32 #define levels: A5000 -> A4999")


def test_a_define_chain_is_refused_through_environment_value() -> None:
    defines = "".join(f"#define A{i} (A{i - 1} + 1)\n" for i in range(1, 5001))
    env = contract.parse(defines).environment()
    with pytest.raises(ContractError, match="more than 32 #define levels"):
        env.value("A5000")


def test_nesting_through_defines_is_counted() -> None:
    # each #define nests 45 levels, within the limit; 30 of them nest 1350, past the stack
    defines = "#define D0 1\n" + "".join(
        f"#define D{i} " + "-(" * 45 + f"D{i - 1}" + ")" * 45 + "\n" for i in range(1, 31)
    )
    message = refused("require", require("D30 > 0", defines))
    assert "nests more than 100 levels deep, counting the #defines it refers to" in message


@pytest.mark.parametrize(
    "expression",
    [
        "-" * 1000 + "1",
        "not " * 250 + "1",
        "-(" * 190 + "1" + ")" * 190,
        "a." * 500 + "b",
        "1 + " * 250 + "1",
    ],
    ids=["minus", "not", "parenthesised-minus", "attributes", "sum"],
)
@pytest.mark.parametrize("path", ["parse", "evaluate"])
def test_deep_nesting_is_refused(path: str, expression: str) -> None:
    message = refused(path, require(expression + " > 0") if path == "parse" else expression)
    assert "nests more than 100 levels deep" in message


def test_deeply_nested_parentheses_are_refused() -> None:
    message = refused("evaluate", "(" * 100_000 + "1" + ")" * 100_000)
    assert f"an expression may have at most {MAX_EXPRESSION_CHARS}" in message
    message = refused("evaluate", "(" * 500 + "1" + ")" * 500)
    assert (
        message.startswith("cannot read the expression")
        and "too many nested parentheses" in message
    )


MEGABYTE_EXPRESSION = "min(" + "1, " * 333_333 + "1) > 0"


def test_a_megabyte_expression_is_refused_unread() -> None:
    message = refused("evaluate", MEGABYTE_EXPRESSION)
    too_long = f"is {len(MEGABYTE_EXPRESSION):,} characters long"
    assert f"{too_long}; an expression may have at most {MAX_EXPRESSION_CHARS}" in message
    message = refused("require", require("BIG", f"#define BIG {MEGABYTE_EXPRESSION}\n"))
    assert message.startswith("line 2: the expression") and too_long in message
    message = refused("parse", require(MEGABYTE_EXPRESSION))
    assert "declarations of one file may hold at most 16,384 characters together" in message


def test_tens_of_thousands_of_declarations_are_refused() -> None:
    # each line is cheap; without a cap, parsing them all (and counting lines) is not
    message = refused("parse", "// avo:require 1\n" * 60_000)
    assert message.startswith("line 1025: the avo:require, avo:launch and avo:tensormap")


def test_many_knobs_are_numbered_in_linear_time() -> None:
    # counting the newlines before every knob from the start of the file was quadratic: a 10 MB
    # file of knobs took about a quarter of an hour; the tuner parses every candidate's files
    knobs = "".join(f"#define K{i} 1 // avo:knob 1 2\n" for i in range(400_000))
    assert run_attack("parse", knobs) == "no error"


def test_evaluation_work_per_environment_is_bounded() -> None:
    # 40 #defines of 300-element tuples, each under every per-expression limit
    defines = "".join(f"#define W{i} (" + "1, " * 300 + "1)\n" for i in range(40))
    message = refused("require", require(" and ".join(f"W{i}" for i in range(40)), defines))
    assert "takes more than 10,000 steps" in message


def test_a_long_run_of_blanks_does_not_stall_the_parser() -> None:
    # a lazy #define pattern backtracked quadratically over blanks: 1 MB took hours
    blanks = " " * 1_000_000
    assert run_attack("parse", f"#define A x{blanks}y\n#define B 1{blanks}// avo:knob 1\n") == (
        "no error"
    )
    message = refused("require", require("A > 0", f"#define A x{blanks}y\n"))
    assert "characters long" in message
    # the field split of a tensor map backtracked the same way, on blanks before no key=
    message = refused("tensormap", f"tensor=q box=(1, 1,{blanks}64, 64)")
    assert "characters long" in message


# -- failures that raised the wrong exception type ------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 // 0", "division by zero in '1 // 0'"),
        ("1 % 0", "division by zero in '1 % 0'"),
        ("7 / (3 - 3)", "division by zero in '7 / (3 - 3)'"),
        ("1.0 / 0.0", "division by zero in '1.0 / 0.0'"),
        ("0 ** -1", "division by zero in '0 ** -1'"),
        ("ceil_div(1, 0)", "division by zero in 'ceil_div(1, 0)'"),
        ("ceil_div(1)", "ceil_div takes 2 values, got 1"),
        ("min()", "min() needs at least one value"),
        ("max()", "max() needs at least one value"),
        ("min(())", "cannot evaluate 'min(())'"),
        ("max(3)", "cannot evaluate 'max(3)'"),
        ("1 << -1", "cannot evaluate '1 << -1': negative shift count"),
        ("1.5 << 2", "cannot evaluate '1.5 << 2'"),
        ("(1, 2) < 3", "cannot compare in '(1, 2) < 3'"),
    ],
)
@pytest.mark.parametrize("path", ["require", "evaluate"])
def test_arithmetic_errors_are_contract_errors(path: str, expression: str, message: str) -> None:
    with pytest.raises(ContractError) as refusal:
        evaluate(path, expression)
    assert message in str(refusal.value)
    assert "\n" not in str(refusal.value)


def test_ceil_div_itself_refuses_zero() -> None:
    with pytest.raises(ContractError, match="division by zero"):
        contract.ceil_div(1, 0)


# -- the tuner, which evaluates requirements in the engine's process ----------------------------


def test_the_tuner_treats_a_hostile_requirement_as_infeasible() -> None:
    seed = (SEEDS / "cpu" / "attention.c").read_text()
    assert run_attack("tuner", seed) == "feasible: True"
    assert run_attack("tuner", seed + require("9**9**9 > 0")) == "feasible: False"
    assert run_attack("tuner", seed + require("1 // 0")) == "feasible: False"


# -- honest kernels are unaffected ----------------------------------------------------------


def test_the_seed_kernels_evaluate_as_before() -> None:
    variables = {"B": 2, "HQ": 16, "HKV": 4, "S": 1000, "D": 128, "CAUSAL": 1, "NUM_SMS": 132}
    defines = {"AVO_HEAD_DIM": 128}
    contract.parse((SEEDS / "cpu" / "attention.c").read_text()).check_requirements(defines)

    fwd = contract.parse((SEEDS / "cuda" / "attention_fwd.cu").read_text())
    fwd.check_requirements(defines)
    env = fwd.environment(variables | defines)
    assert env.evaluate(fwd.launch["grid"]) == (8, 16, 2)
    assert env.evaluate(fwd.launch["block"]) == (128,)
    assert env.evaluate(fwd.launch["smem"]) == (128 + 2 * 2 * 64) * 128 * 2

    wgmma = contract.parse((SEEDS / "cuda" / "attention_wgmma.cu").read_text())
    wgmma.check_requirements(defines)
    env = wgmma.environment(variables | defines)
    # persistent: a CTA per SM, 132 of the 8 * 16 * 2 (block, head, batch) tiles at a time
    assert env.evaluate(wgmma.launch["grid"]) == (132,)
    assert env.evaluate(wgmma.launch["block"]) == (384,)  # a producer and two consumers
    # Q, then the K/V ring, then O's own rows (O_BUFFER)
    assert env.evaluate(wgmma.launch["smem"]) == (128 + 2 * 2 * 128 + 128) * 128 * 2 + 1024 + 256
    assert env.evaluate(wgmma.launch["scratch"]) == 4  # the tile counter
    boxes = [m.box_shape(wgmma.environment(defines), 2, 4) for m in wgmma.tensormaps]
    # Q, K and V; and O, a warp's 16 rows at a time (O_STORE_TMA)
    assert boxes == [(1, 1, 128, 64), (1, 1, 128, 64), (1, 1, 128, 64), (1, 1, 16, 64)]
