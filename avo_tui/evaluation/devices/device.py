"""What an evaluation asks of a device (cpu.py's CpuDevice, gpu.py's CudaDevice) and of a kernel
loaded on it, and opening a device by name."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

import torch

from ..declarations.contract import Declarations
from ..targets.problem import Config, InputSet, OutputSet, Problem
from ..toolchains import ToolchainUnavailable
from .cpu import CpuDevice
from .power import DeviceClock, Sample
from .timing import Launch, Subject


class Kernel(Protocol):
    """A loaded candidate. ``stage`` and ``settle`` run outside the timed interval, ``fire``
    is the launch the clock measures."""

    def stage(self, config: Config, inputs: InputSet, outs: OutputSet) -> None: ...
    def fire(self) -> float | None: ...
    def settle(self, inputs: InputSet, outs: OutputSet) -> None: ...
    def launch(self, config: Config, inputs: InputSet, outs: OutputSet) -> None: ...
    def launcher(self, config: Config, inputs: InputSet, outs: OutputSet
                 ) -> Callable[[], None]:
        """A launch on these tensors to make again and again, staged once where the device
        can keep several staged (a GPU), else at each call."""
        ...
    def signature(self, config: Config) -> object:
        """How the kernel is launched on ``config`` (geometry, tensor maps), as plain data."""
        ...
    def renew(self) -> None:
        """Start the next timing round afresh where that means something (a new process for a
        C kernel): what sticks to one process, such as its memory layout, then varies from
        round to round, where the gate's noise estimate sees it."""
        ...
    @property
    def fresh_on_renew(self) -> bool:
        """Whether renew gives a fresh process, where the next launch is a first one again."""
        ...
    @property
    def writes_in_place(self) -> bool:
        """Whether a launch writes the caller's own output tensors (a GPU), so that every
        launch's outputs stay there to check; else ``settle`` copies back the last one's."""
        ...
    def check_idle(self) -> str | None: ...
    def close(self) -> None: ...


class Device(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def arch(self) -> str | None: ...
    @property
    def consistency_factor(self) -> float:
        """Checked launches may take this times the median of all launches, no more."""
        ...
    @property
    def reuses_baselines(self) -> bool:
        """Whether a baseline's timing from an earlier evaluation may stand for this one's."""
        ...

    def load(
        self, artifact: bytes, entry: str, declarations: Declarations, defines: dict[str, object],
        problem: Problem,
    ) -> Kernel:
        """The kernel, launched with ``problem``'s parameters."""
        ...
    def watch_launches(self, limit_s: float, alive: Callable[[], None] | None) -> None:
        """Where kernels run in processes of their own (C): a launch past ``limit_s`` is that
        kernel's hang, and ``alive`` is called meanwhile. Nothing where they do not (CUDA: a
        hang ends the worker)."""
        ...
    def synchronize(self) -> None: ...
    def stretch_clock(self) -> DeviceClock:
        """A clock for a stretch of launches back to back (measurement/sustained.py)."""
        ...
    def power_samples(self) -> AbstractContextManager[list[Sample]]:
        """The SM clock and board power, sampled while a block runs; none where nothing
        reports them (the CPU)."""
        ...
    def flush_cache(self) -> None: ...
    def time_sequence(self, warm: list[Subject], launches: list[Launch]) -> list[float]: ...
    def generator(self, seed: int) -> torch.Generator: ...
    def peak_flops(self) -> float: ...
    def peak_bandwidth(self) -> float | None:
        """Bytes per second a large copy moves (read plus written), measured once; None where
        no bandwidth bounds a launch (``bandwidth_note`` says why)."""
        ...
    @property
    def bandwidth_note(self) -> str:
        """Why peak_bandwidth is None on this device ("" where it is measured)."""
        ...
    def facts(self) -> dict[str, object]:
        """The device's limits and measured peaks, as the agent's prompt states them."""
        ...
    def host_info(self) -> dict[str, object]: ...


def open_device(name: str) -> Device:
    if name == "cpu":
        return CpuDevice()
    if name == "cuda" or name.startswith("cuda:"):
        from .gpu import CudaDevice

        if not torch.cuda.is_available():
            raise ToolchainUnavailable("no CUDA GPU is visible to torch on this machine")
        return CudaDevice(int(name.partition(":")[2] or 0))
    raise ToolchainUnavailable(f"no evaluation device {name!r} (use cpu or cuda[:N])")
