"""The attention forward problem: inputs, the high-precision reference, and baselines (torch)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .targets import Config

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
REFERENCE_CHUNK_ELEMENTS = 1 << 26  # bounds the score matrix the reference holds at once


@dataclass
class InputSet:
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.q, self.k, self.v))

    def clone(self) -> InputSet:
        return InputSet(self.q.clone(), self.k.clone(), self.v.clone())

    def equal(self, other: InputSet) -> bool:
        return all(torch.equal(a, b) for a, b in zip(self.tensors, other.tensors, strict=True))

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.q, self.k, self.v


def make_inputs(config: Config, generator: torch.Generator, device: str) -> InputSet:
    """Standard-normal q, k, v laid out [batch, heads, seq_len, head_dim], contiguous."""
    dtype = DTYPES[config.dtype]

    def tensor(heads: int) -> torch.Tensor:
        shape = (config.batch, heads, config.seq_len, config.head_dim)
        values = torch.randn(shape, generator=generator, dtype=torch.float32, device=device)
        return values.to(dtype)

    return InputSet(tensor(config.heads_q), tensor(config.heads_kv), tensor(config.heads_kv))


def empty_output(config: Config, device: str) -> torch.Tensor:
    shape = (config.batch, config.heads_q, config.seq_len, config.head_dim)
    return torch.empty(shape, dtype=DTYPES[config.dtype], device=device)


def softmax_scale(config: Config) -> float:
    return 1.0 / math.sqrt(config.head_dim)


def reference(config: Config, inputs: InputSet, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Exact attention in ``dtype``, computed a block of queries at a time to bound memory."""
    group = config.heads_q // config.heads_kv
    q = inputs.q.to(dtype)
    k = inputs.k.to(dtype).repeat_interleave(group, dim=1)
    v = inputs.v.to(dtype).repeat_interleave(group, dim=1)
    out = torch.empty_like(q)
    rows = max(1, REFERENCE_CHUNK_ELEMENTS // (config.batch * config.heads_q * config.seq_len))
    keys = torch.arange(config.seq_len, device=q.device)
    for start in range(0, config.seq_len, rows):
        stop = min(config.seq_len, start + rows)
        scores = q[:, :, start:stop] @ k.transpose(-1, -2) * softmax_scale(config)
        if config.causal:
            queries = torch.arange(start, stop, device=q.device)
            scores.masked_fill_(keys[None, :] > queries[:, None], float("-inf"))
        out[:, :, start:stop] = torch.softmax(scores, dim=-1) @ v
    return out


@dataclass
class Errors:
    max_abs: float
    rel_l2: float
    finite: bool


def compare(output: torch.Tensor, expected: torch.Tensor) -> Errors:
    if not bool(torch.isfinite(output).all()):
        return Errors(math.inf, math.inf, False)
    diff = output.to(expected.dtype) - expected
    norm = float(torch.linalg.vector_norm(expected))
    rel = float(torch.linalg.vector_norm(diff)) / norm if norm else float(diff.abs().max())
    return Errors(float(diff.abs().max()), rel, True)


def sdpa_baseline(config: Config, backend: str | None = None) -> Callable[[InputSet], torch.Tensor]:
    """torch's scaled_dot_product_attention, pinned to ``backend`` when one is named."""
    gqa = config.heads_q != config.heads_kv

    def run(inputs: InputSet) -> torch.Tensor:
        return F.scaled_dot_product_attention(
            inputs.q, inputs.k, inputs.v, is_causal=config.causal, enable_gqa=gqa
        )

    if backend is None:
        return run
    from torch.nn.attention import SDPBackend, sdpa_kernel

    chosen = getattr(SDPBackend, backend)

    def pinned(inputs: InputSet) -> torch.Tensor:
        with sdpa_kernel([chosen]):
            return run(inputs)

    return pinned


BASELINES: dict[str, Callable[[Config], Callable[[InputSet], torch.Tensor]]] = {
    "torch-sdpa-cpu": lambda config: sdpa_baseline(config),
    "cudnn": lambda config: sdpa_baseline(config, "CUDNN_ATTENTION"),
    "flash": lambda config: sdpa_baseline(config, "FLASH_ATTENTION"),
}
