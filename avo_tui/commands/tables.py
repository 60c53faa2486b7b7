"""How the commands list things: the console they print on, the figures in their cells, and
listings that fit the terminal: every column keeps its full width but one, which gets the
room left and is cut with an ellipsis; where even that does not fit, the columns named
droppable go first. At 80 columns a name cut to ``cpu-attent…`` is no use; a long status or
detail loses only its end."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Sequence
from typing import Literal

from rich.console import Console
from rich.table import Table

PIPED_WIDTH = 240  # a listing written to a file or a pipe: no terminal's width to fit


def listing_console() -> Console:
    """The console a listing prints on: no guessed highlighting, and a row that is wider than
    the terminal is cut by its table rather than wrapped. Written to a file or a pipe (and no
    COLUMNS set), a listing is not cut at 80 columns: ``avo eval ... > log`` kept
    ``2.02e-…`` and ``pa…`` where the figures and the verdict were."""
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(highlight=False, soft_wrap=False, width=PIPED_WIDTH if piped else None)


def figure(value: float | None, unit: str | None = None, digits: str = ".4g") -> str:
    """A measured figure as every listing shows it: four significant digits (or ``digits``),
    then its unit if one is given; '-' for none."""
    if value is None:
        return "-"
    text = format(value, digits)
    return text if unit is None else f"{text} {unit}"


def times(ratio: float | None) -> str:
    """A ratio to a baseline, ``1.234x``; '-' for none."""
    return "-" if ratio is None else f"{ratio:.3f}x"


class FittedTable:
    """A borderless table of ``header``'s columns, sized for ``rows`` (their plain text), its
    ``flexible`` column given at least ``least`` cells; add the rows, marked up as you like,
    with every column's cell: a dropped column's is skipped."""

    def __init__(
        self,
        console: Console,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        flexible: str,
        right: Collection[str] = (),
        droppable: Sequence[str] = (),
        least: int = 12,
    ) -> None:
        widths = {name: max(len(name), *(len(row[i]) for row in rows))
                  for i, name in enumerate(header)}
        kept = list(header)
        for name in [None, *droppable]:
            if name is not None:
                kept.remove(name)
            fixed = sum(widths[k] for k in kept if k != flexible) + len(kept) - 1
            if console.width - fixed >= least:
                break
        self._kept = [header.index(k) for k in kept]
        self.table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
        for name in kept:
            justify: Literal["left", "right"] = "right" if name in right else "left"
            if name == flexible:
                self.table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis",
                                      max_width=max(least, console.width - fixed))
            else:
                self.table.add_column(name, justify=justify, no_wrap=True,
                                      min_width=widths[name])

    def add_row(self, *cells: str) -> None:
        self.table.add_row(*(cells[i] for i in self._kept))
