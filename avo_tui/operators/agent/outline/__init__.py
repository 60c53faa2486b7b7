"""An outline of a CUDA C++ or C source: its top-level pieces with 1-based line ranges, so the
agent can ``view`` the range it needs instead of the whole file.

One pass over tokens (comments, strings, character literals and preprocessor lines are whole
tokens, so the braces inside them never count) follows namespaces, ``extern "C"`` blocks and long
structs, and skips over function bodies by counting braces (inside an ``#if``, the braces of one
branch). It is a heuristic, not a parser: on malformed text (unbalanced braces, unterminated
comments or strings) a range may be off, but it always ends, in time linear in the text, and
says at most ``MAX_ENTRIES`` lines. Standard library only.
"""

from __future__ import annotations

from .names import clean
from .pieces import WIDTH
from .render import bound, render_pieces
from .scanner import MAX_CHARS, Scanner

__all__ = ["MAX_ENTRIES", "outline"]

MAX_ENTRIES = 60  # lines under the header


def outline(name: str, text: str) -> str:
    """``NAME (N lines)``, then one line per top-level piece: its line range and what it is."""
    lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    header = f"{clean(name, WIDTH)} ({lines} line{'' if lines == 1 else 's'})"
    scanner = Scanner(text[:MAX_CHARS])
    pieces = scanner.run()
    if len(text) > MAX_CHARS and scanner.stopped is None:
        scanner.stopped = f"after {MAX_CHARS} characters"
    rows = render_pieces(bound(pieces, MAX_ENTRIES - (scanner.stopped is not None)))
    if scanner.stopped is not None:
        rows.append(f"  (the outline stops at line {scanner.last_line}, {scanner.stopped})")
    if not rows:
        rows.append("  (no top-level declarations found)")
    return "\n".join([header, *rows])
