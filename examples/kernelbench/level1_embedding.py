"""KernelBench-style level 1, "embedding lookup": nn.Embedding's table read at int64 token
ids of [batch, sequence], one row of the table per id.
Written for avo-tui in KernelBench's style (not copied)."""

import torch
import torch.nn as nn

batch_size = 32
seq_len = 512
vocab_size = 32000
embedding_dim = 256


class Model(nn.Module):
    def __init__(self, vocab_size: int, embedding_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(token_ids)


def get_inputs():
    return [torch.randint(0, vocab_size, (batch_size, seq_len))]


def get_init_inputs():
    return [vocab_size, embedding_dim]
