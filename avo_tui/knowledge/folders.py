"""Which folders make up the knowledge base: the project's own, then the user's.

The user's come from the settings file (``[knowledge] folders = ["~/notes"]``, relative paths
from the file's own folder) and from ``--knowledge DIR`` flags.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .._data import KNOWLEDGE, data_folder, missing
from ..settings_file import read_table, settings_path
from .index import KnowledgeError

KNOWLEDGE_ENV = "AVO_KNOWLEDGE_DIR"


def default_folders() -> list[Path]:
    """$AVO_KNOWLEDGE_DIR, else the knowledge base installed with avo-tui (knowledge/ of the
    checkout when run from one). A missing one is an error: an empty knowledge base would look
    like one that knows nothing about the question."""
    if os.environ.get(KNOWLEDGE_ENV):
        return [_checked(Path(os.environ[KNOWLEDGE_ENV]).expanduser(), f"${KNOWLEDGE_ENV}")]
    folder = data_folder(KNOWLEDGE)
    if folder is None:
        raise KnowledgeError(f"{missing(KNOWLEDGE)}; reinstall avo-tui, or set {KNOWLEDGE_ENV} "
                             "to a folder of notes")
    return [folder]


def settings_folders() -> list[Path]:
    """The ``folders`` list of the settings file's ``[knowledge]`` table, checked."""
    table = read_table("knowledge")
    unknown = sorted(set(table) - {"folders"})
    if unknown:
        raise KnowledgeError(f"{settings_path()}: unknown [knowledge] setting(s) "
                             f"{', '.join(unknown)} (known: folders)")
    listed = table.get("folders", [])
    if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
        raise KnowledgeError(f"{settings_path()}: [knowledge] folders must be a list of paths")
    base = settings_path().parent
    return [_checked(base / Path(f).expanduser(), f"in {settings_path()}") for f in listed]


def flag_folders(paths: Iterable[str | Path]) -> list[Path]:
    """Folders given with ``--knowledge``, checked and made absolute."""
    return [_checked(Path(f).expanduser(), "given with --knowledge") for f in paths]


def configured_folders(extra: Iterable[str | Path] = ()) -> list[Path]:
    """Everything the knowledge base reads, each once: the project's folder, the settings
    file's folders, then ``extra``."""
    return list(dict.fromkeys(default_folders() + settings_folders() + flag_folders(extra)))


def _checked(folder: Path, origin: str) -> Path:
    folder = folder.resolve()
    if not folder.is_dir():
        raise KnowledgeError(f"the knowledge folder {folder} ({origin}) is not a folder")
    return folder
