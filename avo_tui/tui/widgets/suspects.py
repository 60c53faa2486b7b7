"""The suspects banner: results held for the operator's review, shown until they decide."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import var
from textual.widgets import Static

from ...store import Suspect


def banner_text(suspects: tuple[Suspect, ...]) -> Text:
    """One line: how many, the oldest ones with their scores, and the key that reviews them."""
    count = len(suspects)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f" ⚠ {count} suspect{'s' if count > 1 else ''} held: ", style="bold")
    text.append(", ".join(f"{s.attempt} {s.gmean:.4g} {s.unit}" for s in suspects[:3]))
    if count > 3:
        text.append(" …")
    text.append("  (a to review) ", style="bold")
    return text


class SuspectBanner(Static):
    """Hidden while no suspect is pending; a highlighted line above the status bar otherwise."""

    DEFAULT_CSS = """
    SuspectBanner { height: 1; background: $warning; color: $text; display: none; }
    SuspectBanner.-pending { display: block; }
    """

    suspects: var[tuple[Suspect, ...]] = var(())  # bound to the app's; updated on a change

    def watch_suspects(self, suspects: tuple[Suspect, ...]) -> None:
        self.set_class(bool(suspects), "-pending")
        self.update(banner_text(suspects) if suspects else "")  # lays the screen out again
