"""Where each version sits in the report's drawing of the lineage: across, in the order it was
committed (its number); down, its branch. The line the search went on along (first children,
as the app's lineage pane shows it flat) is row 0; every side branch (a rollback, then a
commit from the version rolled back to) takes the next free row, so branches never cross a
version and a week of 500 versions stays a readable picture, not a nest."""

from __future__ import annotations

from collections.abc import Sequence

from ..store import Version


def rows(versions: Sequence[Version]) -> dict[str, int]:
    """{version id: row}; versions in commit order, each parent before its children."""
    children: dict[str, list[str]] = {}
    for version in versions:
        if version.parent is not None:
            children.setdefault(version.parent, []).append(version.id)
    row: dict[str, int] = {}
    next_row = 0
    # Depth first, without recursion (a line of thousands of versions): a version's first
    # child continues its row, each later child opens a row of its own.
    stack: list[tuple[str, int | None]] = [(v.id, None) for v in reversed(versions)
                                           if v.parent is None]
    while stack:
        vid, given = stack.pop()
        if given is None:
            given, next_row = next_row, next_row + 1
        row[vid] = given
        kids = children.get(vid, [])
        # pushed last-first, so the first child (the main line) is laid out first
        stack.extend((kid, None) for kid in reversed(kids[1:]))
        if kids:
            stack.append((kids[0], given))
    return row


def branch_points(versions: Sequence[Version]) -> set[str]:
    """The versions the lineage forks at: more than one child."""
    seen: set[str] = set()
    forks: set[str] = set()
    for version in versions:
        if version.parent is not None:
            (forks if version.parent in seen else seen).add(version.parent)
    return forks
