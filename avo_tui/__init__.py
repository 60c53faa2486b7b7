"""avo-tui: supervised agentic evolution of GPU kernels, in the terminal."""

from __future__ import annotations

DISTRIBUTION = "avo-tui"


def __getattr__(name: str) -> str:
    # Looked up on first use, not on import: every evaluation worker imports this package.
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _version() -> str:
    """The installed distribution's version; from a checkout on PYTHONPATH, its pyproject's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"
