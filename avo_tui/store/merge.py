"""A three-way merge of kernel files, line by line: a lane's change (from the version its step
began on to its workspace) carried onto the version that overtook it (a rebase, docs/engine.md
"Lanes"). A change to lines the other side left alone is applied; a change the other side made
too, the same, is already there; any other overlap is a conflict, and that file is left as the
other side has it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

Hunk = tuple[int, int, list[str]]  # base lines [start, end) become these lines


@dataclass(frozen=True)
class Merged:
    files: dict[str, str]
    conflicts: list[str]  # the files whose change could not be carried over


def merge_files(base: dict[str, str], mine: dict[str, str], theirs: dict[str, str]) -> Merged:
    """``mine``'s change from ``base`` applied to ``theirs``, file by file."""
    files, conflicts = {}, []
    for name in sorted({*base, *mine, *theirs}):
        merged = merge_text(base.get(name), mine.get(name), theirs.get(name))
        if merged is None:
            conflicts.append(name)
            merged = theirs.get(name)
        if merged is not None:
            files[name] = merged
    return Merged(files, conflicts)


def merge_text(base: str | None, mine: str | None, theirs: str | None) -> str | None:
    """One file (None: absent); None also where the two changes conflict, and then only
    ``theirs`` or ``mine`` being absent tells the cases apart (see merge_files)."""
    if mine in (base, theirs):
        return theirs
    if theirs == base:
        return mine
    if base is None or mine is None or theirs is None:
        return None  # added on both sides, or changed on one and removed on the other
    old, new, other = (t.splitlines(keepends=True) for t in (base, mine, theirs))
    mine_hunks, their_hunks = hunks(old, new), hunks(old, other)
    already = {(start, end): lines for start, end, lines in their_hunks}
    where = kept_lines(old, other)
    edits = []
    for start, end, lines in mine_hunks:
        if already.get((start, end)) == lines:
            continue  # the other side made the very same change
        place = placed(start, end, where, len(old), len(other))
        if place is None:
            return None
        edits.append((*place, lines))
    out = list(other)
    for first, last, lines in sorted(edits, reverse=True):
        out[first:last] = lines
    return "".join(out)


def hunks(old: list[str], new: list[str]) -> list[Hunk]:
    """The changes from ``old`` to ``new``; a replacement of as many lines as it replaces is
    split line by line, so that two sides changing neighbouring lines do not conflict."""
    found: list[Hunk] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            found.extend((i1 + k, i1 + k + 1, [new[j1 + k]]) for k in range(i2 - i1))
        else:
            found.append((i1, i2, new[j1:j2]))
    return found


def kept_lines(old: list[str], other: list[str]) -> dict[int, int]:
    """Where each line of ``old`` that ``other`` kept stands in ``other``."""
    where: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, old, other, autojunk=False)
    for i, j, size in matcher.get_matching_blocks():
        where.update({i + k: j + k for k in range(size)})
    return where


def placed(start: int, end: int, where: dict[int, int], old_size: int,
           other_size: int) -> tuple[int, int] | None:
    """The lines of ``other`` that base lines [start, end) became, where ``other`` kept them
    all, in one piece, and kept the lines either side of an insertion; else None."""
    if start == end:  # an insertion before base line ``start``
        before = -1 if start == 0 else where.get(start - 1)
        after = other_size if start == old_size else where.get(start)
        if before is None or after is None or after != before + 1:
            return None
        return after, after
    spots = [where.get(i) for i in range(start, end)]
    if any(s is None for s in spots):
        return None
    first = spots[0]
    assert first is not None
    if spots != list(range(first, first + len(spots))):
        return None
    return first, first + len(spots)
