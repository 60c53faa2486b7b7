"""KernelBench level 1, "cross-entropy loss for multi-class classification": logits of
[batch, classes] and one int64 class label per row (torch.randint), the mean loss a scalar.
Written for avo-tui from the problem's public description (not copied)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 4096
num_classes = 1000


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels)


def get_inputs():
    return [torch.randn(batch_size, num_classes), torch.randint(0, num_classes, (batch_size,))]


def get_init_inputs():
    return []
