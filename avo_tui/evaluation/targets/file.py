"""Loading a target file (target_api.py): a user's target, named by its path wherever a shipped
target is named by its name (get_target, here), in the parent and in the worker alike; and a
shipped target file, found and named by its target's name (targets.shipped_file).

A file declares ``target = Target(...)`` (a problem of its own, in Python functions), or
``target = TargetSpec(...)`` on a problem built into the evaluator (the attention targets:
``problem=ATTENTION``, their seeds named in the shipped kernels folder, every field stated).
A TargetSpec is taken as it is, its source aside.

The file is read once, hashed, and run from those very bytes, so the hash a session keeps
(TargetSource.sha256) is the hash of the code that ran. A process loads a file again only when
its bytes change. Every way a file can fail to load is one line (targets.TargetFileUnusable):
missing, not Python, raising as it runs, declaring no target or a wrong one, its seed absent.
"""

from __future__ import annotations

import hashlib
import sys
import traceback
import types
from dataclasses import replace
from pathlib import Path

from .api import Target, TargetFileError, missing_fields
from .declared import DeclaredProblem, check_work, spec_of
from .spec import (
    IN_PROCESS,
    TargetFileUnusable,
    TargetSource,
    TargetSpec,
    UnknownTarget,
    is_target_file,
    shipped_file,
)

MODULE_PREFIX = "avo_target_"  # of the module a target file runs as, named by its bytes' hash
# By ref (a shipped target's name, a user's file's absolute path), for the bytes hashed in its
# source: a process loads a file again only when they change.
_loaded: dict[str, TargetSpec] = {}


def resolve(ref: str) -> str:
    """The absolute path a target file is known by."""
    return str(Path(ref).expanduser().resolve())


def load(ref: str, shipped: str | None = None) -> TargetSpec:
    """The target the file at ``ref`` declares (cached while its bytes stay the same).
    ``shipped``: the name a shipped file was found by, which it must declare, and which its
    target is then named by (TargetSpec.ref)."""
    path = resolve(ref)
    data = _read(path)
    sha256 = hashlib.sha256(data).hexdigest()
    key = shipped or path
    cached = _loaded.get(key)
    if cached is not None and cached.source is not None and cached.source.sha256 == sha256:
        return cached
    target, about = _run(path, data, sha256)
    if shipped is not None and target.name != shipped:
        raise TargetFileUnusable(path, f"declares the target {target.name!r}, not {shipped!r}, "
                                       "the name it is found by (a shipped target's file is "
                                       "its name with _ for -)")
    source = TargetSource(path, sha256, shipped is not None)
    if isinstance(target, TargetSpec):  # on a built-in problem: as the file states it
        _loaded[key] = replace(target, source=source)
        return _loaded[key]
    seed = None if target.seed is None else (Path(path).parent / target.seed).resolve()
    if seed is not None and not seed.is_file():
        raise TargetFileUnusable(path, f"its seed kernel {target.seed} is not at {seed}")
    spec = spec_of(target, source, None if seed is None else str(seed), about,
                   reload=problem_of)
    try:
        check_work(spec, target)
    except TargetFileError as error:
        raise TargetFileUnusable(path, str(error)) from None
    _loaded[key] = spec
    return spec


def declared_target(ref: str) -> Target:
    """The Target the target file ``ref`` declares (a shipped target's name, or a path from the
    current folder), loaded as get_target loads it: for a target file built on another,
    ``target = dataclasses.replace(declared_target("rmsnorm"), name=..., ...)``. A file built
    so is hashed alone: a session on it does not see the other file change."""
    problem = get_target(ref).problem
    if not isinstance(problem, DeclaredProblem):
        raise TargetFileError(f"target {ref} is a TargetSpec on a problem built into the "
                              f"evaluator, not a Target: build on it with get_target({ref!r})")
    return problem.target


def sha256_of(ref: str) -> str:
    """The sha256 of the file's bytes now (a session compares it with the one it kept)."""
    return hashlib.sha256(_read(resolve(ref))).hexdigest()


def problem_of(ref: str) -> DeclaredProblem:
    """The problem of the target file ``ref`` names (TargetSpec.ref: a shipped target's name,
    a user's file's path): how a configuration of a target file is unpickled
    (DeclaredProblem.__reduce__), in whichever process it arrives."""
    spec = _loaded.get(ref) or get_target(ref)
    problem = spec.problem
    assert isinstance(problem, DeclaredProblem)
    return problem


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise TargetFileUnusable(path, "no such file") from None
    except IsADirectoryError:
        raise TargetFileUnusable(path, "is a folder, not a Python file") from None
    except OSError as error:
        raise TargetFileUnusable(path, error.strerror or str(error)) from None


def _run(path: str, data: bytes, sha256: str) -> tuple[Target | TargetSpec, str]:
    """Run the file's bytes as a module of its own: its ``target``, and its docstring."""
    try:
        code = compile(data, path, "exec")
    except SyntaxError as error:
        raise TargetFileUnusable(path, f"line {error.lineno}: SyntaxError: {error.msg}") from None
    except ValueError as error:  # null bytes
        raise TargetFileUnusable(path, f"is not Python source ({error})") from None
    name = f"{MODULE_PREFIX}{sha256[:16]}"
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module  # dataclasses of the file look their module up there
    try:
        exec(code, module.__dict__)
    except TargetFileError as error:
        raise TargetFileUnusable(path, str(error)) from None
    except Exception as error:  # the user's code: where it failed, in one line
        lacking = missing_fields(error) if isinstance(error, TypeError) else None
        raise TargetFileUnusable(path, _line_in(path, error) + (
            lacking or f"{type(error).__name__}: {error}")) from None
    target = module.__dict__.get("target")
    if target is None:
        raise TargetFileUnusable(path, "defines no target (target = Target(...), from "
                                       "avo_tui.evaluation)")
    if not isinstance(target, Target | TargetSpec):
        raise TargetFileUnusable(path, f"its target is a {type(target).__name__}, not a "
                                       "Target (from avo_tui.evaluation)")
    return target, module.__doc__ or ""


def _line_in(path: str, error: BaseException) -> str:
    """``line N: `` of the last frame of ``error`` in the file at ``path``; "" if none."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    return f"line {frames[-1].lineno}: " if frames else ""


def raised_in_target_file(error: BaseException, where: str | None) -> str | None:
    """Where ``error`` came out of a target file's code (a function the file declares, or what
    it calls: a KernelBench problem's forward), in one line: the file's function, its line,
    the configuration it ran on (``where``), the error; None where no target file's code was
    running (the harness's own failure)."""
    frames = [(frame, line) for frame, line in traceback.walk_tb(error.__traceback__)
              if str(frame.f_globals.get("__name__", "")).startswith(MODULE_PREFIX)]
    if not frames:
        return None
    frame, line = frames[-1]
    text = str(error).strip()
    return (f"the target file's {frame.f_code.co_name} (line {line} of "
            f"{frame.f_code.co_filename}) raised {type(error).__name__}"
            + (f" on {where}" if where else "") + (f": {text.splitlines()[0]}" if text else ""))


def get_target(ref: str) -> TargetSpec:
    """The shipped target named ``ref``, or the target file at path ``ref`` (or a target made
    in this process, targets.IN_PROCESS); a file is loaded once per process while its bytes
    stay the same."""
    if ref in IN_PROCESS:
        return IN_PROCESS[ref]
    shipped = None if is_target_file(ref) else shipped_file(ref)
    if shipped is None and not is_target_file(ref):
        raise UnknownTarget(ref)
    return load(str(shipped or ref), shipped=ref if shipped else None)
