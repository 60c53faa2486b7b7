"""Loading and launching CUDA kernels through cuda.core, on the stream torch computes on.

The kernel's launch geometry comes from its ``avo:launch`` declaration, evaluated for each
configuration with the variables below; dynamic shared memory above the 48 KB default is
granted through the function attribute before the launch.
"""

from __future__ import annotations

import ctypes
import functools
import platform
from pathlib import Path

import numpy as np
import torch

from .attention import InputSet, softmax_scale
from .contract import ContractError, Declarations, MissingEntry
from .targets import Config
from .timing import time_rotating_gpu

DEFAULT_DYNAMIC_SMEM = 48 * 1024


class DeviceFault(RuntimeError):
    """A CUDA error that leaves the context unusable (illegal address, launch failure...)."""


def is_device_fault(error: BaseException) -> bool:
    text = str(error)
    return "CUDA error" in text or "CUDA_ERROR" in text or "cudaError" in text


def launch_variables(config: Config, num_sms: int) -> dict[str, object]:
    return {
        "B": config.batch,
        "HQ": config.heads_q,
        "HKV": config.heads_kv,
        "S": config.seq_len,
        "D": config.head_dim,
        "CAUSAL": int(config.causal),
        "NUM_SMS": num_sms,
    }


def _dims(value: object, field: str) -> tuple[int, ...]:
    dims = value if isinstance(value, tuple) else (value,)
    if not 1 <= len(dims) <= 3 or not all(isinstance(d, int) and d >= 1 for d in dims):
        raise ContractError(f"avo:launch {field} must be 1 to 3 positive integers, got {value!r}")
    return dims


class CudaKernel:
    def __init__(
        self,
        artifact: Path,
        entry: str,
        declarations: Declarations,
        defines: dict[str, object],
        device: CudaDevice,
    ) -> None:
        from cuda.core import ObjectCode

        if "grid" not in declarations.launch or "block" not in declarations.launch:
            raise ContractError("a CUDA kernel declares // avo:launch grid=(...) block=(...)")
        self.declarations = declarations
        self.defines = defines
        self.device = device
        module = ObjectCode.from_cubin(artifact.read_bytes())
        try:
            self.kernel = module.get_kernel(entry)
        except Exception as error:  # cuda.core raises a driver error here
            if is_device_fault(error) and "NOT_FOUND" not in str(error):
                raise
            raise MissingEntry(
                f'the cubin has no kernel {entry}; declare it extern "C" __global__'
            ) from None
        self._smem_granted = DEFAULT_DYNAMIC_SMEM

    @functools.cache  # noqa: B019 - one kernel object per evaluation
    def geometry(
        self, config: Config
    ) -> tuple[tuple[int, ...], tuple[int, ...], int, tuple[int, ...] | None]:
        env = self.declarations.environment(
            launch_variables(config, self.device.num_sms) | self.defines
        )
        launch = self.declarations.launch
        grid = _dims(env.evaluate(launch["grid"]), "grid")
        block = _dims(env.evaluate(launch["block"]), "block")
        smem = int(env.evaluate(launch["smem"])) if "smem" in launch else 0  # type: ignore[call-overload]
        cluster = _dims(env.evaluate(launch["cluster"]), "cluster") if "cluster" in launch else None
        return grid, block, smem, cluster

    def _grant_smem(self, smem: int) -> None:
        if smem <= self._smem_granted:
            return
        from cuda.bindings import driver

        attribute = driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        handle = self.kernel.handle
        if isinstance(handle, driver.CUkernel):
            (err,) = driver.cuKernelSetAttribute(attribute, smem, handle, self.device.cu_device)
        else:
            (err,) = driver.cuFuncSetAttribute(handle, attribute, smem)
        if err != driver.CUresult.CUDA_SUCCESS:
            raise ContractError(
                f"the kernel asks for {smem} bytes of dynamic shared memory, which this GPU "
                f"refuses ({err.name})"
            )
        self._smem_granted = smem

    def launch(self, config: Config, inputs: InputSet, out: torch.Tensor) -> None:
        from cuda.core import LaunchConfig, launch

        grid, block, smem, cluster = self.geometry(config)
        self._grant_smem(smem)
        options = LaunchConfig(grid=grid, block=block, shmem_size=smem, cluster=cluster)
        q, k, v = inputs.tensors
        launch(
            self.device.stream(),
            options,
            self.kernel,
            np.intp(q.data_ptr()),
            np.intp(k.data_ptr()),
            np.intp(v.data_ptr()),
            np.intp(out.data_ptr()),
            np.int32(config.batch),
            np.int32(config.heads_q),
            np.int32(config.heads_kv),
            np.int32(config.seq_len),
            np.int32(config.head_dim),
            np.int32(int(config.causal)),
            np.float32(softmax_scale(config)),
        )

    def resources(self) -> dict[str, int]:
        """What the loaded function uses, for when NVRTC's log carries no ptxas report."""
        attributes = self.kernel.attributes
        return {
            "registers": attributes.num_regs,
            "local_bytes": attributes.local_size_bytes,  # stack and spills, per thread
            "smem_bytes": attributes.shared_size_bytes,
        }

    def close(self) -> None:
        self.geometry.cache_clear()


class CudaDevice:
    """One GPU as an evaluation device: event timing on torch's stream, host facts, peaks."""

    def __init__(self, index: int = 0) -> None:
        from cuda.core import Device

        torch.cuda.set_device(index)
        torch.zeros(1, device=f"cuda:{index}")  # create torch's (primary) context first
        self.core = Device(index)
        self.core.set_current()
        self.index = index
        self.name = f"cuda:{index}"
        props = torch.cuda.get_device_properties(index)
        self.num_sms = props.multi_processor_count
        self.capability = (props.major, props.minor)
        self.flush_bytes = 2 * int(getattr(props, "L2_cache_size", 50 << 20))
        self._peak: float | None = None
        from cuda.bindings import driver

        _, self.cu_device = driver.cuDeviceGet(index)

    @property
    def arch(self) -> str:
        major, minor = self.capability
        return f"sm_{major}{minor}" + ("a" if major in (9, 10, 12) else "")

    def load(
        self, artifact: Path, entry: str, declarations: Declarations, defines: dict[str, object]
    ) -> CudaKernel:
        return CudaKernel(artifact, entry, declarations, defines, self)

    def generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.name).manual_seed(seed)

    def stream(self) -> object:
        from cuda.core import Stream

        return Stream.from_handle(torch.cuda.current_stream().cuda_stream)

    def synchronize(self) -> None:
        torch.cuda.synchronize()

    time_rotating = staticmethod(time_rotating_gpu)

    def clock(self, launch: object) -> float:
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        launch()  # type: ignore[operator]
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e-3

    def peak_flops(self) -> float:
        """bf16 matmul FLOP/s on this GPU, measured once: attention cannot beat it."""
        if self._peak is None:
            n = 8192
            a = torch.randn(n, n, device=self.name, dtype=torch.bfloat16)
            b = torch.randn(n, n, device=self.name, dtype=torch.bfloat16)
            for _ in range(3):
                a @ b
            best = min(self.clock(lambda: a @ b) for _ in range(10))
            self._peak = 2 * n**3 / best
        return self._peak

    def host_info(self) -> dict[str, object]:
        from cuda.bindings import driver

        _, driver_version = driver.cuDriverGetVersion()
        return {
            "device": self.name,
            "gpu": torch.cuda.get_device_name(self.index),
            "capability": f"{self.capability[0]}.{self.capability[1]}",
            "sms": self.num_sms,
            "driver_cuda": f"{driver_version // 1000}.{driver_version % 1000 // 10}",
            "driver": _nvidia_driver(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "python": platform.python_version(),
        }


def _nvidia_driver() -> str:
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
        nvml.nvmlInit_v2()
        buffer = ctypes.create_string_buffer(80)
        nvml.nvmlSystemGetDriverVersion(buffer, 80)
        return buffer.value.decode()
    except OSError:
        return "unknown"
