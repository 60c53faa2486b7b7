"""A level-1 problem in KernelBench's style, "Softmax with its log-sum-exp": the probabilities
of each row and the log of their normaliser, two outputs (what a cross-entropy loss or the merge
of attention blocks reads besides the probabilities).
Written for avo-tui (not one of KernelBench's problems)."""

import torch
import torch.nn as nn

batch_size = 16
dim = 16384


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probs = torch.softmax(x, dim=1)
        lse = torch.logsumexp(x, dim=1)
        return probs, lse


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
