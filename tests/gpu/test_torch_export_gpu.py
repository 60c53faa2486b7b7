"""``avo export --torch`` of the GPU attention targets, on a real GPU: the package's operator
is correct against a float64 reference (MHA, GQA, head dim 64), traced by
torch.compile(fullgraph=True), captured in a CUDA graph and replayed on new inputs, launched
on torch's current stream (a side stream here), and falls back to SDPA with one warning on a
head dim it was not verified on. (avo export --check and benchmarks/export_speed.py check the
whole grid and time it beside the evaluator.)

Marked ``gpu``; skipped where torch sees no CUDA device. On the H200:
``python -m pytest -m gpu tests/gpu/test_torch_export_gpu.py``.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

torch = pytest.importorskip("torch")

from torch import Tensor  # noqa: E402

from avo_tui.cli import main  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    root = tmp_path_factory.mktemp("exports")
    modules = {}
    for target in ("mha", "gqa", "mha-d64"):
        assert main(["export", "--target", target, "--torch", str(root / target)]) == 0
        sys.path.insert(0, str(root / target))
        modules[target] = importlib.import_module("avo_" + target.replace("-", "_"))
    yield modules
    for target in modules:
        sys.path.remove(str(root / target))


def reference(q: Tensor, k: Tensor, v: Tensor, causal: bool) -> Tensor:
    group = q.shape[1] // k.shape[1]
    q64 = q.double()
    k64, v64 = (t.double().repeat_interleave(group, 1) for t in (k, v))
    scores = q64 @ k64.transpose(-1, -2) / q.shape[-1] ** 0.5
    if causal:
        n = q.shape[2]
        mask = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    out: Tensor = torch.softmax(scores, -1) @ v64
    return out


def inputs(heads_q: int, heads_kv: int, seq: int, dim: int) -> list[Tensor]:
    return [torch.randn(2, h, seq, dim, device="cuda", dtype=torch.bfloat16)
            for h in (heads_q, heads_kv, heads_kv)]


SHAPES = {"mha": (16, 16, 128), "gqa": (32, 8, 128), "mha-d64": (16, 16, 64)}


@pytest.mark.parametrize("target", ["mha", "gqa", "mha-d64"])
@pytest.mark.parametrize("causal", [False, True])
def test_the_op_matches_the_reference_on_a_side_stream(
    exported: dict[str, ModuleType], target: str, causal: bool,
) -> None:
    op = exported[target]
    hq, hkv, dim = SHAPES[target]
    q, k, v = inputs(hq, hkv, 1000, dim)
    assert op.supported(q, k, v, causal=causal)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        out = op.fwd(q, k, v, causal=causal)
    side.synchronize()
    assert out.dtype == torch.bfloat16 and out.shape == q.shape
    error = (out.double() - reference(q, k, v, causal)).norm() / reference(q, k, v, causal).norm()
    assert float(error) < 1e-2, float(error)
    assert torch.equal(torch.ops.__getattr__(op.SPEC["name"]).fwd(q, k, v, causal, None), out)


def test_compile_fullgraph_and_a_cuda_graph_give_the_eager_output(
    exported: dict[str, ModuleType],
) -> None:
    op = exported["mha"]
    q, k, v = inputs(16, 16, 700, 128)
    eager = op.fwd(q, k, v, causal=True)
    compiled = torch.compile(lambda a, b, c: op.fwd(a, b, c, causal=True), fullgraph=True)
    assert torch.equal(compiled(q, k, v), eager)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = op.fwd(q, k, v, causal=True)
    fresh = inputs(16, 16, 700, 128)
    for static, new in zip((q, k, v), fresh, strict=True):
        static.copy_(new)
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(captured, op.fwd(*fresh, causal=True))


def test_an_unverified_head_dim_falls_back_with_one_warning(
    exported: dict[str, ModuleType], tmp_path: Path,
) -> None:
    op = exported["mha"]
    q, k, v = inputs(16, 16, 300, 64)
    verdict = op.supported(q, k, v)
    assert not verdict and "head_dim is 64" in verdict.reason
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        out = op.fwd(q, k, v)
        op.fwd(q, k, v)
    assert len(said) == 1 and "scaled_dot_product_attention" in str(said[0].message)
    assert float((out.double() - reference(q, k, v, False)).abs().max()) < 2e-2
    spec = json.loads(json.dumps(op.SPEC))
    assert spec["tensormaps"] and spec["launch"]["smem"]


@pytest.fixture(scope="module")
def dynamic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """mha's seed with the dynamic scheduler (PERSISTENT 2: tiles drawn from a counter in
    avo:launch scratch) and O staged apart from Q, exported as a package."""
    from avo_tui.commands.torch_package import build_spec, write_package
    from avo_tui.evaluation import get_target
    from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources

    target = get_target("mha")
    seed = target.seeds[0]
    root = Path(__file__).resolve().parents[2]
    sources = apply_knobs(load_sources(root / "kernels" / seed.kernel, "cuda"),
                          seed.knobs | {"PERSISTENT": "2", "O_BUFFER": "1"})
    out = tmp_path_factory.mktemp("dynamic")
    spec = build_spec(target, sources, "avo_mha_dynamic", {"version": "test"})
    assert spec["launch"]["scratch"]
    write_package(out, spec, sources, target.description, force=False)
    sys.path.insert(0, str(out))
    yield importlib.import_module("avo_mha_dynamic")
    sys.path.remove(str(out))


def test_a_dynamically_scheduled_kernel_gets_fresh_scratch_on_every_call_and_stream(
    dynamic: ModuleType,
) -> None:
    """The counter the kernel draws its tiles from starts at zero on every call: called again
    and again, and on two streams at once, every output is the reference's (a counter kept from
    the last call, or shared by two, leaves tiles unwritten)."""
    calls = [inputs(16, 16, 2000, 128) for _ in range(4)]
    streams = [torch.cuda.Stream(), torch.cuda.Stream()]
    for stream in streams:
        stream.wait_stream(torch.cuda.current_stream())
    outs = []
    for index, (q, k, v) in enumerate(calls):
        with torch.cuda.stream(streams[index % 2]):
            outs.append(dynamic.fwd(q, k, v, causal=True))
    torch.cuda.synchronize()
    for (q, k, v), out in zip(calls, outs, strict=True):
        expected = reference(q, k, v, True)
        assert float((out.double() - expected).norm() / expected.norm()) < 1e-2
    graph = torch.cuda.CUDAGraph()
    q, k, v = calls[0]
    with torch.cuda.graph(graph):
        captured = dynamic.fwd(q, k, v, causal=True)
    for _ in range(2):  # a replay zeroes the counter too
        graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(captured, outs[0])
