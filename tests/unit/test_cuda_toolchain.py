"""The CUDA toolchain on a machine without a GPU: NVRTC compiles every kernel we ship."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.evaluation import TargetSpec, get_target
from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources
from avo_tui.evaluation.targets.archs import COMPILE_CHECKED
from avo_tui.evaluation.targets.spec import known_names
from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain, ToolchainUnavailable
from avo_tui.evaluation.toolchains.cuda import parse_nvrtc_log, ptxas_resources

ROOT = Path(__file__).parents[2]
ADVERSARIAL = ROOT / "tests" / "adversarial" / "cuda"
CONTRACT_KERNELS = ROOT / "tests" / "gpu" / "kernels"
# every CUDA target that ships (a shipped target file each)
GPU_TARGETS = [t for t in map(get_target, known_names()) if t.toolchain == "cuda" and t.seeds]
KERNEL = """\
#include <cuda_bf16.h>
#if AVO_HEAD_DIM != 64
#error only head dim 64
#endif
extern "C" __global__ void scale(__nv_bfloat16 *x, float s) {
    x[threadIdx.x] = __float2bfloat16(__bfloat162float(x[threadIdx.x]) * s);
}
"""


@pytest.fixture
def nvrtc(tmp_path: Path) -> CudaToolchain:
    return CudaToolchain(CompileCache(tmp_path / "cache"))


def _options(head_dim: int) -> tuple[str, ...]:
    return (f"-DAVO_HEAD_DIM={head_dim}",)


def test_compiles_to_a_cubin_with_the_resource_report(nvrtc: CudaToolchain) -> None:
    result = nvrtc.compile({"k.cu": KERNEL}, _options(64))
    assert result.ok, result.log
    assert result.artifact is not None and result.artifact.read_bytes()[:4] == b"\x7fELF"
    assert result.resources["registers"] > 0 and result.resources["spill_stores"] == 0
    assert "\x00" not in result.log
    assert nvrtc.compile({"k.cu": KERNEL}, _options(64)).cached


def test_harness_macros_reach_the_kernel(nvrtc: CudaToolchain) -> None:
    result = nvrtc.compile({"k.cu": KERNEL}, _options(128))
    assert not result.ok
    assert any("only head dim 64" in d.message for d in result.errors)
    with pytest.raises(ToolchainUnavailable, match="only -D options"):
        nvrtc.compile({"k.cu": KERNEL}, ("-O3",))


def test_errors_carry_file_line_and_column(nvrtc: CudaToolchain) -> None:
    result = nvrtc.compile({"k.cu": 'extern "C" __global__ void k(float *x) {\n    x[0] = y;\n}\n'})
    assert not result.ok
    assert [(d.file, d.line, d.column, d.severity) for d in result.errors] == [
        ("k.cu", 2, 12, "error")
    ]
    assert result.summary() == 'compile failed: k.cu:2:12: error: identifier "y" is undefined'


def test_log_parsers() -> None:
    log = (
        'kern.cuh(10): warning #177-D: variable "t" was declared but never referenced\n'
        "      int t;\n"
        "          ^\n"
        "ptxas info    : Used 128 registers, used 1 barriers, 4096 bytes smem\n"
        "ptxas         .     8 bytes stack frame, 16 bytes spill stores, 24 bytes spill loads\n"
    )
    (warning,) = parse_nvrtc_log(log, {"kern.cuh"})
    assert (warning.file, warning.line, warning.column, warning.severity) == (
        "kern.cuh",
        10,
        9,
        "warning",
    )
    assert ptxas_resources(log) == {
        "registers": 128,
        "stack_bytes": 8,
        "spill_stores": 16,
        "spill_loads": 24,
        "smem_bytes": 4096,
    }


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> CompileCache:
    """One cache for the module: targets that share a seed and a head dim compile it once."""
    return CompileCache(tmp_path_factory.mktemp("seed-cache"))


@pytest.mark.parametrize("arch", COMPILE_CHECKED)
@pytest.mark.parametrize("target", GPU_TARGETS, ids=lambda t: t.name)
def test_the_seed_chosen_on_each_architecture_compiles_there_and_spills_only_by_choice(
    shared_cache: CompileCache, target: TargetSpec, arch: str
) -> None:
    seed = target.seed_for(arch)
    assert seed is not None
    # a Target's seed is an absolute path, beside its file; a TargetSpec's under kernels/
    sources = apply_knobs(load_sources(ROOT / "kernels" / seed.kernel, "cuda"), seed.knobs)
    toolchain = CudaToolchain(shared_cache, arch=arch)
    result = toolchain.compile(sources, tuple(f"-D{k}={v}" for k, v in target.defines.items()))
    assert result.ok, result.log
    assert "C75" not in result.log and "serialized" not in result.log, result.log
    # NVRTC 13.0 leaves the ptxas report out for some kernels; 13.5 gives it
    spilled = result.resources.get("spill_stores", 0) + result.resources.get("spill_loads", 0)
    assert not spilled or "measured" in seed.may_spill, (
        f"{seed.kernel} spills on {arch} and its Seed does not say why: {result.resources}")
    if "registers" in result.resources:
        assert result.resources["registers"] <= 255


@pytest.mark.parametrize(
    "name", sorted(p.name for p in ADVERSARIAL.glob("*.cu") if p.name != "other_stream.cu")
)
def test_gpu_adversarial_kernels_compile(nvrtc: CudaToolchain, name: str) -> None:
    result = nvrtc.compile(load_sources(ADVERSARIAL / name, "cuda"), _options(128))
    assert result.ok, result.log


@pytest.mark.parametrize("head_dim", [64, 128])
@pytest.mark.parametrize("name", sorted(p.name for p in CONTRACT_KERNELS.glob("*.cu")))
def test_launch_contract_kernels_compile(nvrtc: CudaToolchain, name: str, head_dim: int) -> None:
    """TMA (inline PTX, CUtensorMap declared by the kernel), clusters, persistent grids."""
    result = nvrtc.compile(load_sources(CONTRACT_KERNELS / name, "cuda"), _options(head_dim))
    assert result.ok, result.log
    assert not result.diagnostics, result.log  # not even a warning


def test_device_side_launches_cannot_be_built(nvrtc: CudaToolchain) -> None:
    """No host code and no relocatable device code: work cannot escape to another stream."""
    result = nvrtc.compile(load_sources(ADVERSARIAL / "other_stream.cu", "cuda"), _options(128))
    assert not result.ok
    assert "device-side kernel launch" in result.errors[0].message


# The seed's settings and the other rungs of the ladder in benchmarks/RESULTS.md. The rungs
# before issue 57's rung 1b ran on a grid of a CTA per tile, with O staged in Q's rows; those
# before its rung 2 with three plain consumers at head dim 128.
CTA_PER_TILE = {"PERSISTENT": "0", "O_BUFFER": "0"}
THREE_PLAIN = {"NUM_WG": "3", "OVERLAP": "0", "PINGPONG": "0"}
WGMMA_LADDER = {
    "default": {},
    "rung2-tma": CTA_PER_TILE | THREE_PLAIN | {"WARP_SPECIALIZE": "0"},
    "rung3-ws2": CTA_PER_TILE | {"WARP_SPECIALIZE": "1", "NUM_WG": "2", "OVERLAP": "0",
                                 "PINGPONG": "0"},
    "rung3-ws3": CTA_PER_TILE | THREE_PLAIN,
    "rung4-overlap": CTA_PER_TILE | {"WARP_SPECIALIZE": "1", "NUM_WG": "2", "OVERLAP": "1",
                                     "PINGPONG": "0"},
    "rung4-pingpong": CTA_PER_TILE | {"WARP_SPECIALIZE": "1", "NUM_WG": "2", "OVERLAP": "1",
                                      "PINGPONG": "1"},
    "rung4-pingpong-176": CTA_PER_TILE | {"NUM_WG": "2", "OVERLAP": "1", "PINGPONG": "1",
                                          "BLOCK_N": "176"},
    "rung6-causal-order": CTA_PER_TILE | THREE_PLAIN | {"TILE_ORDER": "1"},
    "exp2-polynomial": CTA_PER_TILE | THREE_PLAIN | {"EXP2_POLY": "4"},
    "rung1-fa3-persistent": THREE_PLAIN | {"PERSISTENT": "1", "O_BUFFER": "0"},
    "rung1-fa3-persistent-pingpong": {"PERSISTENT": "1", "O_BUFFER": "0"},
    "rung1b-dynamic": THREE_PLAIN | {"PERSISTENT": "2", "O_BUFFER": "0"},
    "rung1b-dynamic-o-buffer": THREE_PLAIN,
    "rung2-dynamic-pingpong-176": {"O_BUFFER": "0", "BLOCK_N": "176"},
    "rung2b-l2-hint": {"L2_HINT": "1"},
    "rung2c-tma-store": {"O_STORE_TMA": "1"},
    "rung2c-tma-store-three-plain": THREE_PLAIN | {"O_STORE_TMA": "1"},
    "rung2d-carry-turns": {"CARRY_TURNS": "1"},
    "rung2d-q-in-epilogue": {"Q_RELEASE": "0"},
    "rung2d-carry-turns-q-release": {"CARRY_TURNS": "1", "Q_RELEASE": "1"},
    "rung2e-diagonal-first": {"DIAGONAL_FIRST": "1"},
    "rung2e-diagonal-first-q-release": {"DIAGONAL_FIRST": "1", "Q_RELEASE": "1"},
    "rung2e-diagonal-first-three-plain": THREE_PLAIN | {"DIAGONAL_FIRST": "1"},
    "rung2e-diagonal-first-causal-q-release": {"DIAGONAL_FIRST": "2", "Q_RELEASE": "1"},
    "rung2e-diagonal-first-causal-q-release-causal": {"DIAGONAL_FIRST": "2", "Q_RELEASE": "2"},
    "rung2e-diagonal-first-unspecialized": CTA_PER_TILE | THREE_PLAIN | {
        "WARP_SPECIALIZE": "0", "DIAGONAL_FIRST": "2"},
    "rung3-multicast": {"MULTICAST": "1", "PERSISTENT": "1"},
    "rung3-multicast-q-release": {"MULTICAST": "1", "PERSISTENT": "1", "Q_RELEASE": "1"},
    "rung3-multicast-dynamic": {"MULTICAST": "1", "PERSISTENT": "2"},
    "rung3-cluster-only": {"CLUSTER_ONLY": "1"},
    "rung3-multicast-peer-offset": {"MULTICAST": "1", "PERSISTENT": "2", "PEER_ARRIVE": "1"},
    "rung3-multicast-one-arrival-a-lane": {"MULTICAST": "1", "PERSISTENT": "2",
                                           "PEER_ARRIVE": "2"},
    "rung3-multicast-peer-offset-pv-hold": {"MULTICAST": "1", "PERSISTENT": "2",
                                            "PEER_ARRIVE": "1", "PV_WAIT": "3"},
    "rung3-multicast-draw-ahead": {"MULTICAST": "1", "PERSISTENT": "2", "DRAW_AHEAD": "1"},
    "rung3-multicast-unshared": {"MULTICAST": "1", "PERSISTENT": "2", "UNSHARED": "1"},
    "rung1b-draw-ahead": {"DRAW_AHEAD": "1"},
    "rung2f-pv-hold": {"PV_WAIT": "3"},
    "rung2f-pv-wait-first": {"PV_WAIT": "1"},
    "rung2f-pv-wait-last": {"PV_WAIT": "2"},
    "rung2f-pv-wait-first-diagonal-first-q-release": {"PV_WAIT": "1", "DIAGONAL_FIRST": "1",
                                                      "Q_RELEASE": "1"},
}


# Settings the kernel refuses at head dim 64 (avo:require): the pairs kept apart (issue 88),
# whose producer spills there.
ONLY_AT_128 = {"rung3-multicast-unshared"}


@pytest.mark.parametrize(("setting", "head_dim"), [
    (setting, head_dim) for setting in sorted(WGMMA_LADDER) for head_dim in (64, 128)
    if head_dim == 128 or setting not in ONLY_AT_128])
def test_wgmma_kernel_compiles_without_serialization_or_spills(
    nvrtc: CudaToolchain, head_dim: int, setting: str
) -> None:
    """Issue 9: ptxas must keep the wgmma groups asynchronous (no C7510-C7519) on every rung.

    A wgmma inside a branch, or a wait on one thread between wgmmas, is enough for ptxas to
    serialize every wgmma of the kernel (C7518), which cost 13% on the H200 once."""
    sources = load_sources(ROOT / "kernels" / "cuda" / "attention_wgmma.cu", "cuda")
    sources = apply_knobs(sources, WGMMA_LADDER[setting])
    result = nvrtc.compile(sources, _options(head_dim))
    assert result.ok, result.log
    assert not result.diagnostics, result.log  # not even a warning
    assert "C75" not in result.log and "serialized" not in result.log, result.log
    if "spill_stores" in result.resources:  # NVRTC 13.0 may leave the report out
        assert result.resources["spill_stores"] == result.resources["spill_loads"] == 0


def _wgmma_ptx(knobs: dict[str, str]) -> str:
    """The seed's PTX under ``knobs`` at head dim 128, as NVRTC emits it for sm_90a."""
    from cuda.bindings import nvrtc

    from avo_tui.evaluation.toolchains.cuda import STD, _cudart_include

    sources = apply_knobs(load_sources(ROOT / "kernels" / "cuda" / "attention_wgmma.cu", "cuda"),
                          knobs)
    cudart = _cudart_include()
    options = [b"-arch=compute_90a", f"-std={STD}".encode(), b"-DAVO_HEAD_DIM=128",
               *([f"-I{cudart}".encode()] if cudart else [])]
    _, program = nvrtc.nvrtcCreateProgram(next(iter(sources.values())).encode(), b"k.cu", 0,
                                          [], [])
    (result,) = nvrtc.nvrtcCompileProgram(program, len(options), options)
    assert result == nvrtc.nvrtcResult.NVRTC_SUCCESS, result
    _, size = nvrtc.nvrtcGetPTXSize(program)
    ptx: bytes = b" " * int(size)
    nvrtc.nvrtcGetPTX(program, ptx)
    nvrtc.nvrtcDestroyProgram(program)
    return ptx.decode()


def test_l2_hint_loads_k_and_v_evict_last_and_q_evict_first() -> None:
    """L2_HINT=1 (issue 57's rung 2b): FA3's L2 cache policies on the seed's TMA loads, where
    the default loads carry none."""
    hinted, plain = _wgmma_ptx({"L2_HINT": "1"}), _wgmma_ptx({})
    loads = [line for line in hinted.splitlines() if "cp.async.bulk.tensor" in line]
    assert loads and all(".L2::cache_hint" in line for line in loads)
    assert "createpolicy.fractional.L2::evict_last" in hinted
    assert "createpolicy.fractional.L2::evict_first" in hinted
    assert ".L2::cache_hint" not in plain and "createpolicy" not in plain


def test_multicast_hands_k_and_v_slots_back_at_the_ctas_scope() -> None:
    """Rung 3a: a consumer's arrival on the peer CTA's empty barrier, once per K and V block,
    releases at the CTA's scope; at the cluster's, ptxas puts MEMBAR.ALL.CTA and MEMBAR.ALL.GPU
    before each one, and the kernel ran 29% slower. The static walk hands nothing else across,
    so none of its arrivals is at the cluster's scope; the dynamic draw's mailbox (a tile index
    handed from rank 0 to rank 1, once a tile) is, and its wait acquires at that scope."""
    def remote_arrivals(ptx: str) -> list[str]:
        return [line.strip() for line in ptx.splitlines()
                if "mbarrier.arrive" in line and ".shared::cluster" in line]

    static = remote_arrivals(_wgmma_ptx({"MULTICAST": "1", "PERSISTENT": "1"}))
    assert static and not [line for line in static if ".release.cluster" in line], static
    dynamic_ptx = _wgmma_ptx({"MULTICAST": "1", "PERSISTENT": "2"})
    dynamic = remote_arrivals(dynamic_ptx)
    assert [line for line in dynamic if ".release.cluster" not in line], dynamic
    assert [line for line in dynamic if ".release.cluster" in line], dynamic
    assert "mbarrier.try_wait.parity.acquire.cluster" in dynamic_ptx
    assert "st.shared::cluster.u32" in dynamic_ptx


def test_peer_arrivals_map_the_peer_once_or_arrive_one_a_lane() -> None:
    """Issue 88: PEER_ARRIVE 1 keeps the peer's offset from one mapa at the start, where rung 3b
    maps every release's barrier again (a PRMT a release in its main loop); PEER_ARRIVE 2 has
    lanes 0 and 1 arrive, one on this CTA's barrier and one on the peer's, by one instruction,
    so no release arrives on this CTA alone."""
    def count(ptx: str, text: str) -> int:
        return sum(text in line for line in ptx.splitlines())

    each = _wgmma_ptx({"MULTICAST": "1", "PERSISTENT": "1"})
    once = _wgmma_ptx({"MULTICAST": "1", "PERSISTENT": "1", "PEER_ARRIVE": "1"})
    lanes = _wgmma_ptx({"MULTICAST": "1", "PERSISTENT": "1", "PEER_ARRIVE": "2"})
    remote = "mbarrier.arrive.shared::cluster"
    assert count(each, "mapa.shared::cluster") == count(each, remote) > 1
    assert count(once, "mapa.shared::cluster") == count(lanes, "mapa.shared::cluster") == 1
    assert count(once, remote) == count(lanes, remote) == count(each, remote)
    local = "mbarrier.arrive.shared::cta"
    assert count(lanes, local) == count(once, local) - count(once, remote)
