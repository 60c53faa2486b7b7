"""The harness's tensors for a problem (problem.py): inputs allocated from the parameters'
shapes and dtypes, and filled with fresh values by each one's rule (values.py; standard normal
where none is given), then the problem's hostile case, if one is asked for; and the output to
poison. Problems allocate nothing themselves."""

from __future__ import annotations

import functools
import math
import secrets

import torch

from ..targets.api import TargetFileError
from ..targets.problem import (
    Config,
    InputSet,
    OutputSet,
    derive_inputs,
    output_param,
    output_params,
)
from ..targets.torch_dtypes import DTYPES
from ..targets.values import (
    POSITIVE_FLOOR,
    FromFile,
    Integers,
    Normal,
    Positive,
    Structured,
    Uniform,
    ValueRule,
)

# What an integer or bool input holds where its Input gives no rule: [low, high), the whole
# range of the narrow types, values small enough for sums of a few thousand in the wide ones.
DEFAULT_INTEGERS = {torch.bool: Integers(0, 2), torch.uint8: Integers(0, 256),
                    torch.int8: Integers(-128, 128), torch.int32: Integers(-1000, 1000),
                    torch.int64: Integers(-1000, 1000)}
# A bool output's poison: a byte that is neither false (0) nor true (1), so every value a
# kernel leaves unwritten is seen as such.
BOOL_POISON = 0xA5


def make_inputs(
    config: Config, generator: torch.Generator, device: str, case: str = "normal"
) -> InputSet:
    """Every input of ``config``'s problem, contiguous, in the entry point's order, drawn by its
    rule; then ``case``, where it asks for inputs that break kernels tuned only on friendly ones
    (Problem.input_cases)."""
    params = [p for p in config.problem.parameters if p.kind == "input"]
    inputs = InputSet({
        p.name: torch.empty(p.shape_on(config), dtype=DTYPES[p.dtype_on(config)], device=device)
        for p in params
    }, {p.name: p.values for p in params if p.values is not None})
    _fill_all(inputs, generator)
    apply_case(config, inputs, generator, case)
    derive_inputs(config, inputs)
    return inputs


def apply_case(config: Config, inputs: InputSet, generator: torch.Generator, case: str) -> None:
    """The drawn ``inputs`` made hostile in place by ``case`` ("normal" leaves them be)."""
    if case != "normal":
        config.problem.numerics().shape_case(config, inputs, generator, case)


def refill(config: Config, inputs: InputSet, generator: torch.Generator) -> None:
    """New contents in place, each input by its rule, then those the problem derives from
    the others: same addresses, values never seen before (a given tensor's aside)."""
    _fill_all(inputs, generator)
    derive_inputs(config, inputs)


def _fill_all(inputs: InputSet, generator: torch.Generator) -> None:
    for name, tensor in inputs.named.items():
        fill(tensor, inputs.rules.get(name), generator)


def fill(tensor: torch.Tensor, rule: ValueRule | None, generator: torch.Generator) -> None:
    """``tensor``'s values drawn by ``rule`` (None: standard normal) from ``generator``."""
    if isinstance(rule, Structured):
        fill(tensor, rule.of, generator)
        structure(tensor, rule)
        return
    if rule is None and not tensor.is_floating_point():
        rule = DEFAULT_INTEGERS[tensor.dtype]
    if rule is None or isinstance(rule, Normal):
        mean, std = (0.0, 1.0) if rule is None else (rule.mean, rule.std)
        tensor.normal_(mean, std, generator=generator)
    elif isinstance(rule, Uniform):
        tensor.uniform_(rule.low, rule.high, generator=generator)
    elif isinstance(rule, Positive):
        tensor.normal_(0.0, 1.0, generator=generator).abs_().add_(POSITIVE_FLOOR)
        tensor.mul_(rule.scale)
    elif isinstance(rule, Integers):
        tensor.random_(rule.low, rule.high, generator=generator)
    elif isinstance(rule, FromFile):
        tensor.copy_(given(rule.path, tuple(tensor.shape)))


def structure(tensor: torch.Tensor, rule: Structured) -> None:
    """Each matrix of ``tensor``'s last two dimensions made as ``rule`` says, in place."""
    shape = tuple(tensor.shape)
    if len(shape) < 2 or (rule.square and shape[-1] != shape[-2]):
        raise TargetFileError(f"a {rule.structure} input is a matrix (or a batch of them)"
                              f"{', square' if rule.square else ''}, not shaped {shape}")
    if rule.structure == "symmetric":
        tensor.copy_((tensor + tensor.mT) / 2)
    elif rule.structure == "upper":
        tensor.triu_()
    elif rule.structure == "lower":
        tensor.tril_()
    else:
        tensor.copy_(torch.diag_embed(torch.diagonal(tensor, dim1=-2, dim2=-1)))


class GivenTensorError(TargetFileError):
    """A FromFile tensor that cannot fill its input, in one line."""


@functools.lru_cache(maxsize=16)
def given(path: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The tensor saved at ``path`` (torch.save; loaded with weights_only), which must have
    ``shape``; read once per process."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise GivenTensorError(f"the given tensor file {path} does not exist") from None
    except Exception as error:  # a file torch cannot read: say so in one line
        raise GivenTensorError(f"the given tensor file {path} cannot be read "
                               f"({type(error).__name__}: {error})") from None
    if not isinstance(loaded, torch.Tensor):
        raise GivenTensorError(f"{path} holds a {type(loaded).__name__}, not a tensor")
    if tuple(loaded.shape) != shape:
        raise GivenTensorError(f"the tensor in {path} is shaped {tuple(loaded.shape)}, but the "
                               f"input is {shape} here")
    return loaded


def empty_outputs(config: Config, device: str) -> OutputSet:
    """Every output of ``config``'s problem, in the entry point's order, poisoned (poison)."""
    outs = OutputSet({
        p.name: torch.empty(p.shape_on(config), dtype=DTYPES[p.dtype_on(config)], device=device)
        for p in output_params(config.problem)
    })
    poison_all(outs)
    return outs


def empty_output(config: Config, device: str) -> torch.Tensor:
    """The output of ``config``, where its problem has one, poisoned."""
    return empty_outputs(config, device).only


def poison_all(outs: OutputSet) -> None:
    for out in outs.tensors:
        poison(out)


def poison(out: torch.Tensor) -> None:
    """What ``out`` holds before a launch, so that a value the kernel leaves unwritten shows:
    NaN in a float; in a bool a byte that is neither 0 nor 1 (BOOL_POISON); in an integer a
    value drawn from the operating system's entropy each time, which no kernel can predict
    (an integer has no value that means "unwritten", and a fixed one could be read once and
    then left in place wherever the answer happens to equal it)."""
    if out.is_floating_point():
        out.fill_(math.nan)
    elif out.dtype == torch.bool:
        out.view(torch.uint8).fill_(BOOL_POISON)
    else:
        info = torch.iinfo(out.dtype)
        out.fill_(info.min + secrets.randbelow(info.max - info.min + 1))


def is_integral(dtype: torch.dtype) -> bool:
    """An integer or bool dtype: its outputs are compared exactly."""
    return not dtype.is_floating_point and not dtype.is_complex


def output_dtype(config: Config, output: str | None = None) -> torch.dtype:
    """The dtype of ``output`` (None: the only one) on ``config``: the precision its checks
    hold it to."""
    param = next((p for p in output_params(config.problem) if p.name == output), None)
    return DTYPES[(param or output_param(config.problem)).dtype_on(config)]
