"""The knowledge base the agent consults: markdown notes, chunked at headings, ranked by BM25.

The project's own notes live in knowledge/ at the top of the repository; users add folders of
their own. Nothing here imports the rest of avo_tui.
"""

from .index import Hit, KnowledgeBase, KnowledgeError, Section, default_folders

__all__ = ["Hit", "KnowledgeBase", "KnowledgeError", "Section", "default_folders"]
