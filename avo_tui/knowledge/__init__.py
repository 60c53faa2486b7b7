"""The knowledge base the agent consults: markdown notes, chunked at headings, ranked by BM25.

The project's own notes live in knowledge/ at the top of the repository; users add folders of
their own (settings file or ``--knowledge``). Each file may declare the GPU architectures it is
about (``<!-- avo:applies-to hopper -->``); ``applies_to`` matches that against a target's.
Imports nothing of avo_tui but the settings file and the shipped data (avo_tui._data).
"""

from .applies import TAGS, applies_to, label
from .folders import configured_folders, default_folders, flag_folders
from .index import FileOutline, Hit, KnowledgeBase, KnowledgeError, Section

__all__ = [
    "TAGS",
    "FileOutline",
    "Hit",
    "KnowledgeBase",
    "KnowledgeError",
    "Section",
    "applies_to",
    "configured_folders",
    "default_folders",
    "flag_folders",
    "label",
]
