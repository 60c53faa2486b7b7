"""The meta device's answers remembered (issue 68): a recurrent network's build calls the
same operations on the same shapes a step after another, and each of torch's Python meta
functions then runs once per shape, not once per step (a 512-step, 6-layer LSTM took 7 s a
build, and its import ran past its limit); a remembered call gives what the meta function
gives, and a FLOP counter or an operation count above the memo still sees every call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from kernelbench_problems import CONV_BN_RELU, GRU
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from avo_tui.kernelbench.problem.aten_trace import record
from avo_tui.kernelbench.problem.meta_memo import MetaMemo
from avo_tui.kernelbench.problem.problem_module import KernelBenchProblem
from avo_tui.kernelbench.seeds.stage_lowering import lowered


class _Arithmetic(TorchDispatchMode):
    """Counts the arithmetic (products, pointwise operations: the calls whose meta functions
    are Python) that reaches it: entered before a build, it sits below the memo."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.count = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        if torch.Tag.pointwise in func.tags or func is torch.ops.aten.addmm.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


def gru_problem(tmp_path: Path) -> KernelBenchProblem:
    path = tmp_path / "gru.py"
    path.write_text(GRU)
    return KernelBenchProblem(path)


def test_a_recurrent_build_runs_each_meta_function_once_per_shape(tmp_path: Path) -> None:
    """Built again at a shorter sequence, the GRU's thousands of operations reach torch's
    meta functions only where a shape is new: a few calls, not a dozen a step."""
    problem = gru_problem(tmp_path)
    reaching = _Arithmetic()
    with reaching:
        instance = problem.instantiate({**problem.sizes, "seq_len": 32}, count=True)
    assert instance.ops > 600
    assert reaching.count < 10, (reaching.count, instance.ops)
    assert instance.outputs[0].shape == (32, 2, 128)


def test_a_remembered_build_counts_the_flops_and_shapes_of_a_fresh_one(
        tmp_path: Path) -> None:
    """The FLOP counter is above the memo: a build whose every call is remembered counts
    what the GRU computes, as torch counts it on a fresh model, and gets its shapes."""
    problem = gru_problem(tmp_path)
    sizes = {**problem.sizes, "seq_len": 24, "hidden_size": 40}
    counted = []
    for _ in range(2):
        counter = FlopCounterMode(display=False)
        instance = problem.instantiate(sizes, watch=counter)
        counted.append(counter.get_total_flops())
    with torch.device("meta"):
        gru = torch.nn.GRU(64, 40, 1)
        fresh = FlopCounterMode(display=False)
        with fresh:
            expected = gru(torch.empty(24, 2, 64), torch.empty(1, 2, 40))[0]
    assert counted == [fresh.get_total_flops()] * 2 and counted[0] > 0
    assert instance.outputs[0].shape == expected.shape


def test_a_remembered_call_keeps_its_scalars_type_and_its_in_place_self() -> None:
    """An int tensor times 2 stays int64, times 2.5 is float32 (equal keys as numbers); an
    in-place sigmoid returns the very tensor it wrote, remembered or not."""
    memo = MetaMemo()
    x = torch.ones(4, dtype=torch.int64, device="meta")
    y = torch.ones(3, 5, device="meta")
    with memo:
        dtypes = [(x * 2).dtype, (x * 2.5).dtype, (x * 2).dtype, (x * True).dtype]
        written = [y.sigmoid_() is y for _ in range(3)]
        moved = [(y @ y.t()).shape for _ in range(2)]
    assert dtypes == [torch.int64, torch.float32, torch.int64, torch.int64]
    assert written == [True] * 3
    assert moved == [(3, 3)] * 2
    assert memo.hits >= 4


class _Reaching(TorchDispatchMode):
    """The names of the calls that reach it, entered below the memo."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.names: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        self.names.append(func._schema.name.split("::")[-1])
        return func(*args, **(kwargs or {}))


def test_a_recording_above_the_memo_is_the_same_and_reaches_meta_functions_once(
        tmp_path: Path) -> None:
    """The forward recorded at the aten level with the problem's memo below the recorder:
    the same trace as without it, and recorded again, no convolution, batch norm (whose
    meta function is torch's Python decomposition) or ReLU reaches the meta functions."""
    path = tmp_path / "conv_bn_relu.py"
    path.write_text(CONV_BN_RELU)
    problem = KernelBenchProblem(path)
    plain = record(problem.base, lowered)
    reaching = []
    for _ in range(2):
        below = _Reaching()
        with below:
            traced = record(problem.base, lowered, problem.memo)
        reaching.append(set(below.names))
        assert traced == plain
    assert [call.name for call in plain.calls] == ["convolution", "empty",
                                                   "native_batch_norm", "relu"]
    assert not reaching[1] & {"convolution", "native_batch_norm", "relu"}, reaching
