"""Loading and launching CUDA kernels through cuda.core, on the stream torch computes on.

The kernel's launch geometry comes from its ``avo:launch`` declaration, evaluated for each
configuration with the variables below; dynamic shared memory above DEFAULT_DYNAMIC_SMEM is
granted through the function attribute before the launch. Its ``avo:tensormap`` declarations
become TMA descriptors over the launch's own tensors, passed after the fixed parameters; its
``avo:launch scratch=`` bytes are zeroed on the stream before every launch, inside the timed
span (the exported op pays that memset too), and their address is passed last.
"""

from __future__ import annotations

import ctypes
import functools
import math
import platform
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import numpy as np
import torch

from ..declarations.contract import ContractError, Declarations, MissingEntry, TensorMap
from ..declarations.tensormaps import check_box
from ..targets.problem import Config, InputSet, OutputSet, Problem, output_params
from .power import CudaClock, Nvml, Sample, no_samples, sampling
from .timing import sequence_events

DEFAULT_DYNAMIC_SMEM = 48 * 1024
TENSORMAP_BYTES = 128  # sizeof(CUtensorMap)
MAX_CLUSTER_BLOCKS = 8  # the portable cluster size limit
POINTER_BYTES = 8
# Scratch is counters and flags, or a workspace up to twice the outputs' bytes (a backward's fp32
# dQ sums); its memset is timed with the launch, so a kernel pays for all it asks.
MAX_SCRATCH_BYTES = 1 << 20
WORKSPACE_PER_OUTPUT_BYTE = 2
# torch dtype -> (the dtype cuda.core views it as, the TMA data type); cuda.core reads bf16
# only with ml_dtypes installed, so bf16 travels as uint16 with the data type given explicitly.
# The integer types travel as unsigned bytes where the TMA unit has no signed type of their
# width: it copies bits, and a zero fill is zero either way.
TMA_TYPES = {
    torch.bfloat16: (torch.uint16, "BFLOAT16"),
    torch.float16: (torch.float16, "FLOAT16"),
    torch.float32: (torch.float32, "FLOAT32"),
    torch.int8: (torch.uint8, "UINT8"),
    torch.uint8: (torch.uint8, "UINT8"),
    torch.bool: (torch.uint8, "UINT8"),
    torch.int32: (torch.int32, "INT32"),
    torch.int64: (torch.int64, "INT64"),
}
SWIZZLE_NAMES = {"none": "NONE", "32B": "SWIZZLE_32B", "64B": "SWIZZLE_64B", "128B": "SWIZZLE_128B"}
L2_NAMES = {"none": "NONE", "64B": "L2_64B", "128B": "L2_128B", "256B": "L2_256B"}
OOB_NAMES = {"zero": "NONE", "nan": "NAN_REQUEST_ZERO_FMA"}


class DeviceFault(RuntimeError):
    """A CUDA error that leaves the context unusable (illegal address, launch failure...)."""


def is_device_fault(error: BaseException) -> bool:
    text = str(error)
    return "CUDA error" in text or "CUDA_ERROR" in text or "cudaError" in text


def launch_variables(config: Config, num_sms: int) -> dict[str, object]:
    return config.problem.launch_variables(config) | {"NUM_SMS": num_sms}


def arguments(problem: Problem, config: Config, tensors: dict[str, torch.Tensor]
              ) -> tuple[object, ...]:
    """The entry point's parameters on ``config``, in order: a tensor by its address, an int
    as a 32-bit int, a float as a 32-bit float."""
    scalars = problem.scalars(config)
    return tuple(
        np.intp(tensors[p.name].data_ptr()) if p.is_tensor
        else np.int32(scalars[p.name]) if p.kind == "int"
        else np.float32(scalars[p.name])
        for p in problem.parameters
    )


def _dims(value: object, field: str) -> tuple[int, ...]:
    dims = value if isinstance(value, tuple) else (value,)
    if not 1 <= len(dims) <= 3 or not all(isinstance(d, int) and d >= 1 for d in dims):
        raise ContractError(f"avo:launch {field} must be 1 to 3 positive integers, got {value!r}")
    return dims


def cluster_dims(value: object) -> tuple[int, ...] | None:
    """``avo:launch cluster=``'s value checked; None for a cluster of one block, which a kernel
    declares where a knob turns its clusters off: that is a plain launch."""
    cluster = _dims(value, "cluster")
    return cluster if math.prod(cluster) > 1 else None


def clusters_in(grid: tuple[int, ...], cluster: tuple[int, ...]) -> tuple[int, ...]:
    """The grid in clusters, as cuda.core's LaunchConfig counts it once a cluster is given
    (the declaration's grid counts blocks)."""
    grid3 = grid + (1,) * (3 - len(grid))
    cluster3 = cluster + (1,) * (3 - len(cluster))
    if math.prod(cluster3) > MAX_CLUSTER_BLOCKS:
        raise ContractError(
            f"avo:launch cluster={cluster} has more than {MAX_CLUSTER_BLOCKS} blocks"
        )
    for axis, (g, c) in enumerate(zip(grid3, cluster3, strict=True)):
        if g % c:
            raise ContractError(
                f"avo:launch grid={grid} is not a whole number of clusters {cluster}: "
                f"dimension {'xyz'[axis]} has {g} blocks"
            )
    return tuple(g // c for g, c in zip(grid3, cluster3, strict=True))


def scratch_limit(problem: Problem, config: Config) -> int:
    """The most scratch a launch on ``config`` may ask: a MiB, or twice its outputs' bytes."""
    outputs: int = sum(math.prod(p.shape_on(config)) * getattr(torch, p.dtype_on(config)).itemsize
                       for p in output_params(problem))
    return max(MAX_SCRATCH_BYTES, WORKSPACE_PER_OUTPUT_BYTE * outputs)


def scratch_bytes(value: object, limit: int = MAX_SCRATCH_BYTES) -> int:
    """``avo:launch scratch=``'s value checked: a whole number of bytes, at most ``limit``."""
    if type(value) is not int or not 0 <= value <= limit:
        raise ContractError(f"avo:launch scratch must be 0 to {limit} bytes (counters and "
                            f"flags, or a workspace up to {WORKSPACE_PER_OUTPUT_BYTE}x the "
                            f"outputs' bytes, zeroed before every launch), got {value!r}")
    return value


class Scratch:
    """A kernel's scratch bytes on one device: staged for a launch's size, zeroed by ``zero`` on
    torch's current stream right before the launch. One buffer, grown as a configuration needs;
    the launches of one kernel are sequential on one stream, so none sees another's counts."""

    def __init__(self, device: str) -> None:
        self._buffer = torch.zeros(0, dtype=torch.uint8, device=device)
        self._staged: torch.Tensor | None = None

    def stage(self, size: int) -> int:
        """The address the launch passes for ``size`` bytes: 0 for none."""
        if size > self._buffer.numel():
            self._buffer = torch.zeros(size, dtype=torch.uint8, device=self._buffer.device)
        self._staged = self._buffer[:size] if size else None
        return self._buffer.data_ptr() if size else 0

    def zero(self) -> None:
        if self._staged is not None:
            self._staged.zero_()


def tensor_box(spec: TensorMap, value: object, tensor: torch.Tensor) -> tuple[int, ...]:
    """``spec``'s box (its expression's ``value``) checked against the launch's own ``tensor``:
    a size per dimension, within what the TMA unit copies at its element size; a NaN fill only
    over floats."""
    if spec.oob == "nan" and not tensor.is_floating_point():
        raise ContractError(f"avo:tensormap {spec.name}: oob=nan over {spec.tensor}, a "
                            f"{str(tensor.dtype).removeprefix('torch.')} tensor: the TMA unit "
                            "fills only floats with NaN; use oob=zero")
    return check_box(spec, value, tensor.element_size(), tensor.dim())


def encode_tensor_map(tensor: torch.Tensor, box: tuple[int, ...], spec: TensorMap) -> object:
    """A tiled TMA descriptor over ``tensor`` (built by cuda.core, no kernel code involved)."""
    from cuda.core import _tensor_map as tma  # 1.2 exports the descriptor, not its enums
    from cuda.core.utils import StridedMemoryView

    view_dtype, data_type = TMA_TYPES[tensor.dtype]
    view = StridedMemoryView.from_dlpack(tensor.view(view_dtype), stream_ptr=-1)
    try:
        return view.as_tensor_map(
            box,
            data_type=getattr(tma.TensorMapDataType, data_type),
            swizzle=getattr(tma.TensorMapSwizzle, SWIZZLE_NAMES[spec.swizzle]),
            l2_promotion=getattr(tma.TensorMapL2Promotion, L2_NAMES[spec.l2]),
            oob_fill=getattr(tma.TensorMapOOBFill, OOB_NAMES[spec.oob]),
        )
    except ValueError as error:
        raise ContractError(
            f"avo:tensormap {spec.name}: cannot build it over {spec.tensor} "
            f"{tuple(tensor.shape)} with box {box}: {error}"
        ) from None


def check_parameters(sizes: list[int], fixed: int, tensormaps: Sequence[TensorMap],
                     has_scratch: bool) -> None:
    """A kernel whose parameters are ``sizes`` bytes each takes what the contract passes: the
    ``fixed`` parameters, then one CUtensorMap per declared map, then the scratch pointer where
    it declares scratch."""
    expected = fixed + len(tensormaps) + has_scratch
    maps = ", ".join(m.name for m in tensormaps) or "none"
    if len(sizes) != expected:
        scratch = (", then the scratch pointer (declared by avo:launch scratch=)"
                   if has_scratch else "")
        raise ContractError(
            f"the kernel takes {len(sizes)} parameters; the contract passes {expected}: "
            f"the {fixed} fixed ones, then one const __grid_constant__ "
            f"CUtensorMap per avo:tensormap (declared: {maps}){scratch}"
        )
    if has_scratch and sizes[-1] != POINTER_BYTES:
        raise ContractError(f"the last parameter is {sizes[-1]} bytes; avo:launch scratch= "
                            "passes a pointer there (unsigned int *scratch, say)")
    for spec, size in zip(tensormaps, sizes[fixed:fixed + len(tensormaps)], strict=True):
        if size != TENSORMAP_BYTES:
            raise ContractError(
                f"the parameter for avo:tensormap {spec.name} is {size} bytes; declare it "
                f"const __grid_constant__ CUtensorMap ({TENSORMAP_BYTES} bytes, by value)"
            )


class CudaKernel:
    def __init__(
        self,
        artifact: bytes,
        entry: str,
        declarations: Declarations,
        defines: dict[str, object],
        device: CudaDevice,
        problem: Problem,
    ) -> None:
        from cuda.core import ObjectCode

        if "grid" not in declarations.launch or "block" not in declarations.launch:
            raise ContractError("a CUDA kernel declares // avo:launch grid=(...) block=(...)")
        self.declarations = declarations
        self.defines = defines
        self.problem = problem
        self.fixed_parameters = len(problem.parameters)
        self.device = device
        module = ObjectCode.from_cubin(artifact)
        try:
            self.kernel = module.get_kernel(entry)
        except Exception as error:  # cuda.core raises a driver error here
            if is_device_fault(error) and "NOT_FOUND" not in str(error):
                raise
            raise MissingEntry(
                f'the cubin has no kernel {entry}; declare it extern "C" __global__'
            ) from None
        # Without an opt-in a block gets 48 KiB of shared memory, its static arrays included:
        # a kernel with static arrays beside 48 KiB of dynamic memory needs the opt-in too, or
        # its launch fails as CUDA_ERROR_INVALID_VALUE with nothing said about why.
        self._smem_granted = DEFAULT_DYNAMIC_SMEM - self._static_smem()
        self.tensormaps = declarations.tensormaps
        env = declarations.environment(defines)
        self.boxes = {m.name: m.box_value(env) for m in self.tensormaps}  # checked per tensor
        self.has_scratch = "scratch" in declarations.launch
        self._check_parameters()
        self._maps: dict[tuple[object, ...], object] = {}  # (name, tensor address...) -> map
        self._maps_config: Config | None = None
        self._staged: tuple[object, tuple[object, ...]] = (None, ())
        self._scratch = Scratch(device.name)

    def _static_smem(self) -> int:
        try:
            return int(self.kernel.attributes.shared_size_bytes)
        except Exception:  # a driver that cannot say: the launch then decides
            return 0

    def _check_parameters(self) -> None:
        try:
            sizes = [size for _, size in self.kernel.arguments_info]
        except Exception:  # drivers before 12.4 cannot list parameters; the launch then decides
            return
        check_parameters(sizes, self.fixed_parameters, self.tensormaps, self.has_scratch)

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
        smem = env.evaluate(launch["smem"]) if "smem" in launch else 0
        if type(smem) is not int or smem < 0:
            raise ContractError(f"avo:launch smem must be a number of bytes, got {smem!r}")
        cluster = cluster_dims(env.evaluate(launch["cluster"])) if "cluster" in launch else None
        if cluster is not None:
            grid = clusters_in(grid, cluster)
        return grid, block, smem, cluster

    @functools.cache  # noqa: B019 - one kernel object per evaluation
    def scratch(self, config: Config) -> int:
        """The bytes of scratch a launch on ``config`` gets zeroed (0 where none is declared)."""
        if not self.has_scratch:
            return 0
        env = self.declarations.environment(
            launch_variables(config, self.device.num_sms) | self.defines
        )
        return scratch_bytes(env.evaluate(self.declarations.launch["scratch"]),
                             scratch_limit(self.problem, config))

    def grant_smem(self, smem: int) -> None:
        """Opt the kernel in to ``smem`` bytes of dynamic shared memory where it needs more than
        the default."""
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
            static = self._static_smem()
            beside = f" beside {static} bytes of static shared memory" if static else ""
            raise ContractError(
                f"the kernel asks for {smem} bytes of dynamic shared memory{beside}, which "
                f"this GPU refuses ({err.name})"
            )
        self._smem_granted = smem

    def stage(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        """Everything but the launch itself: geometry, shared memory, tensor maps, arguments."""
        from cuda.core import LaunchConfig

        grid, block, smem, cluster = self.geometry(config)
        self.grant_smem(smem)
        options = LaunchConfig(grid=grid, block=block, shmem_size=smem, cluster=cluster)
        tensors = inputs.named | outs.named
        maps = self._tensor_maps(config, tensors)
        scratch = self._scratch_pointer(config)
        self._staged = (options, (*arguments(self.problem, config, tensors), *maps, *scratch))

    def _scratch_pointer(self, config: Config) -> tuple[object, ...]:
        """The scratch parameter for ``config``: the address of its zeroed bytes (null for 0
        bytes), or nothing where no scratch is declared."""
        if not self.has_scratch:
            return ()
        return (np.intp(self._scratch.stage(self.scratch(config))),)

    def fire(self) -> None:
        """The launch, queued on torch's stream after its scratch is zeroed; the caller's CUDA
        events time both."""
        from cuda.core import launch

        options, arguments = self._staged
        self._scratch.zero()
        launch(self.device.stream(), options, self.kernel, *arguments)

    def launcher(self, config: Config, inputs: InputSet, outs: OutputSet
                 ) -> Callable[[], None]:
        """A launch on these tensors, staged once: each call queues it again, with no host
        work but the launch between (a stretch back to back takes its slots' in turn)."""
        self.stage(config, inputs, outs)
        staged = self._staged

        def again() -> None:
            self._staged = staged
            self.fire()
        return again

    def settle(self, inputs: InputSet, outs: OutputSet) -> None:
        """Nothing to copy back: the kernel wrote the caller's own tensors."""

    def launch(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        self.stage(config, inputs, outs)
        self.fire()

    def renew(self) -> None:
        """Nothing: a CUDA kernel runs in the worker's own context."""

    @property
    def writes_in_place(self) -> bool:
        return True  # the launch writes the caller's tensors

    @property
    def fresh_on_renew(self) -> bool:
        return False  # the module stays loaded: a launch is never a first one again

    def signature(self, config: Config) -> object:
        """The launch geometry, every tensor map's box and modes, and any scratch on
        ``config``."""
        maps = [(m.name, m.tensor, self.boxes[m.name], m.swizzle, m.l2, m.oob)
                for m in self.tensormaps]
        scratch = [self.scratch(config)] if self.has_scratch else []
        return [self.geometry(config), maps, *scratch]

    def check_idle(self) -> None:
        """A grid ends when its last block does: no work outlives a launch."""

    def _tensor_maps(self, config: Config, tensors: dict[str, torch.Tensor]) -> list[object]:
        """One descriptor per declared map over this launch's tensors, encoded once per tensor:
        timing rotates through input sets, and an encode per launch would be timed too."""
        if config != self._maps_config:  # earlier configurations' tensors are gone
            self._maps.clear()
            self._maps_config = config
        maps = []
        for spec in self.tensormaps:
            tensor = tensors[spec.tensor]
            key = (spec.name, tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor.dtype)
            if key not in self._maps:
                box = tensor_box(spec, self.boxes[spec.name], tensor)
                self._maps[key] = encode_tensor_map(tensor, box, spec)
            maps.append(self._maps[key])
        return maps

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
        self.scratch.cache_clear()
        self._maps.clear()
        self._staged = (None, ())


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
        # Zeroed before every timed launch, after its inputs were written: no subject finds its
        # inputs (or anything else) in L2.
        flush_bytes = 2 * int(getattr(props, "L2_cache_size", 50 << 20))
        self._flush = torch.empty(flush_bytes, dtype=torch.uint8, device=self.name)
        self._peak: float | None = None
        self._bandwidth: float | None = None
        self._facts: dict[str, object] | None = None
        self._nvml: Nvml | bool | None = None  # opened at the first back-to-back reading
        from cuda.bindings import driver

        _, self.cu_device = driver.cuDeviceGet(index)

    @property
    def arch(self) -> str:
        major, minor = self.capability
        return f"sm_{major}{minor}" + ("a" if major in (9, 10, 12) else "")

    consistency_factor = 1.5
    # A GPU's clock under sustained load differs from one evaluation to the next, and a
    # baseline answers it unlike our kernels do: a ratio to a timing from another evaluation
    # moved by 4-12% where one timed beside the kernel moved by 0.2% (RESULTS.md, 2026-11-24).
    reuses_baselines = False
    time_sequence = staticmethod(sequence_events)

    def load(
        self, artifact: bytes, entry: str, declarations: Declarations, defines: dict[str, object],
        problem: Problem,
    ) -> CudaKernel:
        return CudaKernel(artifact, entry, declarations, defines, self, problem)

    def watch_launches(self, limit_s: float, alive: object) -> None:
        """Nothing: a CUDA kernel runs in the worker's own context, and a hang silences the
        worker, which its parent then kills (the failure ``timeout``)."""

    def generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.name).manual_seed(seed)

    def stream(self) -> object:
        from cuda.core import Stream

        return Stream.from_handle(torch.cuda.current_stream().cuda_stream)

    def synchronize(self) -> None:
        torch.cuda.synchronize()

    def stretch_clock(self) -> CudaClock:
        return CudaClock()

    def power_samples(self) -> AbstractContextManager[list[Sample]]:
        """NVML's samples of this GPU; none where NVML cannot be had (said once, as '0 MHz')."""
        if self._nvml is None:
            try:
                self._nvml = Nvml.of_cuda_device(self.index)
            except OSError:
                self._nvml = False
        return sampling(self._nvml) if isinstance(self._nvml, Nvml) else no_samples()

    def flush_cache(self) -> None:
        self._flush.zero_()

    def clock(self, launch: object) -> float:
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        launch()  # type: ignore[operator]
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end)) * 1e-3

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

    bandwidth_note = ""

    def peak_bandwidth(self) -> float:
        """Bytes per second a device-to-device copy of a buffer many times the L2 moves on
        this GPU (each byte read once and written once), measured once: a memory-bound kernel
        whose inputs come cold from memory (the L2 is flushed before every timed launch)
        cannot move its bytes much faster."""
        if self._bandwidth is None:
            size = max(1 << 30, 8 * int(self._flush.numel()))
            source = torch.empty(size, dtype=torch.uint8, device=self.name)
            copy = torch.empty_like(source)
            for _ in range(3):
                copy.copy_(source)
            best = min(self.clock(lambda: copy.copy_(source)) for _ in range(10))
            self._bandwidth = 2 * size / best
            del source, copy
            torch.cuda.empty_cache()  # the 2 GiB go back to the device, not to torch's cache
        return self._bandwidth

    def facts(self) -> dict[str, object]:
        """What the agent is told about this GPU, read off the device and measured (its bf16
        peak and its copy bandwidth), never assumed from its name. Not part of host_info:
        that one keys reused baseline timings, and a measured peak differs from worker to
        worker."""
        if self._facts is None:
            props = torch.cuda.get_device_properties(self.index)
            self._facts = {
                "gpu": props.name,
                "compute_capability": f"{self.capability[0]}.{self.capability[1]}",
                "arch": self.arch,
                "sms": self.num_sms,
                "max_smem_per_block_optin_bytes": self._attribute(
                    "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN"),
                "max_smem_per_sm_bytes": self._attribute("MAX_SHARED_MEMORY_PER_MULTIPROCESSOR"),
                "registers_per_sm": self._attribute("MAX_REGISTERS_PER_MULTIPROCESSOR"),
                "registers_per_block": self._attribute("MAX_REGISTERS_PER_BLOCK"),
                "max_threads_per_sm": self._attribute("MAX_THREADS_PER_MULTIPROCESSOR"),
                "l2_bytes": self._attribute("L2_CACHE_SIZE"),
                "memory_gib": round(props.total_memory / 2**30, 1),
            }
        return self._facts | {"peak_bf16_tflops": round(self.peak_flops() / 1e12, 1),
                              "bandwidth_gbs": round(self.peak_bandwidth() / 1e9)}

    def _attribute(self, name: str) -> int | None:
        from cuda.bindings import driver

        attribute = getattr(driver.CUdevice_attribute, f"CU_DEVICE_ATTRIBUTE_{name}")
        err, value = driver.cuDeviceGetAttribute(attribute, self.cu_device)
        return int(value) if err == driver.CUresult.CUDA_SUCCESS else None

    def host_info(self) -> dict[str, object]:
        """Which GPU and software: the uuid makes baselines (keyed by these facts) per GPU;
        ``gpu_index`` is the GPU's CUDA_VISIBLE_DEVICES entry as the parent gave it (a pool
        pins each worker to one), for the operator to read, not part of that key."""
        import os

        from cuda.bindings import driver

        _, driver_version = driver.cuDriverGetVersion()
        listed = [e.strip() for e in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
        entry = listed[self.index] if self.index < len(listed) and listed[self.index] else None
        physical = entry if entry is not None else str(self.index)
        uuid = getattr(torch.cuda.get_device_properties(self.index), "uuid", None)
        return {
            "device": self.name,
            "gpu": torch.cuda.get_device_name(self.index),
            "gpu_index": int(physical) if physical.isdigit() else physical,
            "uuid": f"GPU-{uuid}" if uuid is not None else None,
            "capability": f"{self.capability[0]}.{self.capability[1]}",
            "sms": self.num_sms,
            "driver_cuda": f"{driver_version // 1000}.{driver_version % 1000 // 10}",
            "driver": _nvidia_driver(),
            "torch": str(torch.__version__),  # a plain str: unpickled, TorchVersion imports torch
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
