"""Import circles between the modules of avo_tui/, with the imports a static graph misses.

import-linter's acyclic_siblings contract sees ``import`` statements only. A module can still
import another that imports it back by name, through ``importlib.import_module`` (issue 56 found
evaluation/targets/spec.py -> target_file.py that way). This reads every module's imports, in
functions too, plus each ``import_module`` whose target is written in the call, and names
every pair of modules that reach each other. A package's ``__init__`` is left out: it
re-exports its children, and a child importing its own package is not a circle of two jobs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def module_name(path: Path, import_root: Path) -> str:
    parts = list(path.relative_to(import_root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _dynamic_target(call: ast.Call, module: str, is_package: bool) -> str | None:
    """The module an ``import_module`` call names: ".x" with __package__, or f"{__package__}.x"."""
    if getattr(call.func, "attr", getattr(call.func, "id", "")) != "import_module":
        return None
    if not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        text = first.value
        return _absolute(module, is_package, 1, text[1:]) if text.startswith(".") else text
    if isinstance(first, ast.JoinedStr) and len(first.values) == 2:
        head, tail = first.values
        if (isinstance(head, ast.FormattedValue) and isinstance(head.value, ast.Name)
                and head.value.id in ("__package__", "__name__")
                and isinstance(tail, ast.Constant) and isinstance(tail.value, str)):
            own = module if is_package or head.value.id == "__name__" else module.rsplit(".", 1)[0]
            return own + tail.value
    return None


def imports_of(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports, anywhere in it, as absolute names."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = (_absolute(module, is_package, node.level, node.module) if node.level
                      else node.module or "")
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            dynamic = _dynamic_target(node, module, is_package)
            if dynamic:
                found.add(dynamic)
    return found


def circles(root: Path, import_root: Path | None = None) -> Iterator[tuple[str, str]]:
    """Each pair (a, b), a < b, of non-package modules under ``root`` where a imports b and b
    reaches a back. Modules are named from ``import_root``, the folder on sys.path they are
    imported from: by default the one above ``root`` (a package); for scripts, their own folder,
    which Python puts on sys.path when it runs one."""
    base = root.parent if import_root is None else import_root
    paths = {module_name(path, base): path for path in root.rglob("*.py")}
    packages = {name for name, path in paths.items() if path.name == "__init__.py"}
    edges = {name: {other for other in imports_of(path, name)
                    if other in paths and other not in packages and other != name}
             for name, path in paths.items() if name not in packages}

    def reached_from(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for other in edges[todo.pop()]:
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    for name in sorted(edges):
        for other in sorted(edges[name]):
            if name < other and name in reached_from(other):
                yield name, other
