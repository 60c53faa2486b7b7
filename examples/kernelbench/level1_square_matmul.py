"""KernelBench level 1, "square matrix multiplication": C = A @ B for two N x N matrices.
Written for avo-tui from the problem's public description (not copied)."""

import torch
import torch.nn as nn

N = 2048


class Model(nn.Module):
    """One matrix product, nothing else."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


def get_inputs():
    return [torch.randn(N, N), torch.randn(N, N)]


def get_init_inputs():
    return []
