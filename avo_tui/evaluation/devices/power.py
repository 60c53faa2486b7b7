"""What a back-to-back reading (measurement/sustained.py) asks of a device: a clock for a
stretch of launches, and the SM clock and board power sampled while it runs. On a GPU, CUDA
events and NVML; on the CPU, the host's clock and no power samples (their figures read 0,
unknown). Imports only the standard library; CudaClock takes torch when it is made."""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

SAMPLE_S = 0.02  # NVML's power reading is refreshed about this often on Hopper

Sample = tuple[float, float]  # (SM clock in MHz, board power in W)


class PowerSource(Protocol):
    def sample(self) -> Sample: ...


class DeviceClock(Protocol):
    """Times a stretch of launches on the device and waits for them."""

    def start(self) -> None: ...
    def stop(self) -> float:
        """Seconds on the device since ``start``, once every launch queued has finished."""
        ...
    def synchronize(self) -> None: ...


class Nvml:
    """The SM clock (MHz) and board power (W) of one GPU, through libnvidia-ml; OSError where
    the library or the GPU cannot be had."""

    def __init__(self, index: int = 0, bus_id: str | None = None) -> None:
        self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        if self.lib.nvmlInit_v2() != 0:
            raise OSError("NVML did not start")
        self.handle = ctypes.c_void_p()
        found = (self.lib.nvmlDeviceGetHandleByPciBusId_v2(bus_id.encode(),
                                                           ctypes.byref(self.handle))
                 if bus_id else
                 self.lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(self.handle)))
        if found != 0:
            raise OSError(f"NVML has no GPU {bus_id or index}")

    @classmethod
    def of_cuda_device(cls, ordinal: int) -> Nvml:
        """The GPU that CUDA calls ``ordinal`` in this process: NVML numbers every GPU of the
        machine and ignores CUDA_VISIBLE_DEVICES, which a pool's worker is started under, so
        the two are matched by PCI bus."""
        return cls(ordinal, bus_id=cuda_pci_bus_id(ordinal))

    def sample(self) -> Sample:
        clock, milliwatts = ctypes.c_uint(), ctypes.c_uint()
        self.lib.nvmlDeviceGetClockInfo(self.handle, 1, ctypes.byref(clock))  # NVML_CLOCK_SM
        self.lib.nvmlDeviceGetPowerUsage(self.handle, ctypes.byref(milliwatts))
        return float(clock.value), milliwatts.value / 1000.0


def cuda_pci_bus_id(ordinal: int) -> str | None:
    """The PCI bus of CUDA device ``ordinal`` as the driver names it, or None."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    device = ctypes.c_int()
    if driver.cuInit(0) != 0 or driver.cuDeviceGet(ctypes.byref(device), ordinal) != 0:
        return None
    name = ctypes.create_string_buffer(32)
    if driver.cuDeviceGetPCIBusId(name, len(name), device) != 0:
        return None
    return name.value.decode()


class CudaClock:
    """CUDA events around the stretch, on the current device and stream."""

    def __init__(self) -> None:
        import torch

        self.cuda = torch.cuda
        self.begin = self.cuda.Event(enable_timing=True)
        self.end = self.cuda.Event(enable_timing=True)

    def start(self) -> None:
        self.begin.record()

    def stop(self) -> float:
        self.end.record()
        self.cuda.synchronize()
        return float(self.begin.elapsed_time(self.end)) / 1000.0

    def synchronize(self) -> None:
        self.cuda.synchronize()


class WallClock:
    """The host's clock, for a device whose launch returns when it is done (a C kernel)."""

    def __init__(self) -> None:
        self.began = time.perf_counter()

    def start(self) -> None:
        self.began = time.perf_counter()

    def stop(self) -> float:
        return time.perf_counter() - self.began

    def synchronize(self) -> None:
        pass


@contextmanager
def sampling(source: PowerSource, period: float = SAMPLE_S) -> Iterator[list[Sample]]:
    """Samples of ``source`` every ``period`` seconds, from a thread, while the block runs."""
    samples: list[Sample] = []
    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(period):
            samples.append(source.sample())

    thread = threading.Thread(target=sampler, name="power-sampler", daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


@contextmanager
def no_samples() -> Iterator[list[Sample]]:
    """Where nothing reports power (the CPU): no samples."""
    yield []
