"""Bounding and printing an outline: small pieces folded until it fits its lines, then one
line per piece with its line range, nested pieces indented."""

from __future__ import annotations

from .names import clean
from .pieces import LISTS, MAX_NAMES, WIDTH, Piece

MAX_SHOWN_DEPTH = 4
# What may be folded into "N pieces: ..." when the outline is too long; the kernel's
# declarations (knobs, avo:) and the kernels themselves come last.
MINOR = frozenset({"define", "include", "preprocessor", "declarations", "function", "struct",
                   "macro", "calls", "other", "group"})


def count(pieces: list[Piece]) -> int:
    return sum(1 + count(p.children) for p in pieces)


def bound(pieces: list[Piece], limit: int) -> list[Piece]:
    """At most ``limit`` entries: runs of small pieces are folded, the size that counts as small
    growing until the outline fits; then containers fold their members; then the list is cut."""
    for small in (3, 5, 8, 12, 20, 30, 50, 80, 150, 400, None):
        if count(pieces) <= limit:
            return pieces
        pieces = fold(pieces, small, MINOR)
    for container in deepest_first(pieces):
        if count(pieces) <= limit:
            return pieces
        container.label += f" ({count(container.children)} pieces inside)"
        container.children = []
    if count(pieces) > limit:
        pieces = fold(pieces, None, MINOR | {"comment", "namespace"})
    if len(pieces) > limit:
        rest = pieces[limit - 1:]
        pieces = [*pieces[:limit - 1],
                  Piece(rest[0].start, rest[-1].end, "group", f"… {len(rest)} more pieces")]
    return pieces


def deepest_first(pieces: list[Piece]) -> list[Piece]:
    """Containers, inner ones before the ones holding them, the fuller first at each level."""
    nested = sorted((p for p in pieces if p.children), key=lambda p: -count(p.children))
    return [inner for p in nested for inner in deepest_first(p.children)] + nested


def fold(pieces: list[Piece], small: int | None, kinds: frozenset[str]) -> list[Piece]:
    """Runs of two or more pieces of ``kinds`` shorter than ``small`` lines become one."""
    folded: list[Piece] = []
    run: list[Piece] = []
    for piece in pieces:
        piece.children = fold(piece.children, small, kinds)
        if piece.kind in kinds and not piece.children and (
                small is None or piece.end - piece.start < small):
            run.append(piece)
            continue
        folded.extend(folded_run(run))
        run = []
        folded.append(piece)
    folded.extend(folded_run(run))
    return folded


def folded_run(run: list[Piece]) -> list[Piece]:
    if len(run) < 2:
        return run
    names = [n for p in run for n in (p.names or [p.name or p.kind])]
    hidden = sum(p.hidden for p in run) + max(0, len(names) - MAX_NAMES)
    functions = all(p.kind == "function" or p.label.endswith("functions:") for p in run)
    members = sum(p.members for p in run)
    what = f"{members} functions:" if functions else f"{members} pieces:"
    return [Piece(run[0].start, run[-1].end, "group", what, names=names[:MAX_NAMES],
                  hidden=hidden, members=members)]


def describe(piece: Piece) -> str:
    if piece.kind in LISTS or piece.kind == "group":
        title = LISTS.get(piece.kind, piece.label)
        if not piece.names:
            return clean(title, WIDTH)
        return f"{title} {listing(piece.names, piece.hidden, WIDTH - len(title) - 1)}"
    return clean(piece.label, WIDTH)


def listing(names: list[str], hidden: int, width: int) -> str:
    """Names in order, repeats counted ("require ×5"), cut to ``width`` with the rest counted
    (``hidden`` more were never kept)."""
    counted: dict[str, int] = {}
    for name in names:
        counted[name] = counted.get(name, 0) + 1
    items = [clean(f"{n} ×{c}" if c > 1 else n, 40) for n, c in counted.items()]
    shown: list[str] = []
    for position, item in enumerate(items):
        rest = len(items) - position + hidden
        more = len(f", … (+{rest})") if rest > 1 else 0
        if len(", ".join([*shown, item])) + more > width:
            return ", ".join([*shown, f"… (+{rest})"])
        shown.append(item)
    return ", ".join([*shown, f"… (+{hidden})"] if hidden else shown)


def render_pieces(pieces: list[Piece]) -> list[str]:
    rows: list[tuple[str, int, str]] = []

    def visit(level: list[Piece], depth: int) -> None:
        for piece in level:
            span = f"{piece.start}" if piece.end <= piece.start else f"{piece.start}-{piece.end}"
            rows.append((span, min(depth, MAX_SHOWN_DEPTH), describe(piece)))
            visit(piece.children, depth + 1)

    visit(pieces, 0)
    width = max((len(span) for span, _, _ in rows), default=0)
    return [f"  {span:<{width}}  {'  ' * depth}{text}" for span, depth, text in rows]
