"""Kernel declarations: knobs the tuner can read and rewrite, requirements, launch expressions."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.declarations.candidate import CandidateError, apply_knobs
from avo_tui.evaluation.declarations.contract import ContractError

SEED = (Path(__file__).parents[2] / "kernels" / "cpu" / "attention.c").read_text()

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


# -- tensor maps (TMA) ---------------------------------------------------------------------------

TMA_KERNEL = """\
#define BLOCK_M 64   // avo:knob 64 128
#define COLS 64
// avo:launch grid=(ceil_div(S, BLOCK_M), HQ, B) block=(128,)
// avo:tensormap tma_q tensor=q box=(1, 1, BLOCK_M, COLS) swizzle=128B
// avo:tensormap tma_k tensor=k box=(1, 1, 64, AVO_HEAD_DIM) l2=256B oob=nan
"""


def test_tensor_maps_are_read_in_declaration_order() -> None:
    declared = contract.parse(TMA_KERNEL)
    assert [(m.name, m.tensor, m.swizzle, m.l2, m.oob) for m in declared.tensormaps] == [
        ("tma_q", "q", "128B", "none", "zero"),
        ("tma_k", "k", "none", "256B", "nan"),
    ]
    env = declared.environment({"AVO_HEAD_DIM": 128})
    assert [m.box_shape(env, 2, 4) for m in declared.tensormaps] == [(1, 1, 64, 64),
                                                                     (1, 1, 64, 128)]
    # the launch fields are untouched by the maps riding along in Declarations.launch
    assert set(declared.launch) >= {"grid", "block"}


def test_tensor_maps_survive_a_merge_of_several_files() -> None:
    """The evaluator merges every file's launch fields; the maps travel with them."""
    merged: dict[str, str] = {}
    for text in ("// avo:launch grid=(1,) block=(32,)\n", TMA_KERNEL.split("\n", 3)[3]):
        merged |= contract.parse(text).launch
    names = [m.name for m in contract.Declarations((), (), merged).tensormaps]
    assert names == ["tma_q", "tma_k"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tq tensor=q.k box=(1, 1, 64, 64)", "tensor=q.k is not a name"),
        ("tq tensor=q", r"needs box= \(a tile size per dimension"),
        ("tq box=(1, 1, 64, 64)", r"needs tensor= \(one of the entry point's tensors"),
        ("tq tensor=q box=(1, 1, 1, 1, 64, 64)", "has 6 sizes; a TMA box has 1 to 5"),
        ("tq tensor=q box=(1, 1, S, 64)", "uses S, known only per configuration"),
        ("tq tensor=q box=(1, 1, 64, 64) swizzle=256B", "swizzle=256B is not one of none"),
        ("tq tensor=q box=(1, 1, 64, 64) l2=1K", "l2=1K is not one of"),
        ("tq tensor=q box=(1, 1, 64, 64) oob=inf", "oob=inf is not one of zero nan"),
        ("tq tensor=q box=(1, 1, 64, 64) stride=2", "takes tensor=, box=, swizzle="),
        ("tq tensor=q tensor=k box=(1, 1, 64, 64)", "gives tensor= twice"),
        ("tq tensor=q box=(1, 1, 64,", "cannot read the expression"),
        ("tensor=q box=(1, 1, 64, 64)", "starts with a name"),
        ("", "starts with a name"),
    ],
)
def test_malformed_tensor_maps_are_errors_with_a_reason(line: str, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        contract.parse(f"// avo:launch grid=(1,) block=(32,)\n// avo:tensormap {line}\n")


def test_a_tensor_map_declared_twice_is_an_error() -> None:
    line = "// avo:tensormap tq tensor=q box=(1, 1, 64, 64)\n"
    with pytest.raises(ContractError, match="line 2: a tensor map is declared twice"):
        contract.parse(line * 2)


@pytest.mark.parametrize(
    ("box", "swizzle", "message"),
    [
        ("(1, 1, 512, 64)", "none", "every size must be 1 to 256"),
        ("(1, 0, 64, 64)", "none", "every size must be 1 to 256"),
        ("(1, 1, 64, 4)", "none", "innermost size is 8 bytes; TMA needs a multiple of 16"),
        ("(1, 1, 64, 128)", "128B", "256 bytes, more than the 128B swizzle span"),
        ("(1, 1, 64, 64)", "64B", "at most 32 elements"),
        ("(1, 1, 64.0, 64)", "none", "must be 4 integers"),
        ("WIDE", "none", "must be 4 integers"),
        ("(1, 1, 64, NOPE)", "none", "box: unknown name 'NOPE'"),
    ],
)
def test_a_box_the_tma_unit_cannot_copy_is_refused(box: str, swizzle: str, message: str) -> None:
    source = f"#define WIDE 64\n// avo:tensormap tq tensor=q box={box} swizzle={swizzle}\n"
    (tensormap,) = contract.parse(source).tensormaps
    with pytest.raises(ContractError, match=f"avo:tensormap tq: .*{message}"):
        tensormap.box_shape(contract.parse(source).environment(), 2, 4)


def test_an_unknown_tensor_fails_a_cuda_evaluation_as_contract() -> None:
    """Declarations are read before anything needs a GPU, so this runs anywhere."""
    from avo_tui.evaluation.pipeline import Pipeline
    from avo_tui.evaluation.results import EvalRequest

    source = "// avo:tensormap tq tensor=query box=(1, 1, 64, 64)\n" + TMA_KERNEL
    request = EvalRequest("mha", {"k.cu": source}, quick=True, measure_baselines=False)
    result = Pipeline("cpu").run(request, lambda phase, detail: None)
    assert result.failure is not None and result.failure.kind == "contract"
    assert ("avo:tensormap tq: tensor=query is not one of the entry point's tensors "
            "(q, k, v, out)") in result.failure.message


# -- launch geometry -----------------------------------------------------------------------------


def test_a_cluster_launch_counts_the_declared_grid_in_clusters() -> None:
    from avo_tui.evaluation.devices.gpu import clusters_in

    assert clusters_in((8, 16, 2), (2, 1, 1)) == (4, 16, 2)
    assert clusters_in((8,), (4,)) == (2, 1, 1)
    with pytest.raises(ContractError, match=r"not a whole number of clusters .*x has 7 blocks"):
        clusters_in((7, 16, 2), (2, 1, 1))
    with pytest.raises(ContractError, match="more than 8 blocks"):
        clusters_in((16,), (16,))


def test_a_cluster_of_one_block_is_a_plain_launch() -> None:
    """A knob that turns clusters off declares cluster=(1 + KNOB,): launched with no cluster,
    as if none were declared, where a cluster launch of one block would change the launch."""
    from avo_tui.evaluation.devices.gpu import cluster_dims

    assert cluster_dims((1,)) is None and cluster_dims((1, 1, 1)) is None
    assert cluster_dims((2,)) == (2,) and cluster_dims((1, 2)) == (1, 2)
    with pytest.raises(ContractError, match="cluster must be 1 to 3 positive integers"):
        cluster_dims((0,))


def test_scratch_is_declared_in_bytes_and_bounded() -> None:
    """avo:launch scratch= names the bytes the harness zeroes before every launch: a whole
    number, at most a MiB (a counter's memset is timed with the launch)."""
    from avo_tui.evaluation.devices.gpu import MAX_SCRATCH_BYTES, scratch_bytes

    declared = contract.parse("#define DYNAMIC 1  // avo:knob 0 1\n"
                              "// avo:launch grid=(1,) block=(32,) scratch=(4 if DYNAMIC else 0)\n")
    assert declared.environment().evaluate(declared.launch["scratch"]) == 4
    off = contract.set_knobs("#define DYNAMIC 1  // avo:knob 0 1\n"
                             "// avo:launch grid=(1,) block=(32,) scratch=(4 if DYNAMIC else 0)\n",
                             {"DYNAMIC": 0})
    assert contract.parse(off).environment().evaluate(contract.parse(off).launch["scratch"]) == 0
    assert scratch_bytes(0) == 0 and scratch_bytes(MAX_SCRATCH_BYTES) == MAX_SCRATCH_BYTES
    for wrong in (-4, MAX_SCRATCH_BYTES + 1, 2.5, (4,)):
        with pytest.raises(ContractError, match="avo:launch scratch must be 0 to 1048576 bytes"):
            scratch_bytes(wrong)
    with pytest.raises(ContractError, match="avo:launch takes grid=, block=, smem=, cluster=, "
                                            "scratch="):
        contract.parse("// avo:launch grid=(1,) block=(32,) workspace=4\n")


def test_scratch_past_a_mib_is_a_workspace_of_at_most_twice_the_outputs() -> None:
    """A backward pass sums dQ in fp32 beside its bf16 dq: scratch may hold that, up to twice
    the bytes of the launch's outputs, and never less than the counters' MiB; a byte more is
    refused with the bound in the message."""
    from avo_tui.evaluation import get_target
    from avo_tui.evaluation.devices.gpu import MAX_SCRATCH_BYTES, scratch_bytes, scratch_limit

    target = get_target("mha-bwd")
    [large] = [c for c in target.configs if c.name == "b8-h16-s4096-d128-full"]
    outputs = 3 * 8 * 16 * 4096 * 128 * 2  # dq, dk, dv in bf16
    assert scratch_limit(target.problem, large) == 2 * outputs
    assert scratch_bytes(2 * outputs, 2 * outputs) == 2 * outputs
    with pytest.raises(ContractError, match=f"must be 0 to {2 * outputs} bytes"):
        scratch_bytes(2 * outputs + 1, 2 * outputs)
    [one_key] = [c for c in target.edge_configs if "-s1-" in c.name]
    assert scratch_limit(target.problem, one_key) == MAX_SCRATCH_BYTES


def test_scratch_is_zeroed_before_each_launch_and_grows_with_the_configuration() -> None:
    """gpu.Scratch on the CPU (the same torch calls the GPU harness makes), seen as a kernel
    sees it, through the address passed: the bytes read zero before every launch however the
    last launch left them, a larger configuration gets room for its bytes, and zero bytes pass a
    null pointer."""
    import ctypes

    from avo_tui.evaluation.devices.gpu import Scratch

    def kernel_view(address: int, size: int) -> ctypes.Array[ctypes.c_ubyte]:
        return (ctypes.c_ubyte * size).from_address(address)

    scratch = Scratch("cpu")
    for size in (8, 4096, 8):
        address = scratch.stage(size)
        for _ in range(2):  # two launches on one configuration
            scratch.zero()
            seen = kernel_view(address, size)
            assert bytes(seen) == bytes(size)
            ctypes.memset(address, 7, size)  # the launch counts
    assert scratch.stage(0) == 0
    scratch.zero()  # nothing staged: nothing to zero


def test_a_target_whose_seed_takes_scratch_checks_without_a_gpu(tmp_path: Path) -> None:
    """tests/fixtures/targets/work_queue.cu declares scratch=4 and takes the pointer last:
    `avo targets check` reads the declaration and compiles the seed with NVRTC."""
    from target_example import avo

    target = Path(__file__).parents[1] / "fixtures" / "targets" / "work_queue.py"
    done = avo("targets", "check", str(target), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seed work_queue.cu: compiles" in done.stdout


def test_a_persistent_grid_is_one_block_per_multiprocessor() -> None:
    from avo_tui.evaluation.devices.gpu import launch_variables
    from avo_tui.evaluation.problems.attention import config as attention_config

    declared = contract.parse("// avo:launch grid=(NUM_SMS,) block=(128,)\n")
    variables = launch_variables(attention_config(1, 16, 16, 4096, 128, True, "bfloat16"), 132)
    assert declared.environment(variables).evaluate(declared.launch["grid"]) == (132,)


def hopper_seed_declarations(knobs: dict[str, str]) -> contract.Declarations:
    from avo_tui.evaluation.declarations.candidate import load_sources
    from avo_tui.evaluation.targets.file import get_target

    seed = get_target("mha").seeds[0]
    kernels = Path(__file__).parents[2] / "kernels"
    sources = apply_knobs(load_sources(kernels / seed.kernel, "cuda"), seed.knobs | knobs)
    return contract.parse("".join(sources.values()))


def fixed_parameter_sizes(target: str) -> list[int]:
    """The bytes of each fixed parameter: a pointer per tensor, an int per scalar."""
    from avo_tui.evaluation.targets.file import get_target

    return [8 if p.kind in ("input", "output") else 4
            for p in get_target(target).problem.parameters]


def test_a_kernel_with_tensor_maps_and_scratch_takes_the_pointer_after_the_maps() -> None:
    """The Hopper seed's dynamic scheduler as the harness reads its parameters at load: the
    fixed ones, a CUtensorMap per declared map, then the scratch pointer. Its signature passes;
    without the pointer, or with a map passed other than by value, the contract says which."""
    from avo_tui.evaluation.devices.gpu import check_parameters

    declared = hopper_seed_declarations({"PERSISTENT": "2"})
    maps = declared.tensormaps
    assert "scratch" in declared.launch and [m.tensor for m in maps] == ["q", "k", "v", "out"]
    fixed = fixed_parameter_sizes("mha")
    check_parameters([*fixed, *[128] * len(maps), 8], len(fixed), maps, True)
    passed = len(fixed) + len(maps) + 1
    with pytest.raises(ContractError, match=f"takes {passed - 1} parameters; the contract "
                                            f"passes {passed}:.*then the scratch pointer"):
        check_parameters([*fixed, *[128] * len(maps)], len(fixed), maps, True)
    with pytest.raises(ContractError, match=f"avo:tensormap {maps[1].name} is 8 bytes"):
        check_parameters([*fixed, 128, 8, *[128] * (len(maps) - 2), 8], len(fixed), maps, True)


@pytest.mark.parametrize("persistent, scratch_bytes", [("0", 0), ("2", 4)])
def test_a_cuda_kernel_is_checked_against_its_declarations_when_it_loads(
    monkeypatch: pytest.MonkeyPatch, persistent: str, scratch_bytes: int
) -> None:
    """gpu.CudaKernel's load, on the CPU: cuda.core's module stands in for the driver and lists
    the parameters of the seed's real signature (it always takes the scratch pointer). The
    kernel loads and stages the bytes its knobs declare; a pointer short is a contract failure.
    (The load once read whether scratch was declared before setting it: every CUDA evaluation
    failed as internal, on a GPU only.)"""
    import cuda.core

    from avo_tui.evaluation.devices.gpu import CudaKernel
    from avo_tui.evaluation.targets.file import get_target

    target = get_target("mha")
    declared = hopper_seed_declarations({"PERSISTENT": persistent})
    signature = [*fixed_parameter_sizes("mha"), *[128] * len(declared.tensormaps), 8]

    class Module:
        def __init__(self, sizes: list[int]) -> None:
            self.arguments_info = [(None, size) for size in sizes]
            self.attributes = type("Attributes", (), {"shared_size_bytes": 0})()

        def get_kernel(self, entry: str) -> Module:
            return self

    device = type("Device", (), {"name": "cpu", "num_sms": 132})()
    for sizes in (signature, signature[:-1]):
        cubin = type("ObjectCode", (), {"from_cubin": staticmethod(
            lambda artifact, sizes=sizes: Module(sizes))})
        monkeypatch.setattr(cuda.core, "ObjectCode", cubin)

        def load() -> CudaKernel:
            return CudaKernel(b"", "avo_attention_fwd", declared, dict(target.defines), device,
                              target.problem)

        if sizes is signature:
            assert load().scratch(target.configs[0]) == scratch_bytes
        else:
            with pytest.raises(ContractError, match="then the scratch pointer"):
                load()
