"""``avo eval`` and ``avo run`` refuse a target file that ``avo targets check`` refuses, in the
one line check prints (``avo: error: ...``, exit status 1), before any session is made or
anything scored; a reference that fails only where the evaluation reaches it (a timed
configuration) comes back from the worker as that one line too, not as a traceback under
``FAIL internal``. A reference that is not finite names the input that makes it so and the
``values=`` rule to give it; the inputs as drawn by their rules are "drawn inputs", never
"normal" (issue 68, item 8). Each target is the docs' example with one thing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from target_example import SEED_FILE, Edits, write_example

from avo_tui.cli import main

pytestmark = pytest.mark.usefixtures("c_compiler")

SCALED_ADD = "def scaled_add(x, r, alpha, **_):\n    return x + alpha * r\n"
# The reference takes the square root of r, drawn standard normal: x comes first and is fine.
SQRT_OF_R = [(SCALED_ADD, "def scaled_add(x, r, alpha, **_):\n"
                          "    return x + alpha * torch.sqrt(r)\n")]
DROPPED_ALPHA = [("torch.add(x, r, alpha=alpha)", "torch.add(x, r)")]
POSITIVE = ("give Input(\"r\", ..., values=Positive())")


def refusal(capsys: pytest.CaptureFixture[str], *argv: str, scored: bool = False) -> str:
    """The one line ``avo ARGV`` refuses with (exit status 1); nothing on stdout unless the
    scoring began (``scored``: what only the evaluation reaches)."""
    assert main(list(argv)) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("avo: error: "), captured.err
    assert scored or captured.out == ""  # no table, no session line: nothing was scored
    return lines[0]


def check_line(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    assert main(["targets", "check", str(path)]) == 1
    return capsys.readouterr().err.strip()


@pytest.mark.parametrize("edits", [SQRT_OF_R, DROPPED_ALPHA], ids=["not-finite", "baseline"])
def test_eval_and_run_refuse_in_the_line_check_prints(
    edits: Edits, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_example(tmp_path / "target", edits).resolve()
    line = check_line(capsys, path)
    assert line.startswith(("avo: error: the reference is not finite on rows",
                            "avo: error: baseline torch-add disagrees with the reference")), line
    assert refusal(capsys, "eval", "--target", str(path)) == line
    sessions = tmp_path / "sessions"
    assert refusal(capsys, "run", "--target", str(path), "--session", "s1", "--headless",
                   "--operator", "tuner", "--max-steps", "1", "--sessions-dir",
                   str(sessions)) == line
    assert not (sessions / "s1").exists()


def test_a_reference_not_finite_names_the_input_and_the_rule_to_give_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_example(tmp_path, SQRT_OF_R).resolve()
    assert refusal(capsys, "eval", "--target", str(path)) == (
        "avo: error: the reference is not finite on rows1-cols1 (drawn inputs): r makes it "
        "so, drawn standard normal; drawn positive (|standard normal| + 0.001) instead, the "
        f"reference is finite: {POSITIVE}")


# Fine on the edge configurations (which the check runs) and wrong on the timed ones: only the
# evaluation reaches it, in the worker.
ON_TIMED = "    if x.shape[0] == 1024:\n        {}\n    return x + alpha * r\n"


def test_a_reference_that_raises_in_the_worker_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    body = "def scaled_add(x, r, alpha, **_):\n" + ON_TIMED.format("return 1 / 0")
    path = write_example(tmp_path / "target", [(SCALED_ADD, body)]).resolve()
    line_no = path.read_text().splitlines().index("        return 1 / 0") + 1
    expected = (f"avo: error: the target file's scaled_add (line {line_no} of {path}) raised "
                "ZeroDivisionError on rows1024-cols1024: division by zero")
    assert refusal(capsys, "eval", str(path.parent / SEED_FILE), "--target", str(path),
                   "--quick") == expected
    sessions = tmp_path / "sessions"
    assert refusal(capsys, "run", "--target", str(path), "--session", "s1", "--headless",
                   "--operator", "tuner", "--quick", "--sessions-dir", str(sessions),
                   scored=True) == expected
    assert not (sessions / "s1").exists()


def test_a_reference_not_finite_where_only_the_worker_sees_it_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Else every output compares with a NaN reference as NaN, which no bound refuses: a
    kernel passed."""
    body = "def scaled_add(x, r, alpha, **_):\n" + ON_TIMED.format(
        "return x + alpha * torch.sqrt(r)")
    path = write_example(tmp_path, [(SCALED_ADD, body)]).resolve()
    assert refusal(capsys, "eval", str(path.parent / SEED_FILE), "--target", str(path),
                   "--quick") == (
        "avo: error: the reference is not finite on rows1024-cols1024 (drawn inputs): r makes "
        "it so, drawn standard normal; drawn positive (|standard normal| + 0.001) instead, the "
        f"reference is finite: {POSITIVE}")


UNIFORM = [('Input("x", rows_cols)', 'Input("x", rows_cols, values=Uniform(0.0, 1.0))'),
           ('Input("r", rows_cols)', 'Input("r", rows_cols, values=Uniform(0.0, 1.0))'),
           ("import Float, Input,", "import Float, Input, Uniform,")]


def test_inputs_drawn_by_their_rules_are_drawn_inputs_never_normal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Every input here is uniform on [0, 1): the case the harness names "normal" is not."""
    path = write_example(tmp_path, UNIFORM).resolve()
    assert main(["targets", "check", str(path)]) == 0
    numerics = next(line for line in capsys.readouterr().out.splitlines()
                    if line.startswith("  ok  numerics"))
    assert " with drawn, huge, mixed inputs: " in numerics, numerics
    wrong = path.parent / "wrong.c"  # alpha dropped: wrong on every value
    wrong.write_text((path.parent / SEED_FILE).read_text().replace("alpha * ", ""))
    assert main(["eval", str(wrong), "--target", str(path), "--quick"]) == 3
    out = " ".join(capsys.readouterr().out.split())
    assert "rows outside their tolerance on drawn inputs" in out, out
    assert "normal" not in out
    assert "normal" not in numerics
