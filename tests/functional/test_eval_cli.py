"""``avo eval``: the real command, a real worker process, real compiles, on the CPU target."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from avo_tui.cli import main

ROOT = Path(__file__).parents[2]
SEED = ROOT / "kernels" / "cpu" / "attention.c"
ADVERSARIAL = ROOT / "tests" / "adversarial" / "kernels"


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")


def test_seed_passes_with_every_figure_in_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(SEED), "--target", "cpu-attention", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["correct"] is True and doc["failure"] is None
    assert doc["geomean"] > 0 and doc["ratio"] > 0
    timed = [c for c in doc["configs"] if not c["edge"]]
    edges = [c for c in doc["configs"] if c["edge"]]
    # every timed shape under every hostile case; the fixed edge shapes, then lengths drawn
    # for this evaluation: a residue of 128 from each of 8 strata, causal and not, each with a
    # spread case; two short ones and one more with any case, every input case among them
    assert len(timed) == 4 and len(edges) == 4 * 3 + 5 + 16 + 3
    assert {(c["name"], c["case"]) for c in edges[:12]} == {
        (t["name"], case) for t in timed for case in ("large", "dominant", "flat")}
    edges = edges[12:]
    assert {c["case"] for c in edges} == {"normal", "large", "dominant", "flat"}
    strata = edges[5:21]
    assert {(c["config"]["seq_len"] % 128 // 16, c["config"]["causal"]) for c in strata} == {
        (stratum, causal) for stratum in range(8) for causal in (False, True)
    }
    assert "large" not in {c["case"] for c in strata}
    assert all(c["tolerance"] and c["honest_rel_l2"] is not None for c in doc["configs"])
    for config in timed:
        assert config["throughput"] > 0 and config["baseline"] > 0
        assert config["ratio"] == pytest.approx(config["throughput"] / config["baseline"])
        assert config["rel_l2_err"] < 1e-4 and config["max_abs_err"] < 1e-3
        assert config["timing"]["reps"] >= 5
        assert config["verified"] >= 1  # timed launches checked against the reference
    assert all(c["passed"] for c in edges)
    assert doc["knobs"] == {"BLOCK_Q": "32", "BLOCK_K": "64", "UNROLL": "4", "THREADS": "1"}
    assert isinstance(doc["seed"], int) and doc["host"]["torch"]


@pytest.fixture(scope="module")
def seeded() -> list[dict[str, Any]]:
    """``avo eval --quick --json`` of the seed with the input seeds 7, 7 and 8: the results
    both tests of what ``--seed`` reproduces read (each evaluation starts its own worker)."""
    docs = []
    for seed in ("7", "7", "8"):
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(["eval", str(SEED), "--quick", "--no-baseline", "--seed", seed, "--json"])
        assert code == 0, out.getvalue()
        docs.append(json.loads(out.getvalue()))
    return docs


def test_the_seed_reproduces_the_drawn_shapes_and_cases(seeded: list[dict[str, Any]]) -> None:
    drawn = [[(c["name"], c["case"]) for c in doc["configs"] if c["edge"]] for doc in seeded]
    assert drawn[0] == drawn[1] and drawn[0] != drawn[2]


def test_table_output_and_knob_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", str(SEED), "--quick", "--no-baseline", "--knob", "BLOCK_Q=8", "--seed", "7"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "b1-h4kv2-s256-d64-causal" in out and "(edge)" in out
    assert "PASS" in out and "seed 7," in out
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["knobs"]["BLOCK_Q"] == "8" and doc["seed"] == 7 and doc["quick"] is True


def test_same_seed_same_inputs(seeded: list[dict[str, Any]]) -> None:
    errors = [[c["max_abs_err"] for c in doc["configs"]] for doc in seeded]
    assert errors[0] == errors[1] and errors[0] != errors[2]


def test_the_seed_a_result_prints_reproduces_it(capsys: pytest.CaptureFixture[str]) -> None:
    """An evaluation's own seed is 62 bits; ``--seed`` takes it back as printed (it took at
    most 2**32 - 1, so the seed a failure printed could not reproduce it)."""
    argv = ["eval", str(SEED), "--quick", "--no-baseline", "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*argv, "--seed", str(first["seed"])]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["seed"] == first["seed"]
    assert [c["max_abs_err"] for c in again["configs"]] == [
        c["max_abs_err"] for c in first["configs"]]


def test_a_rejected_kernel_exits_3_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("no_causal_mask.c", "naive.h"):
        shutil.copy(ADVERSARIAL / name, tmp_path / name)
    assert main(["eval", str(tmp_path), "--target", "cpu-attention", "--quick"]) == 3
    out = capsys.readouterr().out
    assert "FAIL incorrect [b1-h4kv2-s256-d64-causal]: query row " in out
    assert "rows outside their tolerance" in " ".join(out.split())
    # the rule that set the row's tolerance, and the input case the check drew
    assert "the floor for a row); " in " ".join(out.split())
    assert "outside their tolerance on drawn inputs" in " ".join(out.split())
    assert main(["eval", str(tmp_path), "--target", "cpu-attention", "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["correct"] is False and doc["geomean"] == 0
    assert doc["failure"]["kind"] == "incorrect"


def test_compile_errors_are_listed_with_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kernel = tmp_path / "k.c"
    kernel.write_text("void avo_attention_fwd(void) {\n  oops;\n}\n")
    assert main(["eval", str(kernel)]) == 3
    out = capsys.readouterr().out
    assert "k.c:2:3: error: 'oops' undeclared" in out
    assert "FAIL compile" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "nowhere.c"], "nowhere.c does not exist"),
        (["eval", str(SEED), "--target", "cpu-atention"], "did you mean cpu-attention"),
        (["eval", str(SEED), "--knob", "TILE=3"], "no knob TILE in the kernel"),
        (["eval", str(SEED), "--knob", "BLOCK_Q"], "--knob takes NAME=VALUE"),
        (["eval", str(SEED), "--knob", "BLOCK_Q=48"], "48 is not an allowed value of BLOCK_Q"),
        (["eval", str(ROOT / "README.md")], "name the target with --target"),
    ],
)
def test_bad_input_is_one_clear_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("avo: error: ") and message in err
    assert "Traceback" not in err


def test_help_explains_exit_status() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "avo_tui.cli", "eval", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "exit status: 0 when the kernel passes, 3 when it is rejected" in out
    assert "--knob NAME=VALUE" in out


def test_a_single_file_brings_the_headers_it_includes(capsys: pytest.CaptureFixture[str]) -> None:
    kernel = ADVERSARIAL / "honest.c"
    assert main(["eval", str(kernel), "--quick", "--no-baseline", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] is True


def test_a_gpu_target_without_a_gpu_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    kernel = ROOT / "tests" / "adversarial" / "cuda" / "honest.cu"
    assert main(["eval", str(kernel), "--target", "mha"]) == 1
    err = capsys.readouterr().err
    assert "avo: error: the evaluation worker cannot run here" in err
    assert "no CUDA GPU is visible" in err


def test_a_warm_worker_reuses_baseline_timings_unless_told_not_to() -> None:
    from avo_tui.evaluation import EvalRequest, Worker
    from avo_tui.evaluation.declarations.candidate import load_sources

    request = EvalRequest("cpu-attention", load_sources(SEED, "c"), quick=True)
    with Worker() as worker:
        first, second = worker.evaluate(request), worker.evaluate(request)
        fresh = worker.evaluate(EvalRequest(**{**request.__dict__, "reuse_baselines": False}))
    baselines = [[c.baseline for c in r.timed] for r in (first, second, fresh)]
    assert baselines[0] == baselines[1]
    assert baselines[2] != baselines[0]


def test_without_a_path_the_targets_own_seed_is_scored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed avo has no kernels/ beside the user: `avo eval --target T` scores the seed
    that ships with it (here one under AVO_KERNELS_DIR: once it is removed, the command says
    the seed is missing, so that is the one it read)."""
    kernels = tmp_path / "kernels" / "cpu"
    kernels.mkdir(parents=True)
    (kernels / "attention.c").write_text(SEED.read_text() + "\nint shipped_marker = 1;\n")
    monkeypatch.setenv("AVO_KERNELS_DIR", str(tmp_path / "kernels"))
    assert main(["eval", "--target", "cpu-attention", "--quick", "--no-baseline", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["correct"] is True
    assert main(["eval", "--quick"]) == 1
    assert "name a kernel (a file or a folder), or a --target" in capsys.readouterr().err
    (kernels / "attention.c").unlink()
    assert main(["eval", "--target", "cpu-attention", "--quick"]) == 1
    assert "the seed kernel of cpu-attention is not at" in capsys.readouterr().err


def test_a_file_that_is_no_kernel_source_is_one_clear_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", str(ROOT / "README.md"), "--target", "cpu-attention", "--quick"]) == 1
    err = capsys.readouterr().err
    assert err == ("avo: error: " + str(ROOT / "README.md") + " is not a kernel source of the c "
                   "toolchain (a .c/.h file, or a folder of them)\n")


def test_a_compile_failure_with_no_diagnostic_says_what_the_toolchain_said() -> None:
    from avo_tui.evaluation.toolchains.base import CompileResult

    refused = CompileResult(False, None, "\nno .c file among the sources\n")
    assert refused.summary() == "compile failed: no .c file among the sources"
    assert CompileResult(False, None, "").summary() == "compile failed (no log)"
