"""What a call the kernel was not verified on runs instead: the target's baseline in torch."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

Baseline = Callable[[tuple[torch.Tensor, ...], Mapping[str, object]], torch.Tensor]


def sdpa(tensors: tuple[torch.Tensor, ...], options: Mapping[str, object]) -> torch.Tensor:
    """torch's scaled_dot_product_attention, grouped query heads included."""
    q, k, v = tensors
    scale = options.get("scale")
    return F.scaled_dot_product_attention(
        q, k, v, is_causal=bool(options.get("causal", False)),
        scale=None if scale is None else float(str(scale)),
        enable_gqa=q.dim() == 4 and k.dim() == 4 and q.shape[1] != k.shape[1])


def rmsnorm_residual(tensors: tuple[torch.Tensor, ...], options: Mapping[str, object]
                     ) -> torch.Tensor:
    """(x + residual) normalised by its root mean square over the last dimension, times the
    weight: the sum rounded to the inputs' dtype, float32 from there (as the target computes
    it)."""
    x, residual, weight = tensors
    h = (x + residual).float()
    eps = float(str(options.get("eps", 1e-6)))
    return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps) * weight.float()).to(x.dtype)


BASELINES: dict[str, Baseline] = {"sdpa": sdpa, "rmsnorm_residual": rmsnorm_residual}
