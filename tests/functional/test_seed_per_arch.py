"""Each GPU gets the seed its architecture can run (issue 36): `avo run` and `avo eval` choose
it by the GPU the evaluation worker runs on, name it and say why; AVO_GPU_ARCH stands in for
the GPU here. That each chosen seed compiles there, without spills, is
tests/unit/test_cuda_toolchain.py's check over the same architectures."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import SHORT_GATE_CAP_S

from avo_tui.cli import main
from avo_tui.engine.launch import ARCH_ENV, choose_seed
from avo_tui.evaluation import get_target
from avo_tui.evaluation.targets.archs import COMPILE_CHECKED, UnknownArch, arch_of, host_arch
from avo_tui.evaluation.targets.spec import UnsupportedGpu
from avo_tui.store import Session
from avo_tui.views.events import event_line

CHOSEN = {
    "sm_80": "cuda/attention_fwd.cu",
    "sm_89": "cuda/attention_fwd.cu",
    "sm_90a": "cuda/attention_wgmma.cu",
    "sm_100a": "cuda/attention_fwd.cu",
    "sm_120a": "cuda/attention_fwd.cu",
}


def _no_gpu() -> None:
    import torch

    if torch.cuda.is_available():  # the hook would score the seed on this GPU: a GPU run's job
        pytest.skip("this machine has a GPU")


@pytest.mark.parametrize(("arch", "kernel"), CHOSEN.items())
def test_avo_eval_names_the_seed_for_the_gpu_and_why(
    arch: str, kernel: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_gpu()
    monkeypatch.setenv(ARCH_ENV, arch)
    assert main(["eval", "--target", "mha", "--quick"]) == 1  # no GPU to score it on here
    err = capsys.readouterr().err
    assert f"seed {kernel} for {arch}, " in err
    assert "no CUDA GPU is visible" in err


@pytest.mark.parametrize(("arch", "kernel"), CHOSEN.items())
def test_avo_run_names_the_seed_for_the_gpu_before_scoring_it(
    arch: str, kernel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_gpu()
    monkeypatch.setenv(ARCH_ENV, arch)
    code = main(["--sessions-dir", str(tmp_path), "run", "--target", "mha", "--session", "s",
                 "--headless", "--operator", "tuner", "--quick"])
    out, err = capsys.readouterr()
    assert code == 1 and "no CUDA GPU is visible" in err
    [line] = [x for x in out.splitlines() if x.startswith("seed ")]
    assert line.startswith(f"seed {kernel} for {arch}, ")
    assert out.index(line) < out.index("scoring the seed")


def test_the_choice_follows_the_architecture_and_says_why() -> None:
    for name in ("mha", "gqa", "gqa-4", "mha-d64"):
        target = get_target(name)
        assert {arch: target.seed_for(arch).kernel for arch in CHOSEN} == CHOSEN  # type: ignore[union-attr]
        assert set(CHOSEN) <= set(COMPILE_CHECKED) | {"sm_89"}
    hopper = choose_seed(get_target("mha-d64"), "sm_90a")
    assert "Hopper" in hopper.note and "wgmma" in hopper.note
    assert "#define OVERLAP 1" in next(iter(hopper.files.values()))  # the target's knob values
    blackwell = choose_seed(get_target("mha"), "sm_100a")
    assert "Blackwell (B200" in blackwell.note and "no seed native" in blackwell.note
    assert choose_seed(get_target("mha"), None).seed.kernel == "cuda/attention_wgmma.cu"
    assert choose_seed(get_target("cpu-attention"), "sm_100a").seed.kernel == "cpu/attention.c"


def test_an_older_gpu_gets_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UnsupportedGpu, match=r"needs sm_80 \(Ampere\) or newer"):
        get_target("mha").seed_for("sm_75")
    monkeypatch.setenv(ARCH_ENV, "sm_75")
    assert main(["eval", "--target", "mha", "--quick"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("avo: error: this GPU is sm_75 (older than")
    code = main(["--sessions-dir", str(tmp_path), "run", "--target", "mha", "--session", "s",
                 "--headless", "--operator", "tuner"])
    assert code == 1 and "needs sm_80 (Ampere) or newer" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["sm_90", "hopper", "sm_9x"])
def test_a_misspelt_architecture_is_refused(
    bad: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UnknownArch):
        get_target("mha").seed_for(bad)
    monkeypatch.setenv(ARCH_ENV, bad)
    assert main(["eval", "--target", "mha"]) == 1
    assert capsys.readouterr().err.startswith(f"avo: error: {ARCH_ENV}: '{bad}'")


def test_architectures_are_spelled_as_the_compiler_takes_them() -> None:
    assert [arch_of(c) for c in ((8, 0), (8, 9), (9, 0), (10, 0), (12, 0))] == [
        "sm_80", "sm_89", "sm_90a", "sm_100a", "sm_120a"]
    assert host_arch({"capability": "10.0"}) == "sm_100a"
    assert host_arch({"device": "cpu"}) is None


def test_a_session_tells_in_its_first_event_which_seed_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--sessions-dir", str(tmp_path), "run", "--target", "cpu-attention",
                 "--session", "s", "--headless", "--operator", "tuner", "--quick",
                 "--max-steps", "1", "--gate-cap", str(SHORT_GATE_CAP_S)]) == 0
    assert "seed cpu/attention.c: the C seed, for any CPU" in capsys.readouterr().out
    with Session.open(tmp_path / "s", writable=False) as session:
        first = session.events(limit=1)[0]
        assert event_line(first, "GFLOP/s") == (
            "[dim]session  created: seed cpu/attention.c: the C seed, for any CPU[/]")
