"""KernelBench as it is written (issue 68, item 7): a configuration's name says which size is
which where the problem's sizes end in a digit; BatchNorm in training mode, as KernelBench
builds its models, imports, and its target computes with batch statistics on read-only
inputs; a forward whose output is random (a Dropout in training mode) is refused in one line;
an import that takes long says what it is doing on stderr and stops at a limit, naming what
was slow."""

from __future__ import annotations

import io
import itertools
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from kernelbench_problems import (
    BATCHNORM_TRAINING,
    CONV_TRANSPOSE,
    GRU,
    RANDOM_FORWARDS,
    copy_problem,
)
from target_example import avo
from test_kernelbench_work import counted, target_module

from avo_tui.commands.targets_import import LOADING_TOLD_S, tell_until
from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.targets.declared import DeclaredProblem
from avo_tui.kernelbench import ImportRefused, Progress, import_problem
from avo_tui.kernelbench.problem import shapes as shapes_module
from avo_tui.kernelbench.problem.problem_module import KernelBenchProblem
from avo_tui.kernelbench.target.progress import QUIET_S


def checked(target: Path) -> str:
    """``avo targets check`` on the target file: its output (it passed)."""
    done = avo("targets", "check", target.name, cwd=target.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_size_whose_name_ends_in_a_digit_is_named_with_its_value_apart(
        tmp_path: Path) -> None:
    """dim1 = 1 beside dim2 = 11 would read dim11 and dim211: every size of such a target is
    name=value; a target of sizes that end in letters keeps its names (the sessions hold
    them)."""
    imported = import_problem(copy_problem("level1_sum_reduction", tmp_path))
    target = get_target(str(imported.target))
    names = [c.name for c in (*target.configs, *target.edge_configs)]
    assert names[1] == "batch_size=1-dim1=1-dim2=1", names
    assert all(name.count("=") == 3 for name in names)
    plain = import_problem(copy_problem("level1_softmax", tmp_path))
    assert get_target(str(plain.target)).edge_configs[0].name == "batch_size1-dim1"


def test_batchnorm_in_training_mode_imports_and_normalises_with_the_batch(
        tmp_path: Path) -> None:
    """KernelBench builds BatchNorm in training mode: the import takes it, the running
    statistics are not among the kernel's inputs (their update is no part of its contract),
    the target passes check, and its reference normalises with the batch's mean and variance
    (not the running ones, as eval mode would), the same on every call: no call sees the
    update of another, and the harness's inputs stay as drawn."""
    path = tmp_path / "batchnorm_training.py"
    path.write_text(BATCHNORM_TRAINING)
    imported = import_problem(path)
    text = imported.target.read_text()
    assert "UPDATED = ('bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked')" in text
    assert "Training mode: the model's forward updates bn.running_mean" in text
    target = get_target(str(imported.target))
    problem = target.problem
    assert isinstance(problem, DeclaredProblem)
    assert [p.name for p in problem.parameters if p.kind == "input"] == ["x", "bn_weight",
                                                                         "bn_bias"]
    assert checked(imported.target).splitlines()[-1].startswith("target ok: ")
    config = target.edge_configs[-1]
    numerics = problem.numerics()
    inputs = make_inputs(config, torch.Generator().manual_seed(0), "cpu")
    drawn = {name: tensor.clone() for name, tensor in inputs.named.items()}
    first, _ = numerics.references(config, inputs, torch.float32)
    again, _ = numerics.references(config, inputs, torch.float32)
    x, weight, bias = (inputs[n].double() for n in ("x", "bn_weight", "bn_bias"))
    batch = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5) * weight + bias
    assert torch.allclose(first, batch) and torch.equal(first, again)
    assert not torch.allclose(first, x / (1 + 1e-5) ** 0.5 * weight + bias)  # eval mode's
    assert all(torch.equal(drawn[n], t) for n, t in inputs.named.items())


class Clock:
    """Seconds that pass only when read: each reading is ``step`` later than the last."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_long_import_says_what_it_does_and_stops_at_its_limit(tmp_path: Path) -> None:
    """Time passes by the clock's readings (a second a reading: every build is slow): the
    import tells each phase and how far it has come, never more than QUIET_S apart, and at
    its limit stops in one line naming the phase, its builds and their time each."""
    path = tmp_path / "conv_transpose.py"
    path.write_text(CONV_TRANSPOSE)
    told = io.StringIO()
    progress = Progress(told, limit_s=120, clock=Clock(1.0), name=path.name, beat_s=None)
    with pytest.raises(ImportRefused) as refused:
        import_problem(path, progress=progress)
    message = str(refused.value)
    assert re.fullmatch(r"conv_transpose\.py: stopped at the limit of 120 s while [a-z' ]+ "
                        r"\(\d+ builds of the problem in \d+ s, [\d.]+ s each\); --limit "
                        r"SECONDS allows longer", message), message
    lines = told.getvalue().splitlines()
    assert re.fullmatch(r"avo targets import: still fitting the shapes to 8 size globals: \d+ "
                        r"builds of the problem in \d+ s \[\d+ s\]", lines[0]), lines
    stamps = [int(re.findall(r"\[(\d+) s\]$", line)[0]) for line in lines]
    assert stamps[0] <= QUIET_S + 2 and len(lines) >= 5
    assert all(b - a <= QUIET_S + 2 for a, b in itertools.pairwise(stamps)), lines
    assert any("fitting the shapes" in line for line in lines)
    assert not list(tmp_path.glob("*_target.py"))


def test_one_long_build_is_told_by_the_heartbeat() -> None:
    """A build that takes long says nothing itself: the heartbeat says the phase goes on,
    and past the limit it answers that the import must stop."""
    clock = Clock(0.0)
    told = io.StringIO()
    progress = Progress(told, limit_s=60, clock=clock, name="gru.py")
    progress.phase("fitting the shapes")
    progress.tick()
    clock.now = QUIET_S + 1
    assert progress.beat() is False
    assert told.getvalue() == ("avo targets import: still fitting the shapes: build 1 of the "
                               f"problem under way, {QUIET_S + 1:.0f} s into it "
                               f"[{QUIET_S + 1:.0f} s]\n")
    assert progress.beat() is False and told.getvalue().count("\n") == 1  # told just now
    clock.now = 61
    assert progress.beat() is True
    assert progress.refusal() == ("gru.py: stopped at the limit of 60 s while fitting the "
                                  "shapes (1 builds of the problem in 61 s, 61.0 s each); "
                                  "--limit SECONDS allows longer")


BLOCKED_AT_THE_LIMIT = """
import os, sys
from avo_tui.kernelbench import ImportRefused, Progress
progress = Progress(sys.stderr, limit_s=1, name="blocked.py", beat_s=0.05)
progress.phase("building the seed")
read_end, _ = os.pipe()
try:
    with progress.watched():
        os.read(read_end, 1)  # a wait in the kernel no data ever ends: a compiler's, a child's
except ImportRefused as refused:
    print(refused)
"""


def test_the_limit_ends_a_call_blocked_in_the_kernel() -> None:
    """Past the limit the heartbeat signals the main thread for real: a blocking read ends
    (EINTR) and the import is refused in one line, where a flag for the interpreter would
    have waited on the read for ever; while it waits it tells the user it is stopping."""
    done = subprocess.run([sys.executable, "-c", BLOCKED_AT_THE_LIMIT], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("blocked.py: stopped at the limit of 1 s while building "
                                  "the seed"), done.stdout


MISSED_SIGNALS = """
import signal, sys, threading
from avo_tui.kernelbench import ImportRefused, Progress
sent = threading.Semaphore(0)
count = [0]
def kill(ident, signum):  # each signal the heartbeat sends ends nothing: it lands before a wait
    assert ident == threading.main_thread().ident and signum == signal.SIGINT
    count[0] += 1
    sent.release()
signal.pthread_kill = kill
progress = Progress(None, limit_s=0, name="missed.py", beat_s=0.01)
try:
    with progress.watched():
        for _ in range(3):
            assert sent.acquire(timeout=100), "the heartbeat gave up after one signal"
        signal.raise_signal(signal.SIGINT)  # the next one ends the wait
except ImportRefused as refused:
    taken = count[0]
    print(refused, taken >= 3)
"""


def test_a_signal_that_ends_no_wait_is_sent_again_until_one_does() -> None:
    """A signal that lands just before a blocking call begins ends nothing, and the call then
    waits for ever (a read in the test above waited out its 120 s so, in a loaded suite): the
    heartbeat sends it every beat until the main thread takes one, then refuses the import."""
    done = subprocess.run([sys.executable, "-c", MISSED_SIGNALS], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("missed.py: stopped at the limit of 0 s"), done.stdout
    assert done.stdout.strip().endswith("True"), done.stdout


def test_the_quiet_is_counted_from_the_commands_start() -> None:
    """The command passes its own start (before its torch import): the first line is due
    QUIET_S after that, not after the import's first phase."""
    clock = Clock(0.0)
    told = io.StringIO()
    clock.now = 4.0  # torch took 4 s to import
    progress = Progress(told, limit_s=60, clock=clock, name="slow.py", started=0.0)
    clock.now = QUIET_S
    progress.beat()
    assert told.getvalue().startswith("avo targets import: still reading the problem")


def test_a_slow_torch_import_is_told_all_along() -> None:
    """torch takes 17 s to import on a busy machine: the command says it is loading it every
    LOADING_TOLD_S until it is loaded, never once and then silent for 12 s."""
    clock = Clock(0.0)
    told = io.StringIO()

    def loaded(wait_s: float) -> bool:  # an Event's wait, on the clock: set at 17 s
        clock.now = min(clock.now + wait_s, 17.0)
        return clock.now >= 17.0

    tell_until(loaded, "loading torch", 0.0, lambda: clock.now, told)
    stamps = [float(s) for s in re.findall(r"^avo targets import: loading torch \[(\d+) s\]$",
                                           told.getvalue(), re.MULTILINE)]
    assert stamps == [LOADING_TOLD_S * n for n in (1, 2, 3)], told.getvalue()
    assert all(b - a < 10 for a, b in itertools.pairwise([0.0, *stamps, 17.0]))


def test_a_recurrent_network_is_probed_at_smaller_sizes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A GRU's build dispatches every step's operations: past MAX_PROBE_OPS (lowered here to
    this small GRU's scale) its sequence is halved until a build is quick, and the problem is
    built at its own sizes once; the output's shape and the FLOPs the file states still
    follow every checked size, as the GRU computes them."""
    monkeypatch.setattr(shapes_module, "MAX_PROBE_OPS", 1000)
    seen: list[int] = []
    build = KernelBenchProblem.instantiate

    def instantiate(self: KernelBenchProblem, sizes: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(dict(sizes).get("seq_len", self.sizes["seq_len"]))
        return build(self, sizes, *args, **kwargs)

    monkeypatch.setattr(KernelBenchProblem, "instantiate", instantiate)
    path = tmp_path / "gru.py"
    path.write_text(GRU)
    imported = import_problem(path)
    assert seen.count(64) == 1 and seen.count(32) > 20, seen
    target = get_target(str(imported.target))
    problem = target.problem
    assert isinstance(problem, DeclaredProblem)
    drawn = [config for seed in range(2) for config, _ in
             problem.draw_configs(target.edge_configs, 2, random.Random(seed))]
    module = target_module(imported.target)
    for config in (*target.edge_configs, *drawn):
        gru = torch.nn.GRU(config["input_size"], config["hidden_size"], 1)
        x = torch.zeros(config["seq_len"], 2, config["input_size"])
        (out,) = (p for p in problem.parameters if p.kind == "output")
        assert out.shape_on(config) == tuple(gru(x)[0].shape), config.name
        assert config.work.flops == counted(module, config), config.name


@pytest.mark.parametrize("name", sorted(RANDOM_FORWARDS))
def test_a_random_forward_is_refused_in_one_line(name: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dropout in training mode, or a state the forward draws itself: its reference is
    another on every call, and the tolerance taken from two of them would pass anything.
    The line names the Dropout, else the line that draws and the forward's arguments
    get_inputs() leaves out; the problem named as the command is given it (relative)."""
    source, words = RANDOM_FORWARDS[name]
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ImportRefused) as refused:
        import_problem(Path(f"{name}.py"))
    assert str(refused.value) == f"{name}.py: {words}"
    assert not list(tmp_path.glob("*_target.py"))


# KernelBench's CrossEntropyLoss as it is written: its logits' classes a tuple global of their
# own, read once from num_classes, which its labels are drawn below
CROSS_ENTROPY = """import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super(Model, self).__init__()

    def forward(self, predictions, targets):
        return torch.nn.functional.cross_entropy(predictions, targets)


batch_size = 4096
num_classes = 4096
input_shape = (num_classes,)
dim = 1


def get_inputs():
    return [torch.rand(batch_size, *input_shape), torch.randint(0, num_classes, (batch_size,))]


def get_init_inputs():
    return []
"""


def test_labels_drawn_below_a_global_follow_the_classes_they_index(
        c_compiler: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scaled for timing, the logits' classes shrink and num_classes did not: the labels
    were out of range and the import refused ("their ranges depend on each other"). The
    global the labels are drawn below is tied to the dimension it equals, so the labels'
    range is read from the classes at every size, and the seed passes `avo targets check`."""
    from avo_tui.kernelbench.target import configs

    monkeypatch.setattr(configs, "TIMED_S", (0.0005, 0.005))  # the classes scaled down
    problem = tmp_path / "cross_entropy.py"
    problem.write_text(CROSS_ENTROPY)
    imported = import_problem(problem)
    text = imported.target.read_text()
    assert "'input_shape_0': (('input_shape', 0), ('num_classes', None))," in text
    timed = get_target(str(imported.target)).configs[0]
    assert timed["input_shape_0"] < 4096
    (name, dtype, rule), = imported.integer_inputs
    assert (name, dtype) == ("targets", "int64")
    low, high = map(int, re.findall(r"-?\d+", rule))
    assert low == 0 and high <= timed["input_shape_0"]
    assert "PASS" in checked(imported.target)
