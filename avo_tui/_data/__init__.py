"""The data avo-tui ships beside its code: the seed kernels, the knowledge base and the shipped
target files.

The repository keeps them at its top, as ``kernels/``, ``knowledge/`` and ``targets/``; a wheel
carries them as package data of this package (``avo_tui/_data/kernels``, ``.../knowledge``,
``.../targets``: the ``package-dir`` mapping in pyproject.toml). A shipped target file names its
seed relative to itself (``../kernels/cuda/rmsnorm.cu``), which holds in both layouts. An
installed package finds its copy through ``importlib.resources``; a checkout run in place (an
editable install, or ``PYTHONPATH`` set to it, as the GPU machines run it) has no copy and
reads the top-level folder instead.

Imports nothing of avo_tui, so every layer may ask it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

KERNELS = "kernels"
KNOWLEDGE = "knowledge"
TARGETS = "targets"


def searched(kind: str) -> list[Path]:
    """Where the ``kind`` folder may be, in the order they are tried."""
    places = []
    packaged = files(__name__).joinpath(kind)
    if isinstance(packaged, Path):  # a zipped install has no folder to hand to a compiler
        places.append(packaged)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        places.append(checkout / kind)
    return places


def data_folder(kind: str) -> Path | None:
    """The shipped ``kind`` folder (``KERNELS``, ``KNOWLEDGE`` or ``TARGETS``), or None if it is
    missing."""
    return next((place for place in searched(kind) if place.is_dir()), None)


def missing(kind: str) -> str:
    """The sentence saying that the ``kind`` folder was looked for and not found."""
    looked = " or ".join(str(place) for place in searched(kind)) or "nowhere it can be read"
    return f"the {kind} folder that comes with avo-tui is missing (looked in {looked})"
