"""Tracing a problem's forward with torch.fx leaves its model as it was: KernelBench's
VanillaRNN keeps its hidden state on the module (``self.hidden = ...``), and a trace of the
live model left a proxy there, on which every later run of the forward failed."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from avo_tui.kernelbench.problem.graph import Unsupported, trace
from avo_tui.kernelbench.problem.problem_module import KernelBenchProblem

STATEFUL = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.hidden = torch.randn(batch_size, features)
        self.step = nn.Linear(2 * features, features)

    def forward(self, x, initial_hidden=None):
        if initial_hidden is not None:
            self.hidden.copy_(initial_hidden)
        self.hidden = torch.tanh(self.step(torch.cat((x, self.hidden), dim=1)))
        return self.hidden

batch_size = 4
features = 8

def get_inputs():
    return [torch.rand(batch_size, features), torch.rand(batch_size, features)]

def get_init_inputs():
    return [features]
'''


def test_tracing_the_forward_leaves_the_models_own_state_a_tensor(tmp_path: Path) -> None:
    path = tmp_path / "stateful.py"
    path.write_text(STATEFUL)
    instance = KernelBenchProblem(path).base
    with contextlib.suppress(Unsupported):  # a seed of stages is written for no such state yet
        trace(instance, ["x", "initial_hidden"])
    assert type(instance.model.hidden) is torch.Tensor
    with torch.device("meta"):
        assert instance.model(*instance.inputs).shape == (4, 8)  # runs again after the trace
