"""How long ago something was, in the few words every listing uses (the inbox's commands,
``avo sessions list``). A module of its own: a listing that needs only this does not import
the inbox and the payloads behind it."""

from __future__ import annotations


def age(seconds: float) -> str:
    """How long ago, roughly: '40 s', '12 min', '3 h', '2 d'."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(0.0, seconds):.0f} s"
