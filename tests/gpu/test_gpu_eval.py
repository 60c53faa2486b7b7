"""The evaluator on a real GPU: the CUDA seed on every target, and kernels that break or cheat.

Marked ``gpu``; skipped where torch sees no CUDA device. Run on the H200 with
``python -m pytest -m gpu tests/gpu``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from avo_tui.evaluation import EvalRequest, EvalResult, Worker, get_target  # noqa: E402
from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

ROOT = Path(__file__).parents[2]
ADVERSARIAL = ROOT / "tests" / "adversarial" / "cuda"
KERNELS = Path(__file__).parent / "kernels"  # kernels that exercise the launch contract
HANG_TIMEOUT_S = 20.0
# the attention targets on the GPU (targets/mha.py and the files built on it)
ATTENTION = ("mha", "gqa", "gqa-4", "mha-d64")


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker("cuda") as w:
        yield w


def evaluate(
    worker: Worker,
    name: str,
    timeout_s: float | None = None,
    *,
    folder: Path = ADVERSARIAL,
    target: str = "mha",
) -> EvalResult:
    request = EvalRequest(
        target, load_sources(folder / name, "cuda"), quick=True, measure_baselines=False
    )
    return worker.evaluate(request, timeout_s=timeout_s)


def measurable_baselines(target: str) -> set[str]:
    """The target's baselines this machine can time, asked as the evaluator asks
    (measure.Measure.measured_baselines): every one the target names whose package or kernel is
    here, so FA3 (fa3_fwd_interface) and FA4 count where installed and not elsewhere."""
    spec = get_target(target)
    numerics = spec.problem.numerics()
    return {name for name in spec.baselines if numerics.baseline_missing(name) is None}


def assert_recovers(worker: Worker) -> None:
    result = evaluate(worker, "honest.cu")
    assert result.correct, result.failure


@pytest.mark.parametrize("target", ATTENTION)
def test_seed_passes_every_configuration(worker: Worker, target: str) -> None:
    spec = get_target(target)
    sources = apply_knobs(load_sources(ROOT / "kernels" / spec.seeds[0].kernel, "cuda"),
                          spec.seeds[0].knobs)
    result = worker.evaluate(EvalRequest(target, sources))
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs)
    assert len(result.timed) == len(spec.configs)
    for config in result.timed:
        assert config.throughput > 0 and set(config.baselines) == measurable_baselines(target)
    assert result.compile is not None and "registers" in result.compile.resources
    assert result.host["gpu"] and result.host["cudnn"]


# Code paths of the wgmma seed that no target's seed takes: the grid of a CTA per tile (the
# seeds draw tiles from a counter on a persistent grid); three plain consumers at head dim 128
# (the default before issue 57's rung 2: two consumers taking turns with overlap, which under
# causal each stop at their own diagonal and walk the rest of the ring in their turns); every
# exponential from the FMA-pipe polynomial, masked keys included; the static persistent walk
# (GQA's heads and d=64's turns in it too); and O staged in Q's rows.
OTHER_PATHS = {
    # the grid of a CTA per tile, the hardware's own scheduler (the default is PERSISTENT 2)
    "mha-cta-per-tile": ("mha", {"PERSISTENT": "0", "O_BUFFER": "0"}),
    "mha-d64-cta-per-tile": ("mha-d64", {"PERSISTENT": "0", "O_BUFFER": "0"}),
    "mha-three-plain-consumers": ("mha", {"NUM_WG": "3", "OVERLAP": "0", "PINGPONG": "0"}),
    "mha-three-plain-consumers-cta-per-tile": ("mha", {"NUM_WG": "3", "OVERLAP": "0",
                                                       "PINGPONG": "0", "PERSISTENT": "0",
                                                       "O_BUFFER": "0"}),
    "mha-d64-polynomial-exp2": ("mha-d64", {"EXP2_POLY": "8"}),
    # the static walk, with Q's rows holding O until the epilogue is done
    "mha-persistent": ("mha", {"PERSISTENT": "1", "O_BUFFER": "0"}),
    "gqa-4-persistent": ("gqa-4", {"PERSISTENT": "1", "O_BUFFER": "0"}),
    "mha-d64-persistent": ("mha-d64", {"PERSISTENT": "1", "O_BUFFER": "0"}),
    "mha-static-o-buffer": ("mha", {"PERSISTENT": "1", "O_BUFFER": "1"}),
    # the dynamic scheduler without the O buffer
    "mha-dynamic": ("mha", {"PERSISTENT": "2", "O_BUFFER": "0"}),
    # FA3's L2 cache policies on the TMA loads (issue 57's rung 2b)
    "gqa-4-l2-hint": ("gqa-4", {"L2_HINT": "1"}),
    # O stored by TMA, a warp's 16 rows at a time, clipped at the end of the sequence (rung 2c)
    "mha-tma-store": ("mha", {"O_STORE_TMA": "1"}),
    "mha-d64-tma-store": ("mha-d64", {"O_STORE_TMA": "1"}),
    # Q freed in the epilogue, as before Q_RELEASE 1 (freed after the tile's last QK^T) was the
    # default; the ping-pong turns carried across tiles (rung 2d), three consumers at d=64
    "gqa-4-q-in-epilogue": ("gqa-4", {"Q_RELEASE": "0"}),
    "mha-d64-q-release-carry-turns": ("mha-d64", {"Q_RELEASE": "1", "CARRY_TURNS": "1"}),
    # the diagonal block first (rung 2e): ping-pong at d=128; three consumers at d=64, where a
    # warpgroup's rows end before some blocks and it passes them first; with Q_RELEASE; plain
    # consumers with a producer, and without one (the copier refills backward)
    "mha-diagonal-first": ("mha", {"DIAGONAL_FIRST": "1"}),
    "mha-d64-diagonal-first": ("mha-d64", {"DIAGONAL_FIRST": "1"}),
    "gqa-4-diagonal-first-q-release": ("gqa-4", {"DIAGONAL_FIRST": "1", "Q_RELEASE": "1"}),
    "mha-diagonal-first-three-plain": ("mha", {"NUM_WG": "3", "OVERLAP": "0", "PINGPONG": "0",
                                               "DIAGONAL_FIRST": "1"}),
    "mha-d64-diagonal-first-causal-q-release": ("mha-d64", {"DIAGONAL_FIRST": "2",
                                                            "Q_RELEASE": "1"}),
    "gqa-4-diagonal-first-q-release-causal": ("gqa-4", {"DIAGONAL_FIRST": "2",
                                                         "Q_RELEASE": "2"}),
    "gqa-diagonal-first-unspecialized": ("gqa", {"WARP_SPECIALIZE": "0", "NUM_WG": "3",
                                                 "OVERLAP": "0", "PINGPONG": "0",
                                                 "PERSISTENT": "0", "O_BUFFER": "0",
                                                 "DIAGONAL_FIRST": "2"}),
    # 2-CTA clusters sharing K and V by multicast (rung 3): neighbouring query blocks without
    # causal, two query heads of one K/V head under causal (gqa, gqa-4), unshared under mha's
    # causal and where a head's query blocks are odd in number (edge shapes)
    "mha-multicast": ("mha", {"MULTICAST": "1", "PERSISTENT": "1"}),
    "gqa-4-multicast": ("gqa-4", {"MULTICAST": "1", "PERSISTENT": "1"}),
    "gqa-multicast-q-release": ("gqa", {"MULTICAST": "1", "PERSISTENT": "1", "Q_RELEASE": "1"}),
    # the same pairs drawn from the counter, rank 0 handing each to rank 1 (rung 3b)
    "mha-multicast-dynamic": ("mha", {"MULTICAST": "1", "PERSISTENT": "2"}),
    "gqa-4-multicast-dynamic": ("gqa-4", {"MULTICAST": "1", "PERSISTENT": "2"}),
    "gqa-multicast-dynamic-q-release-causal": ("gqa", {"MULTICAST": "1", "PERSISTENT": "2",
                                                       "Q_RELEASE": "2"}),
    # issue 88: the next tile (pair) drawn as a tile starts; the pairs never sharing
    "mha-draw-ahead": ("mha", {"DRAW_AHEAD": "1"}),
    "gqa-4-multicast-dynamic-draw-ahead": ("gqa-4", {"MULTICAST": "1", "PERSISTENT": "2",
                                                     "DRAW_AHEAD": "1"}),
    "gqa-4-multicast-dynamic-unshared": ("gqa-4", {"MULTICAST": "1", "PERSISTENT": "2",
                                                   "UNSHARED": "1"}),
    # the wait for P V before the softmax, and after all of it (K's arrival after the row sums)
    "mha-pv-wait-first": ("mha", {"PV_WAIT": "1"}),
    "mha-d64-pv-wait-first-diagonal-first": ("mha-d64", {"PV_WAIT": "1", "DIAGONAL_FIRST": "1"}),
    "mha-pv-wait-last": ("mha", {"PV_WAIT": "2"}),
}


@pytest.mark.parametrize("path", sorted(OTHER_PATHS))
def test_other_seed_paths_pass_every_configuration(worker: Worker, path: str) -> None:
    target, knobs = OTHER_PATHS[path]
    spec = get_target(target)
    sources = apply_knobs(load_sources(ROOT / "kernels" / spec.seeds[0].kernel, "cuda"),
                          spec.seeds[0].knobs | knobs)
    result = worker.evaluate(EvalRequest(target, sources, measure_baselines=False))
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs) and any(c.edge for c in result.configs)


@pytest.mark.parametrize("target", ATTENTION)
def test_the_portable_seed_every_other_gpu_gets_passes_here_too(worker: Worker,
                                                                target: str) -> None:
    """The seed chosen on sm_80 and on Blackwell, run on this GPU: correct on every
    configuration and edge shape (its speed there is in benchmarks/RESULTS.md)."""
    seed = get_target(target).seed_for("sm_100a")
    assert seed is not None and seed.kernel == "cuda/attention_fwd.cu"
    sources = apply_knobs(load_sources(ROOT / "kernels" / seed.kernel, "cuda"), seed.knobs)
    result = worker.evaluate(EvalRequest(target, sources, quick=True, measure_baselines=False))
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs) and any(c.edge for c in result.configs)


def test_static_shared_memory_beside_48_kib_of_dynamic_gets_the_opt_in(worker: Worker) -> None:
    """The portable seed at head dim 64 asks for 48 KiB of dynamic shared memory exactly, what
    a block gets without an opt-in; with a static array of its own beside that, the block needs
    more, and without the opt-in its launch failed as CUDA_ERROR_INVALID_VALUE (as the attack
    wrapper of tests/attack_kernels.py, whose plan is a static __shared__ struct, did)."""
    seed = get_target("mha-d64").seed_for("sm_100a")
    assert seed is not None
    sources = apply_knobs(load_sources(ROOT / "kernels" / seed.kernel, "cuda"), seed.knobs)
    main = next(name for name in sources if name.endswith(".cu"))
    marker = "extern __shared__ __align__(128) unsigned char smem[];"
    assert marker in sources[main]
    sources[main] = sources[main].replace(marker, marker + """
    __shared__ volatile int avo_static_words[64];
    avo_static_words[threadIdx.x % 64] = (int)threadIdx.x;
    __syncthreads();
    if (avo_static_words[(threadIdx.x + 1) % 64] < 0) return;""")
    result = worker.evaluate(EvalRequest("mha-d64", sources, quick=True,
                                         measure_baselines=False))
    assert result.correct, result.failure


def test_honest_naive_kernel_passes(worker: Worker) -> None:
    assert_recovers(worker)


def test_illegal_address_replaces_the_worker(worker: Worker) -> None:
    restarts = worker.restarts
    result = evaluate(worker, "illegal_address.cu")
    assert result.failure is not None and result.failure.kind == "cuda_error", result.failure
    assert "illegal" in result.failure.message.lower()
    assert result.worker_restarted and worker.restarts == restarts + 1
    assert_recovers(worker)


def test_infinite_loop_times_out_and_the_worker_recovers(worker: Worker) -> None:
    result = evaluate(worker, "infinite_loop.cu", timeout_s=HANG_TIMEOUT_S)
    assert result.failure is not None and result.failure.kind == "timeout", result.failure
    assert result.worker_restarted
    assert_recovers(worker)


@pytest.mark.parametrize(
    ("kernel", "kinds", "edge_only"),
    [
        # reads rows other warps may not have written yet: wrong values or the NaN poison
        ("data_race.cu", {"incorrect", "stale_output", "nonfinite"}, False),
        ("cached_output.cu", {"incorrect", "stale_output"}, False),
        # class 1: does the work only while few launches have been made
        ("skips_when_timed.cu", {"stale_output"}, False),
        # ... and leaves one (batch, head) pair of 32 uncomputed: every pair is sampled
        ("skips_one_head.cu", {"stale_output"}, False),
        ("partial_write.cu", {"nonfinite"}, False),
        ("edge_wrong.cu", {"incorrect"}, True),
    ],
)
def test_wrong_or_cheating_kernel_is_rejected(
    worker: Worker, kernel: str, kinds: set[str], edge_only: bool
) -> None:
    result = evaluate(worker, kernel)
    assert result.failure is not None and result.failure.kind in kinds, result.failure
    assert result.geomean == 0
    failed = result.failed_config
    assert failed is not None, result.failure
    assert failed.edge == edge_only
    assert_recovers(worker)


@pytest.mark.parametrize(
    ("kernel", "kinds", "case"),
    [
        # class 5: logits far past N(0, 1), lengths drawn per evaluation, a tolerance derived
        # from the honest computation's own error at bf16
        ("no_running_max.cu", {"nonfinite", "incorrect"}, "large"),
        ("tail_residue.cu", {"incorrect"}, None),
        ("fp16_accumulate.cu", {"incorrect"}, None),
    ],
)
def test_a_kernel_wrong_only_on_unfriendly_inputs_is_rejected(
    worker: Worker, kernel: str, kinds: set[str], case: str | None
) -> None:
    result = evaluate(worker, kernel)
    assert result.failure is not None and result.failure.kind in kinds, result.failure
    assert result.geomean == 0
    failed = result.failed_config
    assert failed is not None, result.failure
    if case is not None:
        assert failed.case == case
    assert_recovers(worker)


def test_a_kernel_wrong_on_one_row_per_head_is_rejected_by_the_rows_own_tolerance(
    worker: Worker,
) -> None:
    result = evaluate(worker, "last_row_diagonal.cu")
    assert result.failure is not None and result.failure.kind == "incorrect", result.failure
    failed = result.failed_config
    assert failed is not None, result.failure
    length = failed.config["seq_len"]
    assert failed.config["causal"] and length >= 512
    assert result.failure.message.startswith(f"query row {length - 1} "), result.failure
    # the whole output's relative error is within its bound: only the row's own catches it
    assert failed.rel_l2_err is not None and failed.tolerance is not None
    assert failed.rel_l2_err < failed.tolerance[0]
    assert_recovers(worker)


@pytest.mark.parametrize(
    "kernel",
    [
        "skips_unless_poisoned.cu",  # class 1: skips when the output holds an answer
        "caches_by_sampled_inputs.cu",  # class 2: a cache keyed on a few input values
    ],
)
def test_a_cheat_that_cannot_tell_gains_nothing(worker: Worker, kernel: str) -> None:
    honest = evaluate(worker, "honest.cu")
    assert honest.correct, honest.failure
    result = evaluate(worker, kernel)
    assert result.correct, result.failure
    assert result.geomean < 10 * honest.geomean, (result.geomean, honest.geomean)
    assert all(c.verified > 0 for c in result.timed)


def test_the_incumbent_is_timed_beside_the_candidate(worker: Worker) -> None:
    honest = load_sources(ADVERSARIAL / "honest.cu", "cuda")
    slow = {
        name: text.replace(
            "NAIVE_CALL(this_row(), seq_len); }",
            "for (int r = 0; r < 2; ++r) NAIVE_CALL(this_row(), seq_len); }",
        )
        for name, text in honest.items()
    }
    assert slow != honest
    request = EvalRequest("mha", honest, quick=True, measure_baselines=False, incumbent=slow)
    result = worker.evaluate(request)
    assert result.correct, result.failure
    assert result.incumbent_gain is not None and result.incumbent_gain > 1.5  # half the work
    commented = {name: "// a comment\n" + text for name, text in honest.items()}
    request = EvalRequest("mha", commented, quick=True, measure_baselines=False, incumbent=honest)
    same = worker.evaluate(request)
    assert same.same_as_incumbent and not same.timed
    # The same code launched with other blocks is another kernel (ROWS_PER_BLOCK is read only by
    # the avo:launch declaration; the kernel reads blockDim).
    narrow = {name: text.replace("#define ROWS_PER_BLOCK 128", "#define ROWS_PER_BLOCK 64")
              for name, text in honest.items()}
    assert narrow != honest
    request = EvalRequest("mha", narrow, quick=True, measure_baselines=False, incumbent=honest)
    other = worker.evaluate(request)
    assert other.correct and not other.same_as_incumbent and other.timed
    assert other.artifact_sha256 == same.artifact_sha256
    assert other.kernel_id != other.incumbent_kernel_id


def test_a_cheating_cubin_planted_in_the_cache_is_never_loaded(worker: Worker) -> None:
    # Class 4: an attacker with write access to the cache folder swaps the honest kernel's
    # cached cubin for a cheat's (a valid cubin with the same entry point).
    honest = evaluate(worker, "honest.cu")
    cheat = evaluate(worker, "cached_output.cu")
    assert honest.compile is not None and honest.compile.artifact is not None
    assert cheat.compile is not None and cheat.compile.artifact is not None
    planted = cheat.compile.artifact.read_bytes()
    honest.compile.artifact.write_bytes(planted)
    again = evaluate(worker, "honest.cu")
    assert again.correct, again.failure
    assert again.compile is not None and not again.compile.cached  # a miss: built anew
    assert again.compile.artifact_sha256 == honest.compile.artifact_sha256
    assert again.compile.artifact is not None and again.compile.artifact.read_bytes() != planted


def test_work_on_another_stream_cannot_even_build(worker: Worker) -> None:
    result = evaluate(worker, "other_stream.cu")
    assert result.failure is not None and result.failure.kind == "compile"


# -- the launch contract: tensor maps, clusters, persistent grids ---------------------------------


@pytest.mark.parametrize(
    ("kernel", "target"),
    [
        ("tma_attention.cu", "mha"),
        ("tma_attention.cu", "gqa-4"),
        ("tma_attention.cu", "mha-d64"),
        ("cluster_attention.cu", "mha"),
        ("persistent_attention.cu", "mha"),
    ],
)
def test_contract_kernel_passes(worker: Worker, kernel: str, target: str) -> None:
    """Correct on every quick configuration and every edge shape, and timed."""
    result = evaluate(worker, kernel, folder=KERNELS, target=target)
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs) and any(c.edge for c in result.configs)
    assert all(c.throughput > 0 for c in result.timed)


@pytest.mark.parametrize(
    ("kernel", "message"),
    [
        ("swizzle_too_narrow.cu", "tma_q: box=(1, 1, 64, 128): the innermost size is 256 bytes"),
        ("missing_tensormap_parameter.cu", "takes 11 parameters; the contract passes 12"),
    ],
)
def test_a_tensor_map_the_kernel_cannot_use_is_a_contract_failure(
    worker: Worker, kernel: str, message: str
) -> None:
    result = evaluate(worker, kernel, folder=KERNELS)
    assert result.failure is not None and result.failure.kind == "contract", result.failure
    assert message in result.failure.message
    assert not result.worker_restarted


def test_a_launch_geometry_that_fails_for_one_configuration_is_a_contract_failure(
    worker: Worker,
) -> None:
    result = evaluate(worker, "empty_grid.cu", folder=KERNELS)
    assert result.failure is not None and result.failure.kind == "contract", result.failure
    assert result.failure.config == "b2-h16-s4096-d128-full" and "grid" in result.failure.message
    assert not result.worker_restarted


def test_tensor_maps_are_encoded_once_per_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing rotates input sets; each set's maps are built once, not on every launch."""
    from avo_tui.evaluation.declarations import contract
    from avo_tui.evaluation.devices import gpu
    from avo_tui.evaluation.measurement.judge import compare
    from avo_tui.evaluation.measurement.tensors import empty_outputs, make_inputs
    from avo_tui.evaluation.problems.attention import ATTENTION
    from avo_tui.evaluation.problems.attention import config as attention_config
    from avo_tui.evaluation.problems.attention_torch import reference
    from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain
    from avo_tui.evaluation.toolchains.base import read_artifact

    device = gpu.CudaDevice(0)
    sources = load_sources(KERNELS / "tma_attention.cu", "cuda")
    compiled = CudaToolchain(CompileCache(), device.arch).compile(sources, ("-DAVO_HEAD_DIM=128",))
    assert compiled.ok and compiled.artifact is not None, compiled.log
    declarations = contract.parse(sources["tma_attention.cu"])
    kernel = device.load(
        read_artifact(compiled), "avo_attention_fwd", declarations, {"AVO_HEAD_DIM": 128},
        ATTENTION,
    )
    encoded: list[str] = []
    real = gpu.encode_tensor_map

    def counting(tensor: object, box: tuple[int, ...], spec: contract.TensorMap) -> object:
        encoded.append(spec.name)
        return real(tensor, box, spec)  # type: ignore[arg-type]

    monkeypatch.setattr(gpu, "encode_tensor_map", counting)
    config = attention_config(2, 4, 2, 300, 128, True, "bfloat16")
    generator = device.generator(7)
    sets = [make_inputs(config, generator, device.name) for _ in range(3)]
    outs = empty_outputs(config, device.name)
    out = outs.only
    for _ in range(5):
        for inputs in sets:
            kernel.launch(config, inputs, outs)
    device.synchronize()
    assert sorted(encoded) == sorted(["tma_q", "tma_k", "tma_v"] * len(sets) + ["tma_o"])
    errors = compare(out, reference(config, sets[-1]))
    assert errors.finite and errors.rel_l2 < 1.5e-2, errors
    kernel.close()
