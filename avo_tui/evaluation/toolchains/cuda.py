"""The CUDA toolchain: NVRTC through cuda.core, to a cubin for the device's own architecture.

NVRTC needs no GPU, so kernels compile (and CI checks them) on machines without one. Headers
such as cuda_bf16.h come from the CUDA runtime headers cuda.pathfinder finds, or, failing
that, from the headers bundled with NVRTC itself.
"""

from __future__ import annotations

import functools
import io
import re
import tempfile
import time
from pathlib import Path

from .base import (
    CompileCache,
    CompileResult,
    Diagnostic,
    Sources,
    ToolchainUnavailable,
)

CUBIN = "kernel.cubin"
DEFAULT_ARCH = "sm_90a"
STD = "c++17"
# file(line): error: message            (NVRTC; the source line and a caret follow)
NVRTC_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^\s(][^(\n]*)\((?P<line>\d+)\): (?P<sev>catastrophic error|error|warning|remark)"
    r"(?: #\w+-\w)?: (?P<msg>.*)$",
    re.MULTILINE,
)
PTXAS_RESOURCES = {
    "registers": re.compile(r"Used (\d+) registers"),
    "stack_bytes": re.compile(r"(\d+) bytes stack frame"),
    "spill_stores": re.compile(r"(\d+) bytes spill stores"),
    "spill_loads": re.compile(r"(\d+) bytes spill loads"),
    "smem_bytes": re.compile(r"(\d+) bytes smem"),
}


def parse_nvrtc_log(log: str, known_files: set[str]) -> list[Diagnostic]:
    diagnostics = []
    lines = log.splitlines()
    for m in NVRTC_DIAGNOSTIC.finditer(log):
        index = log.count("\n", 0, m.start())
        column = 0
        # NVRTC echoes the source line, then a caret under the column, both indented by two.
        if index + 2 < len(lines) and lines[index + 2].strip() == "^":
            column = lines[index + 2].index("^") - 1
        severity = {"catastrophic error": "error", "remark": "note"}.get(m["sev"], m["sev"])
        name = Path(m["file"]).name
        diagnostics.append(
            Diagnostic(
                name if name in known_files else m["file"],
                int(m["line"]),
                max(column, 0),
                severity,
                m["msg"].strip(),
            )
        )
    return diagnostics


def ptxas_resources(log: str) -> dict[str, int]:
    found = {}
    for key, pattern in PTXAS_RESOURCES.items():
        values = [int(v) for v in pattern.findall(log)]
        if values:
            found[key] = max(values)
    return found


@functools.cache
def _cudart_include() -> str | None:
    """The CUDA runtime's header directory, or None to use the headers bundled with NVRTC."""
    try:
        from cuda.pathfinder import find_nvidia_header_directory

        include: str | None = find_nvidia_header_directory("cudart")
    except Exception:  # any failure here means "use the bundled headers"
        include = None
    return include or None


class CudaToolchain:
    name = "cuda"
    source_suffixes: tuple[str, ...] = (".cu", ".cuh", ".h")

    def __init__(self, cache: CompileCache | None = None, arch: str = DEFAULT_ARCH) -> None:
        self.cache = cache or CompileCache()
        self.arch = arch

    @functools.cache  # noqa: B019 - one toolchain per worker, cached for its lifetime
    def version(self) -> str:
        try:
            from cuda.bindings import nvrtc

            _, major, minor = nvrtc.nvrtcVersion()
        except Exception as error:  # reported as the toolchain being missing
            raise ToolchainUnavailable(
                f"NVRTC is not available ({error}); install it with "
                "pip install 'cuda-bindings[all]'"
            ) from None
        return f"nvrtc {major}.{minor} {self.arch}"

    def compile(self, sources: Sources, options: tuple[str, ...] = ()) -> CompileResult:
        key, cached = self.cache.find(self, sources, options)
        if cached is not None:
            return cached
        units = sorted(name for name in sources if name.endswith(".cu"))
        if len(units) != 1:
            return CompileResult(False, None, f"a CUDA candidate has one .cu file, not {units}")
        from cuda.core import Program, ProgramOptions

        with tempfile.TemporaryDirectory(prefix="avo-nvrtc-") as build:
            build_dir = Path(build)
            for name, text in sources.items():
                (build_dir / name).write_text(text)
            cudart = _cudart_include()
            includes = [str(build_dir), *([cudart] if cudart else [])]
            program_options = ProgramOptions(
                name=units[0],
                arch=self.arch,
                std=STD,
                include_path=includes,
                use_bundled_headers=None if cudart else True,
                define_macro=defines_of(options) or None,
                ptxas_options=["-v"],
            )
            log = io.StringIO()
            start = time.perf_counter()
            try:
                program = Program(sources[units[0]], "c++", program_options)
                cubin = program.compile("cubin", logs=log).code
                ok, text = True, log.getvalue()
            except Exception as error:  # NVRTCError carries the log
                ok, text = False, str(error)
            seconds = time.perf_counter() - start
            text = text.replace("\x00", "").strip()
            artifact = None
            if ok:
                artifact = build_dir / CUBIN
                artifact.write_bytes(cubin)
            result = CompileResult(
                ok,
                artifact,
                f"nvrtc {self.arch} {' '.join(options)}\n{text}",
                parse_nvrtc_log(text, set(sources)),
                seconds,
                resources=ptxas_resources(text) if ok else {},
            )
            return self.cache.store(key, result)


def defines_of(options: tuple[str, ...]) -> list[tuple[str, str] | str]:
    defines: list[tuple[str, str] | str] = []
    for option in options:
        if not option.startswith("-D"):
            raise ToolchainUnavailable(f"the CUDA toolchain takes only -D options, not {option}")
        name, sep, value = option[2:].partition("=")
        defines.append((name, value) if sep else name)
    return defines
