"""The C toolchain: the system compiler builds a shared library the worker loads with ctypes."""

from __future__ import annotations

import functools
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .base import CompileCache, CompileResult, Sources, ToolchainUnavailable, parse_gcc_style

FLAGS = ("-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "-std=c11")
LIBRARY = "kernel.so"


def build_arguments(options: tuple[str, ...], units: list[str]) -> list[str]:
    """The compiler's arguments, after its name: what ``avo export --torch`` writes down too."""
    return [*FLAGS, *options, "-o", LIBRARY, *units, "-lm"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


class CToolchain:
    name = "c"
    source_suffixes: tuple[str, ...] = (".c", ".h")

    def __init__(self, cache: CompileCache | None = None, timeout_s: float = 120.0) -> None:
        self.compiler = shlex.split(os.environ.get("CC", "cc"))
        self.cache = cache or CompileCache()
        self.timeout_s = timeout_s

    @functools.cache  # noqa: B019 - one toolchain object per worker, cached for its lifetime
    def version(self) -> str:
        if shutil.which(self.compiler[0]) is None:
            raise ToolchainUnavailable(
                f"no C compiler: {self.compiler[0]!r} is not on PATH "
                "(install gcc or clang, or set CC)"
            )
        out = subprocess.run(
            [*self.compiler, "--version"], capture_output=True, text=True, check=False
        )
        # -march=native makes the build depend on this CPU, so the CPU is part of the version.
        return f"{out.stdout.splitlines()[0] if out.stdout else self.compiler[0]} | {cpu_model()}"

    def compile(self, sources: Sources, options: tuple[str, ...] = ()) -> CompileResult:
        key, cached = self.cache.find(self, sources, options)
        if cached is not None:
            return cached
        with tempfile.TemporaryDirectory(prefix="avo-cc-") as build:
            build_dir = Path(build)
            for name, text in sources.items():
                (build_dir / name).write_text(text)
            units = [name for name in sources if name.endswith(".c")]
            if not units:
                return CompileResult(False, None, "no .c file among the sources")
            command = [*self.compiler, *build_arguments(options, units)]
            start = time.perf_counter()
            try:
                done = subprocess.run(
                    command,
                    cwd=build_dir,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout_s,
                    env=dict(os.environ, LC_ALL="C"),  # plain ASCII quotes in messages
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return CompileResult(
                    False, None, f"the compiler ran past {self.timeout_s:.0f} s and was stopped"
                )
            seconds = time.perf_counter() - start
            log = f"$ {shlex.join(command)}\n{done.stdout}{done.stderr}"
            ok = done.returncode == 0
            result = CompileResult(
                ok,
                build_dir / LIBRARY if ok else None,
                log,
                parse_gcc_style(done.stderr, set(sources)),
                seconds,
            )
            return self.cache.store(key, result)
