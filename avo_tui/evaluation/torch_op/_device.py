"""A CUDA kernel compiled with NVRTC through cuda.core, for this GPU's architecture, at first use,
and launched as the evaluator launches it: the geometry its ``avo:launch`` declares (read by the
evaluator's own expressions, _expressions), dynamic shared memory past DEFAULT_DYNAMIC_SMEM
granted through the function attribute, one TMA descriptor per ``avo:tensormap`` after the fixed
parameters, then the address of zeroed scratch bytes where ``avo:launch scratch=`` asks for them, on
torch's current stream. Scratch is allocated per call, so calls on two streams at once never share a
counter.

The cubin is cached on disk per architecture, NVRTC and driver version (and the sources and
options), written whole under a temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._expressions import Environment
from ._host import cache_root

DEFAULT_DYNAMIC_SMEM = 48 * 1024
MAX_MAPS = 256  # tensor maps kept, by the tensors' addresses; past it the oldest go
# As the evaluator's (devices/gpu.py): integers travel as unsigned bytes where the TMA unit has
# no signed type of their width.
TMA_TYPES = {torch.bfloat16: (torch.uint16, "BFLOAT16"), torch.float16: (torch.float16, "FLOAT16"),
             torch.float32: (torch.float32, "FLOAT32"), torch.int8: (torch.uint8, "UINT8"),
             torch.uint8: (torch.uint8, "UINT8"), torch.bool: (torch.uint8, "UINT8"),
             torch.int32: (torch.int32, "INT32"), torch.int64: (torch.int64, "INT64")}
SWIZZLE_NAMES = {"none": "NONE", "32B": "SWIZZLE_32B", "64B": "SWIZZLE_64B", "128B": "SWIZZLE_128B"}
L2_NAMES = {"none": "NONE", "64B": "L2_64B", "128B": "L2_128B", "256B": "L2_256B"}
OOB_NAMES = {"zero": "NONE", "nan": "NAN_REQUEST_ZERO_FMA"}


def arch_of(device: torch.device) -> str:
    """The architecture as the evaluator compiles for it: sm_90a on Hopper (wgmma, TMA
    multicast and setmaxnreg need the ``a``), likewise on sm_100 and sm_120."""
    major, minor = torch.cuda.get_device_capability(device)
    return f"sm_{major}{minor}" + ("a" if major in (9, 10, 12) else "")


def _cudart_include() -> str | None:
    try:
        from cuda.pathfinder import find_nvidia_header_directory

        found: str | None = find_nvidia_header_directory("cudart")
    except Exception:  # any failure: NVRTC's bundled headers
        found = None
    return found or None


def compile_cubin(spec: Mapping[str, Any], kernel_dir: Path, arch: str) -> bytes:
    """The cubin for ``arch``, from the on-disk cache or compiled now."""
    from cuda.bindings import nvrtc
    from cuda.core import Program, ProgramOptions

    sources = {name: (kernel_dir / name).read_text() for name in spec["sources"]}
    _, major, minor = nvrtc.nvrtcVersion()
    build = spec["build"]
    key = hashlib.sha256(json.dumps([build, sorted(sources.items()), arch, major, minor,
                                     driver_version()]).encode()).hexdigest()
    entry = cache_root(spec["name"]) / f"{arch}-{key[:32]}.cubin"
    if entry.is_file():
        return entry.read_bytes()
    unit = build["unit"]
    with tempfile.TemporaryDirectory(prefix=f"{spec['name']}-nvrtc-") as folder:
        for name, text in sources.items():
            (Path(folder) / name).write_text(text)
        cudart = _cudart_include()
        options = ProgramOptions(
            name=unit, arch=arch, std=build["std"],
            include_path=[folder, *([cudart] if cudart else [])],
            use_bundled_headers=None if cudart else True,
            define_macro=[(name, value) for name, value in build["defines"]] or None)
        cubin: bytes = Program(sources[unit], "c++", options).compile("cubin",
                                                                      logs=io.StringIO()).code
    entry.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".cubin-", dir=entry.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(cubin)
    os.replace(temporary, entry)
    return cubin


def geometry(spec: Mapping[str, Any], dims: Mapping[str, int], num_sms: int
             ) -> tuple[tuple[int, ...], tuple[int, ...], int, tuple[int, ...] | None, int | None]:
    """(grid in blocks, or in clusters where one is declared; block; dynamic shared memory;
    cluster; scratch bytes, None where none is declared) on a call of ``dims``, as the evaluator
    reads the kernel's avo:launch."""
    # the variables as the evaluator has them: the problem's, NUM_SMS, the target's defines
    variables: dict[str, object] = {
        variable: dims[dim] for variable, dim in spec["launch_variables"].items()}
    variables |= {"NUM_SMS": num_sms, **spec["variables"]}
    env = Environment(spec["declared_defines"], variables)
    launch = spec["launch"]
    grid, block = _dims(env.evaluate(launch["grid"])), _dims(env.evaluate(launch["block"]))
    smem = _int(env.evaluate(launch["smem"])) if "smem" in launch else 0
    cluster = _dims(env.evaluate(launch["cluster"])) if "cluster" in launch else None
    if cluster is not None and math.prod(cluster) == 1:
        cluster = None  # one block a cluster: a plain launch, as the evaluator makes it
    scratch = _int(env.evaluate(launch["scratch"])) if "scratch" in launch else None
    if cluster is not None:
        grid = tuple(g // c for g, c in zip(_three(grid), _three(cluster), strict=True))
    return grid, block, smem, cluster, scratch


def driver_version() -> int:
    """The CUDA driver's version (0 where none answers: NVRTC still compiles)."""
    try:
        from cuda.bindings import driver

        return int(driver.cuDriverGetVersion()[1])
    except Exception:  # no driver on this machine
        return 0


class DeviceKernel:
    def __init__(self, spec: Mapping[str, Any], kernel_dir: Path, device: torch.device) -> None:
        from cuda.bindings import driver
        from cuda.core import Device, ObjectCode

        index = device.index if device.index is not None else torch.cuda.current_device()
        torch.zeros(1, device=f"cuda:{index}")  # torch's (primary) context first
        self.device = Device(index)
        self.device.set_current()
        self.current = threading.local()  # whether this thread made the context current
        self.spec = spec
        self.kernel = ObjectCode.from_cubin(
            compile_cubin(spec, kernel_dir, arch_of(device))).get_kernel(spec["entry"])
        self.num_sms = torch.cuda.get_device_properties(index).multi_processor_count
        self.index = index
        self.cu_device = driver.cuDeviceGet(index)[1]
        static = int(self.kernel.attributes.shared_size_bytes)
        self.smem_granted = DEFAULT_DYNAMIC_SMEM - static
        self.maps: dict[tuple[object, ...], object] = {}
        self.geometries: dict[tuple[tuple[str, int], ...], tuple[Any, ...]] = {}
        self.streams: dict[int, object] = {}  # torch's stream handle -> cuda.core's view of it

    def launch_config(self, dims: Mapping[str, int]) -> tuple[Any, ...]:
        """(cuda.core's LaunchConfig, the dynamic shared memory, the scratch bytes or None) for
        ``dims``, made once."""
        key = tuple(dims.items())
        if key not in self.geometries:
            from cuda.core import LaunchConfig

            if len(self.geometries) > MAX_MAPS:
                self.geometries.clear()
            grid, block, smem, cluster, scratch = geometry(self.spec, dims, self.num_sms)
            config = LaunchConfig(grid=grid, block=block, shmem_size=smem, cluster=cluster)
            self.geometries[key] = (config, smem, scratch)
        return self.geometries[key]

    def stream(self) -> object:
        handle = torch.cuda.current_stream().cuda_stream
        if handle not in self.streams:
            from cuda.core import Stream

            if len(self.streams) >= MAX_MAPS:
                self.streams.clear()
            self.streams[handle] = Stream.from_handle(handle)
        return self.streams[handle]

    def grant(self, smem: int) -> None:
        if smem <= self.smem_granted:
            return
        from cuda.bindings import driver

        attribute = driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        handle = self.kernel.handle
        if isinstance(handle, driver.CUkernel):
            (err,) = driver.cuKernelSetAttribute(attribute, smem, handle, self.cu_device)
        else:
            (err,) = driver.cuFuncSetAttribute(handle, attribute, smem)
        if err != driver.CUresult.CUDA_SUCCESS:
            raise RuntimeError(f"this GPU refuses {smem} bytes of dynamic shared memory "
                               f"({err.name})")
        self.smem_granted = smem

    def tensor_map(self, spec: Mapping[str, Any], tensor: torch.Tensor) -> object:
        key = (spec["name"], tensor.data_ptr(), tuple(tensor.shape), tensor.dtype)
        if key not in self.maps:
            from cuda.core import _tensor_map as tma
            from cuda.core.utils import StridedMemoryView

            if len(self.maps) >= MAX_MAPS:
                self.maps.pop(next(iter(self.maps)))
            view_dtype, data_type = TMA_TYPES[tensor.dtype]
            view = StridedMemoryView.from_dlpack(tensor.view(view_dtype), stream_ptr=-1)
            self.maps[key] = view.as_tensor_map(
                tuple(spec["box"]), data_type=getattr(tma.TensorMapDataType, data_type),
                swizzle=getattr(tma.TensorMapSwizzle, SWIZZLE_NAMES[spec["swizzle"]]),
                l2_promotion=getattr(tma.TensorMapL2Promotion, L2_NAMES[spec["l2"]]),
                oob_fill=getattr(tma.TensorMapOOBFill, OOB_NAMES[spec["oob"]]))
        return self.maps[key]

    def launch(self, named: Mapping[str, torch.Tensor], dims: Mapping[str, int],
               values: Sequence[tuple[str, Any]]) -> None:
        from cuda.core import launch

        if not getattr(self.current, "set", False):  # a thread's first launch of this kernel
            self.device.set_current()
            self.current.set = True
        config, smem, scratch = self.launch_config(dims)
        self.grant(smem)
        arguments: list[object] = [
            np.intp(value) if kind in ("input", "output")
            else np.int32(value) if kind == "int" else np.float32(value)
            for kind, value in values]
        arguments += [self.tensor_map(m, named[m["tensor"]]) for m in self.spec["tensormaps"]]
        zeroed = None  # held to the launch: torch's allocator reuses it only after this stream
        if scratch:
            zeroed = torch.zeros(scratch, dtype=torch.uint8, device=f"cuda:{self.index}")
        if scratch is not None:
            arguments.append(np.intp(zeroed.data_ptr() if zeroed is not None else 0))
        launch(self.stream(), config, self.kernel, *arguments)
        del zeroed


def _dims(value: object) -> tuple[int, ...]:
    dims = value if isinstance(value, tuple) else (value,)
    return tuple(_int(d) for d in dims)


def _int(value: object) -> int:
    if type(value) is not int or value < 0:
        raise RuntimeError(f"avo:launch gives {value!r} where a count is needed")
    return value


def _three(dims: tuple[int, ...]) -> tuple[int, ...]:
    return dims + (1,) * (3 - len(dims))

