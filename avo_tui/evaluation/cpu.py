"""Loading and launching C kernels: a private copy of the library per evaluation, via ctypes."""

from __future__ import annotations

import _ctypes
import ctypes
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from .attention import InputSet, softmax_scale
from .contract import MissingEntry
from .targets import Config
from .timing import time_rotating
from .toolchains.c import cpu_model

ATTENTION_ARGTYPES = [
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,  # q, k, v, o
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,  # B, Hq, Hkv, S, D
    ctypes.c_int,
    ctypes.c_float,  # causal, scale
]


class CpuKernel:
    """One loaded copy of a candidate's library.

    The library is copied to a private path before ``dlopen``: the loader returns the same
    handle for the same path, so without the copy a warm worker would hand the next evaluation
    a library whose static state the previous one left behind."""

    def __init__(self, artifact: Path, entry: str) -> None:
        self._dir = tempfile.mkdtemp(prefix="avo-lib-")
        private = Path(self._dir) / artifact.name
        shutil.copy2(artifact, private)
        self._lib = ctypes.CDLL(str(private), mode=os.RTLD_LOCAL)
        try:
            self._fn = getattr(self._lib, entry)
        except AttributeError:
            self.close()
            raise MissingEntry(
                f"the library exports no function {entry}; "
                f"declare it with external linkage (not static)"
            ) from None
        self._fn.argtypes = ATTENTION_ARGTYPES
        self._fn.restype = None

    def launch(self, config: Config, inputs: InputSet, out: object) -> None:
        q, k, v = inputs.tensors
        self._fn(
            q.data_ptr(),
            k.data_ptr(),
            v.data_ptr(),
            out.data_ptr(),  # type: ignore[attr-defined]
            config.batch,
            config.heads_q,
            config.heads_kv,
            config.seq_len,
            config.head_dim,
            int(config.causal),
            softmax_scale(config),
        )

    def close(self) -> None:
        lib = getattr(self, "_lib", None)
        if lib is not None:
            _ctypes.dlclose(lib._handle)
            self._lib = None
        shutil.rmtree(self._dir, ignore_errors=True)


class CpuDevice:
    """The CPU as an evaluation device: wall-clock timing, host facts, a measured GEMM peak."""

    name = "cpu"
    flush_bytes = 64 << 20  # rotate inputs through more memory than any last-level cache
    time_rotating = staticmethod(time_rotating)

    def __init__(self) -> None:
        self._peak: float | None = None

    arch = None  # the C toolchain builds for the host (-march=native)

    def load(
        self, artifact: Path, entry: str, declarations: object, defines: dict[str, object]
    ) -> CpuKernel:
        return CpuKernel(artifact, entry)

    def generator(self, seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    def synchronize(self) -> None:
        pass

    def peak_flops(self) -> float:
        """float32 matmul FLOP/s on this machine, measured once: attention cannot beat it."""
        if self._peak is None:
            n = 1024
            a, b = torch.randn(n, n), torch.randn(n, n)
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                a @ b
                best = min(best, time.perf_counter() - start)
            self._peak = 2 * n**3 / best
        return self._peak

    def host_info(self) -> dict[str, object]:
        return {
            "device": "cpu",
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
        }
