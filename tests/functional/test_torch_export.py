"""``avo export --torch``: the package a CPU target's kernel is exported as, installed with pip
into a scratch virtual environment where avo-tui is not importable (torch comes from this
environment's site-packages through a .pth line, whose own .pth files, avo-tui's editable
install among them, are not read), and its operator called there: correct against a float64
reference, registered as torch.ops.NAME.fwd, traced by torch.compile(fullgraph=True), and
falling back with one warning that says why on a head dim it was not verified on. Its spec is
read back too: the evaluator's build command, the verified envelope."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from avo_tui.cli import main

# this environment's libraries: torch, numpy, setuptools, pip
SITES = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))

ATTENTION_USE = """
import sys, warnings
import torch
import avo_cpu_attention as op

assert "avo_tui" not in sys.modules
torch.manual_seed(0)
def reference(q, k, v, causal):
    group = q.shape[1] // k.shape[1]
    q = q.double()
    k, v = k.double().repeat_interleave(group, 1), v.double().repeat_interleave(group, 1)
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if causal:
        n = q.shape[2]
        s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, -1) @ v

q, k, v = torch.randn(2, 4, 200, 64), torch.randn(2, 2, 200, 64), torch.randn(2, 2, 200, 64)
for causal in (False, True):
    assert op.supported(q, k, v, causal=causal), op.supported(q, k, v, causal=causal)
    out = torch.ops.avo_cpu_attention.fwd(q, k, v, causal, None)
    assert out.dtype == torch.float32 and out.shape == q.shape
    print("error", causal, float((out.double() - reference(q, k, v, causal)).abs().max()))
    assert torch.equal(op.fwd(q, k, v, causal=causal), out)
compiled = torch.compile(lambda a, b, c: op.fwd(a, b, c, causal=True), fullgraph=True,
                         backend="aot_eager")
assert torch.equal(compiled(q, k, v), op.fwd(q, k, v, causal=True))
print("compiled fullgraph")
from torch._subclasses.fake_tensor import FakeTensorMode
with FakeTensorMode():  # fake tensors go through torch.ops to the fake implementation
    fake = op.fwd(torch.empty(1, 4, 16, 64), torch.empty(1, 2, 16, 64), torch.empty(1, 2, 16, 64))
assert tuple(fake.shape) == (1, 4, 16, 64)
small = [torch.randn(1, 4, 50, 32), torch.randn(1, 2, 50, 32), torch.randn(1, 2, 50, 32)]
verdict = op.supported(*small)
assert not verdict and "head_dim is 32" in verdict.reason, verdict
with warnings.catch_warnings(record=True) as said:
    warnings.simplefilter("always")
    first = op.fwd(*small)
    op.fwd(*small)
assert len(said) == 1 and issubclass(said[0].category, RuntimeWarning), said
print("warned", said[0].message)
assert float((first.double() - reference(*small, False)).abs().max()) < 1e-5
assert not op.supported(q.transpose(2, 3).contiguous().transpose(2, 3), k, v)
"""

RMSNORM_USE = """
import sys
import torch
import avo_rmsnorm_cpu as op

assert "avo_tui" not in sys.modules
x, residual, weight = torch.randn(3, 1000), torch.randn(3, 1000), torch.randn(1000)
assert op.supported(x, residual, weight)
out = op.fwd(x, residual, weight)
h = (x + residual).double()
exact = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * weight.double()
print("error", float((out.double() - exact).abs().max()))
assert not op.supported(x, residual, weight, eps=1e-5)
assert not op.supported(x, residual[:, :999].contiguous(), weight)
"""


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                          env=env)
    assert done.returncode == 0, f"$ {' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def scratch_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], venv)
    python = venv / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               venv).strip()
    Path(site, "parent_site.pth").write_text("".join(f"{path}\n" for path in SITES))
    return python


@pytest.mark.parametrize(("target", "package", "use", "expected_error"), [
    ("cpu-attention", "avo_cpu_attention", ATTENTION_USE, 1e-5),
    ("rmsnorm-cpu", "avo_rmsnorm_cpu", RMSNORM_USE, 1e-4),
])
def test_the_exported_package_installs_with_pip_and_runs_the_scored_kernel(
    tmp_path: Path, scratch_venv: Path, capsys: pytest.CaptureFixture[str], target: str,
    package: str, use: str, expected_error: float,
) -> None:
    out = tmp_path / "export"
    assert main(["export", "--target", target, "--torch", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"as the package {package} in {out}" in said
    spec = json.loads((out / package / "spec.json").read_text())
    from avo_tui.evaluation.toolchains.c import FLAGS

    assert spec["build"]["command"][: len(FLAGS)] == list(FLAGS)
    run([str(scratch_venv), "-m", "pip", "install", "-q", "--no-index", "--no-deps",
         "--no-build-isolation", str(out)], tmp_path)
    cache = tmp_path / "cache"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONPATH="")
    script = tmp_path / "use.py"
    script.write_text(textwrap.dedent(use))
    printed = run([str(scratch_venv), str(script)], tmp_path, env)
    errors = [float(line.split()[-1]) for line in printed.splitlines() if line.startswith("error")]
    assert errors and max(errors) < expected_error, printed
    assert len(list((cache / package).glob("*.so"))) == 1  # built once, kept


def test_the_spec_states_what_the_kernel_was_verified_on(tmp_path: Path) -> None:
    assert main(["export", "--target", "cpu-attention", "--torch", str(tmp_path / "e")]) == 0
    spec = json.loads((tmp_path / "e" / "avo_cpu_attention" / "spec.json").read_text())
    assert spec["dims"]["head_dim"] == [64, 64]
    assert spec["relations"] == [["heads_q", "%", "heads_kv"]]
    assert [o["name"] for o in spec["options"]] == ["causal", "scale"]
    assert spec["options"][1]["rule"] == "rsqrt:head_dim"
    assert spec["version"] == "seed" and spec["session"] is None
    assert main(["export", "--target", "cpu-attention", "--torch", str(tmp_path / "e")]) == 1


def test_export_without_a_destination_says_what_to_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["export", "--target", "cpu-attention"]) == 1
    assert "--torch DIR" in capsys.readouterr().err


def test_a_sessions_version_exports_with_its_files_and_score(tmp_path: Path) -> None:
    from avo_tui.engine.launch import seed_files
    from avo_tui.evaluation import get_target
    from avo_tui.store import Score, Session

    files = seed_files(get_target("cpu-attention"))
    tuned = {name: text.replace("avo_attention_fwd(", "avo_attention_fwd(", 1) + "\n// v0\n"
             for name, text in files.items()}
    Session.create(tmp_path / "sessions" / "s", target="cpu-attention", operator="tuner",
                   seed_files=tuned, score=Score(2.5)).close()
    out = tmp_path / "e"
    assert main(["--sessions-dir", str(tmp_path / "sessions"), "export", "s", "--version", "v0",
                 "--torch", str(out), "--name", "my_attention"]) == 0
    spec = json.loads((out / "my_attention" / "spec.json").read_text())
    assert (spec["session"], spec["version"], spec["scored"]["gmean"]) == ("s", "v0", 2.5)
    assert (out / "my_attention" / "kernel" / "attention.c").read_text().endswith("// v0\n")
    assert 'name = "my-attention"' in (out / "pyproject.toml").read_text()


@pytest.mark.parametrize("target", ["mha", "gqa", "mha-d64"])
def test_a_gpu_export_launches_as_the_evaluator_reads_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str,
) -> None:
    """No GPU needed: the package's launch geometry on every configuration is the evaluator's
    (gpu.CudaKernel.geometry's reading of the same avo:launch), and its kernel compiles with
    NVRTC for sm_90a into the package's own cache."""
    from avo_tui.evaluation import get_target
    from avo_tui.evaluation.declarations import contract
    from avo_tui.evaluation.devices.gpu import _dims, launch_variables

    package = "geometry_" + target.replace("-", "_")  # not avo_mha: tests/gpu imports that one
    out = tmp_path / "e"
    assert main(["export", "--target", target, "--torch", str(out), "--name", package]) == 0
    monkeypatch.syspath_prepend(str(out))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = json.loads((out / package / "spec.json").read_text())
    device = __import__(f"{package}._device", fromlist=["geometry"])
    spec_target = get_target(target)
    source = (out / package / "kernel" / spec["sources"][0]).read_text()
    declared = contract.parse(source)
    for config in spec_target.configs + spec_target.edge_configs:
        env = declared.environment(launch_variables(config, 132) | spec_target.defines)
        expected = (_dims(env.evaluate(declared.launch["grid"]), "grid"),
                    _dims(env.evaluate(declared.launch["block"]), "block"),
                    env.evaluate(declared.launch["smem"]), None,
                    env.evaluate(declared.launch["scratch"]) if "scratch" in declared.launch
                    else None)
        dims = {name: int(value) for name, value in config.dims}
        assert device.geometry(spec, dims, 132) == expected, config.name
    assert all(m["box"][:2] == [1, 1] for m in spec["tensormaps"])
    if target == "mha-d64":  # one compile is enough: NVRTC takes a while on two cores
        cubin = device.compile_cubin(spec, out / package / "kernel", "sm_90a")
        assert cubin[:4] == b"\x7fELF"
        assert len(list((tmp_path / "cache" / package).glob("sm_90a-*.cubin"))) == 1


def test_check_on_a_folder_without_a_package_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["export", "--check", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (f"avo: error: --check {tmp_path}: no exported package "
                                       "there (avo export --torch writes one)\n")


def test_check_times_the_op_launch_by_launch_beside_the_evaluators_kernel(tmp_path: Path) -> None:
    """``--check`` on a CPU package: correct everywhere, and each configuration's throughput
    through torch, round by round, beside the evaluator's own kernel built in the checking
    process and launched in the same sequence (the headline ratio), and beside the evaluator's
    score from its worker."""
    out, figures = tmp_path / "export", tmp_path / "check.json"
    assert main(["export", "--target", "rmsnorm-cpu", "--torch", str(out)]) == 0
    assert main(["export", "--check", str(out), "--quick", "--rounds", "2",
                 "--json", str(figures)]) == 0
    report = json.loads(figures.read_text())
    assert report["failures"] == []
    assert all(row["passed"] for row in report["correctness"])
    timing = report["timing"]
    assert timing["rounds"] == 2
    assert timing["geomean_ratio"] > 0 and timing["geomean_ratio_score"] > 0
    for row in timing["configs"]:
        assert all(len(row["rounds"][reading]) == 2 for reading in ("op", "beside", "score"))
        assert min(row["rounds"]["beside"]) > 0
        assert row["ratio"] == row["op"] / row["beside"]
        assert row["ratio_score"] == row["op"] / row["score"]


def test_check_fails_in_one_line_when_the_evaluator_cannot_build_the_packages_kernel(
    tmp_path: Path,
) -> None:
    """A package whose kernel file was edited after the export so that the evaluator's contract
    refuses it (the op itself still builds and runs it): the side-by-side timing cannot build
    the evaluator's kernel, and the check fails saying so, with no traceback."""
    out, figures = tmp_path / "export", tmp_path / "check.json"
    assert main(["export", "--target", "rmsnorm-cpu", "--torch", str(out)]) == 0
    (kernel,) = out.glob("*/kernel/*.c")
    kernel.write_text(kernel.read_text() + "\n// avo:require 1 == 0\n")
    assert main(["export", "--check", str(out), "--quick", "--json", str(figures)]) == 1
    failures = json.loads(figures.read_text())["failures"]
    assert len(failures) == 1, failures
    assert failures[0].startswith("the evaluator cannot build the package's kernel: contract"), \
        failures
