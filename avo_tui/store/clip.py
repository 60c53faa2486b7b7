"""Cutting text to a length without cutting a word or a number in two.

The store keeps an event's text whole: the number that explains a verdict comes last ("... not
above the bar of +0.17%"), and a cut at a fixed length used to fall inside it. Only a runaway
text is cut, at :data:`EVENT_TEXT_CHARS`: the events table lives in segments of 1024 events,
each rewritten on every append to it, so one megabyte-long commit message or pasted compiler
log would slow every later append to its segment. Ordinary texts (a verdict, a plan, a
lesson) are a few hundred characters, a hundred times under the cap. Where a view wants one
short line (a tool call in the output pane), it cuts with :func:`clip` too, and the whole
text stays where it came from (the transcript, the attempt, the version).
"""

from __future__ import annotations

import re

EVENT_TEXT_CHARS = 20_000
ELLIPSIS = " …"
_NUMBER = frozenset("0123456789.,%+-±")
_SPACE = re.compile(r"\s")


def clip(text: str, limit: int) -> str:
    """``text`` whole if it has at most ``limit`` characters; else its start, cut at a space
    and ended with " …", at most ``limit`` characters in all. With no space in the second half
    of the room (a long path or hash), it is cut inside the word, but never inside a number
    (``+0.17%`` is kept whole or left out whole)."""
    if len(text) <= limit:
        return text
    room = max(1, limit - len(ELLIPSIS))
    spaces = [m.start() for m in _SPACE.finditer(text, room // 2, room + 1)]
    if spaces:  # a figure and its error ("+16.85% ± 4.96%") go together
        return text[:spaces[-1]].rstrip().removesuffix("±").rstrip() + ELLIPSIS
    end = room
    while end > 0 and text[end - 1] in _NUMBER and text[end] in _NUMBER:
        end -= 1
    return (text[:end] or text[:room]).rstrip() + ELLIPSIS


def sentence(text: str) -> str:
    """``text`` ended by one full stop, for a message that goes on after it: a server's own
    message often ends with one already ("API key is invalid." + ". To go on" read "invalid..")."""
    return text.rstrip().rstrip(".").rstrip() + "."
