"""A C kernel built as the evaluator builds it and called through ctypes.

The build is the evaluator's command, word for word (spec.json's ``build.command``: the same
flags, -O3 -march=native -fopenmp included, and the target's defines), run at first use with
the system compiler ($CC, else cc); the library is cached on disk under a key of the sources,
the command, the compiler's version and this CPU (-march=native builds for the CPU it runs on),
written whole under a temporary name and renamed into place.

ctypes, not a torch C++ extension: the library is the very artifact the evaluator scored
(a C file built by a C compiler, no C++ wrapper, no torch headers, no ninja), it builds in a
second where an extension takes a minute, and it does not depend on torch's ABI. The cost is
a foreign call of a few microseconds, against kernels of a millisecond and more.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

LIBRARY = "kernel.so"
C_TYPES: dict[str, type[ctypes._SimpleCData[Any]]] = {
    "input": ctypes.c_void_p, "output": ctypes.c_void_p, "int": ctypes.c_int,
    "float": ctypes.c_float,
}


class BuildFailed(RuntimeError):
    """The kernel did not compile here: the compiler's words."""


def cache_root(name: str) -> Path:
    """Where built kernels are kept: $<NAME>_CACHE, else $XDG_CACHE_HOME/<name>, else
    ~/.cache/<name>."""
    explicit = os.environ.get(f"{name.upper()}_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / name


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def compiler() -> list[str]:
    return shlex.split(os.environ.get("CC", "cc"))


def build(spec: Mapping[str, Any], kernel_dir: Path) -> Path:
    """The kernel's shared library, built at first use and cached on disk."""
    cc = compiler()
    if shutil.which(cc[0]) is None:
        raise BuildFailed(f"no C compiler: {cc[0]!r} is not on PATH (install gcc, or set CC)")
    version = subprocess.run([*cc, "--version"], capture_output=True, text=True, check=False)
    sources = {name: (kernel_dir / name).read_text() for name in spec["sources"]}
    key = hashlib.sha256(json.dumps(
        [spec["build"]["command"], sorted(sources.items()), version.stdout, _cpu()]
    ).encode()).hexdigest()
    entry = cache_root(spec["name"]) / f"{key[:32]}.so"
    if entry.is_file():
        return entry
    entry.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{spec['name']}-cc-") as folder:
        build_dir = Path(folder)
        for name, text in sources.items():
            (build_dir / name).write_text(text)
        command = [*cc, *spec["build"]["command"]]
        done = subprocess.run(command, cwd=build_dir, capture_output=True, text=True,
                              env=dict(os.environ, LC_ALL="C"), check=False)
        if done.returncode != 0:
            raise BuildFailed(f"$ {shlex.join(command)}\n{done.stdout}{done.stderr}")
        fd, temporary = tempfile.mkstemp(prefix=".so-", dir=entry.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write((build_dir / LIBRARY).read_bytes())
        os.replace(temporary, entry)
    return entry


class HostKernel:
    """The entry point of the built library, its parameters typed as the evaluator passes
    them: a tensor's address, a 32-bit int, a 32-bit float."""

    def __init__(self, spec: Mapping[str, Any], kernel_dir: Path) -> None:
        self.library = ctypes.CDLL(str(build(spec, kernel_dir)), mode=os.RTLD_LOCAL)
        self.function = getattr(self.library, spec["entry"])
        self.function.argtypes = [C_TYPES[p["kind"]] for p in spec["params"]]
        self.function.restype = None

    def launch(self, named: Mapping[str, object], dims: Mapping[str, int],
               values: Sequence[tuple[str, Any]]) -> None:
        self.function(*(value for _, value in values))
