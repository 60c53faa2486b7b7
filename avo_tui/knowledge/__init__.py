"""The knowledge base the agent consults: markdown notes, chunked at headings, ranked by BM25.

The project's own notes live in knowledge/ at the top of the repository; users add folders of
their own (settings file or ``--knowledge``). Imports nothing of avo_tui but the settings file.
"""

from .folders import configured_folders, default_folders, flag_folders
from .index import Hit, KnowledgeBase, KnowledgeError, Section

__all__ = [
    "Hit",
    "KnowledgeBase",
    "KnowledgeError",
    "Section",
    "configured_folders",
    "default_folders",
    "flag_folders",
]
