"""The scripts' text tables: a missing figure's cell, and rows set out in columns."""

from __future__ import annotations

from collections.abc import Sequence


def cell(value: float | None, fmt: str) -> str:
    """``value`` in ``fmt``, or "-" where there is none."""
    return "-" if value is None else format(value, fmt)


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """``rows`` as lines, each column as wide as its widest cell: the first (the rows' labels)
    to the left, the figures to the right, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(text.ljust(width) if i == 0 else text.rjust(width)
                      for i, (text, width) in enumerate(zip(row, widths, strict=True)))
            for row in rows]


def fixed(widths: Sequence[int], rows: Sequence[Sequence[object]]) -> list[str]:
    """``rows`` (the head among them) as lines of right-aligned cells of the given widths, one
    space apart; a longer cell pushes the rest of its line to the right."""
    return [" ".join(str(text).rjust(width) for text, width in zip(row, widths, strict=True))
            for row in rows]
