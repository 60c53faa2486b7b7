"""The diffs the pane has shown, so that a version the cursor comes back to shows at once.

A version's diff against another never changes (versions are never edited), so a diff read
once is kept by what it is of and against: the version, the mode, and the version the mode
named then (parent, best or head). A key in the lineage that finds it here sets the pane on
the spot, with no read on a worker thread: none to wait for behind the poll's lock, and no
difflib competing with the event loop for the GIL (benchmarks/tui_scale.py, keys under a
stream). A new best or head names another version, so a stale entry is never found.
"""

from __future__ import annotations

from collections import OrderedDict

from .reading import DiffRead
from .widgets.diff import DiffContent

KEPT = 256  # diffs kept; a few hundred keys of browsing

DiffOf = tuple[str, str, str]  # (version, mode, the version it is against)


class DiffCache:
    def __init__(self) -> None:
        self._diffs: OrderedDict[DiffOf, DiffContent] = OrderedDict()

    def get(self, vid: str, mode: str, against: str | None) -> DiffContent | None:
        if against is None:
            return None
        shown = self._diffs.get((vid, mode, against))
        if shown is not None:
            self._diffs.move_to_end((vid, mode, against))
        return shown

    def keep(self, read: DiffRead, shown: DiffContent) -> None:
        """Keep ``shown``, the pane's content for ``read``, a version's diff."""
        vid, mode = read.key
        if read.against is None or not isinstance(vid, str) or mode == "candidate":
            return
        self._diffs[(vid, mode, read.against)] = shown
        self._diffs.move_to_end((vid, mode, read.against))
        while len(self._diffs) > KEPT:
            self._diffs.popitem(last=False)
