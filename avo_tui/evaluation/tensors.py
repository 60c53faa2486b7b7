"""The harness's tensors for a problem (problem.py): inputs allocated from the parameters'
shapes and dtypes, and filled with fresh values by each one's rule (values.py; standard normal
where none is given), then the problem's hostile case, if one is asked for; and the output to
poison. Problems allocate nothing themselves."""

from __future__ import annotations

import functools

import torch

from .problem import Config, InputSet, output_param
from .target_api import TargetFileError
from .values import POSITIVE_FLOOR, FromFile, Integers, Normal, Positive, Uniform, ValueRule

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


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
    refill(inputs, generator)
    if case != "normal":
        config.problem.numerics().shape_case(config, inputs, generator, case)
    return inputs


def refill(inputs: InputSet, generator: torch.Generator) -> None:
    """New contents in place, each input by its rule: same addresses, values never seen
    before (a given tensor's aside)."""
    for name, tensor in inputs.named.items():
        fill(tensor, inputs.rules.get(name), generator)


def fill(tensor: torch.Tensor, rule: ValueRule | None, generator: torch.Generator) -> None:
    """``tensor``'s values drawn by ``rule`` (None: standard normal) from ``generator``."""
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


def empty_output(config: Config, device: str) -> torch.Tensor:
    shape = output_param(config.problem).shape_on(config)
    return torch.empty(shape, dtype=output_dtype(config), device=device)


def output_dtype(config: Config) -> torch.dtype:
    """The output's dtype on ``config``: the precision its checks hold it to."""
    return DTYPES[output_param(config.problem).dtype_on(config)]
