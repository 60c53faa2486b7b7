"""Listings written to a file or a pipe keep every cell whole; on a terminal (or with COLUMNS
set) they fit its width, as before."""

from __future__ import annotations

import pytest
from rich.table import Table

from avo_tui.commands.tables import listing_console

ROW = ("b1-h16-s1540-d128-causal (edge)", "612.4", "571.9", "1.071x", "2.02e-03", "7.63e-03",
       "pass", "the flexible detail that a terminal of 80 columns would have to cut short")


def printed(capsys: pytest.CaptureFixture[str]) -> str:
    table = Table(box=None)
    for index, _ in enumerate(ROW):
        table.add_column(str(index), no_wrap=True)
    table.add_row(*ROW)
    listing_console().print(table)
    return capsys.readouterr().out


def test_a_listing_written_to_a_pipe_is_not_cut(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = printed(capsys)
    assert all(cell in out for cell in ROW) and "…" not in out


def test_columns_set_still_fits_the_listing_to_them(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = printed(capsys)
    assert "…" in out and max(len(line) for line in out.splitlines()) <= 80
