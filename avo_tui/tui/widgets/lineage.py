"""The lineage tree: thousands of versions without crashing or crawling.

Textual's Tree recurses through expanded nodes, so depth must stay small however long the
lineage. The line the search went on along (first children, like git's first parents) is shown
flat, a page at a time (the newest page; earlier pages behind lazy nodes). A version with later
children is a node whose children are those side branches, each one collapsed line until
expanded. Depth grows only with side branches taken, and children are built only on
expansion, so opening a session costs the same at 10 versions and at 10,000.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.reactive import var
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ...store import NO_VERSION_YET, Lineage, Version
from ...views.ratios import RatioColumn

PAGE = 100  # versions per page of a long line


@dataclass(frozen=True)
class Entry:
    """What a tree node stands for: a version (a leaf, or a branch point with side branches
    under it), or a run of versions (``run``) not yet shown."""

    version: str
    run: tuple[str, ...] = ()


@dataclass(frozen=True)
class Marks:
    head: str | None  # None: no version yet (a target with no seed)
    best: str | None


@dataclass(frozen=True)
class LineageView:
    """The lineage the tree shows, its marks and what its ratios are against; ``revision``
    counts the times it moved (a commit, a rollback), since the view's lineage is one object
    that grows."""

    lineage: Lineage = field(compare=False)
    marks: Marks
    revision: int
    ratios: RatioColumn = field(default_factory=RatioColumn)


def title(ratios: RatioColumn) -> str:
    """The pane's title: what its ratio column is against (``x fa4``, ``x best``)."""
    return f"lineage · {ratios.heading}" if ratios.label else "lineage"


def version_label(v: Version, marks: Marks, side_branches: int = 0,
                  compact: bool = False, ratios: RatioColumn | None = None) -> Text:
    """id, score, ratio to the strongest baseline (``ratios``: views/ratios.py; the score's
    own, to its first baseline, without), +/- lines and author, and the lane that proposed it
    (``L2``, in a run of several lanes); head and best marked.
    ``compact`` (narrow terminals) leaves out the +/- lines and the author, which the diff
    pane's title and the detail view show, and puts the marks right after the id (``◀`` the
    head, ``★`` the best), so that a branch row's indent never cuts them."""
    text = Text()
    style = "bold" if v.id == marks.head else ""
    text.append(f"{v.id:<5}", style=style + (" green" if v.id == marks.best else ""))
    if compact:
        text.append("◀" if v.id == marks.head else " ", style="bold yellow")
        text.append("★" if v.id == marks.best else " ", style="green")
    if v.score:
        ratio = ratios.ratio(v.score) if ratios else v.score.ratio
        text.append(f"{v.score.gmean:>7.4g}")
        text.append(f" {ratio:.2f}x" if ratio else "      ", style="cyan")
    else:
        text.append(" " * 13)
    if not compact:
        text.append(f" +{v.lines_added}/-{v.lines_removed}", style="dim")
        text.append(f" {v.author}", style="magenta" if v.author == "operator" else "dim")
    elif v.author == "operator":
        text.append(" op", style="magenta")  # a hand edit stands out even when compact
    if v.lane is not None:
        text.append(f" L{v.lane}", style="blue")
    if side_branches:
        text.append(f" ⑂{side_branches}", style="yellow")
    if v.id == marks.head and not compact:
        text.append(" ◀ head", style="bold yellow")
    if v.id == marks.best and not compact:
        text.append(" ★", style="green")
    return text


def run_label(run: list[str], marks: Marks, prefix: str = "") -> Text:
    text = Text(f"{prefix}{run[0]} … {run[-1]}", style="bold" if not prefix else "dim")
    text.append(f"  {len(run)} versions", style="dim")
    if marks.head in run:
        text.append(" ◀ head", style="bold yellow")
    if marks.best in run:
        text.append(f" ★ {marks.best}", style="green")
    return text


class LineageTree(Tree[Entry]):
    """Versions as a tree; the highlighted version drives the diff pane and the detail view."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("lineage", **kwargs)
        self.show_root = False
        # Enter opens a version's detail; only a run of versions not yet shown opens on it
        # (the app's NodeSelected handler), so a branch point does not fold away the head.
        # Space still opens and folds any node.
        self.auto_expand = False
        self.guide_depth = 2
        self.lineage = Lineage()
        self.marks = Marks("v0", None)
        self.ratios = RatioColumn()

    view: var[LineageView | None] = var(None, init=False)  # bound to the app's
    compact: var[bool] = var(False, init=False)  # short labels (narrow terminals)

    def watch_view(self, view: LineageView | None) -> None:
        """Rebuilt when the lineage moves; the cursor follows the head, unless the user has
        moved it elsewhere to browse."""
        if view is None:
            return
        following = self.selected_version in (None, self.marks.head)
        self.ratios = view.ratios
        self.border_title = title(view.ratios)
        self.load(view.lineage, view.marks, reveal=view.marks.head if following else None)

    def watch_compact(self, old: bool, compact: bool) -> None:
        if compact != old and len(self.lineage):  # a binding sets it again at mount
            self.load(self.lineage, self.marks)

    def load(self, lineage: Lineage, marks: Marks, reveal: str | None = None) -> None:
        """(Re)build from the root and put the cursor on ``reveal`` (else the version that
        had it, else the head)."""
        selected = self.selected_version
        self.lineage, self.marks = lineage, marks
        self.clear()
        root = lineage.root()
        # With no version yet, the tree's root says so (a label, nothing to open).
        self.show_root, self.root.allow_expand = root is None, root is not None
        if root is None:
            self.root.set_label(NO_VERSION_YET)
            return
        self._add_run(self.root, lineage.line(root.id))
        self.root.expand()
        self.reveal(reveal or selected or marks.head or root.id)

    @property
    def selected_version(self) -> str | None:
        entry = self.cursor_node.data if self.cursor_node else None
        return entry.version if entry and not entry.run else None

    # -- building -----------------------------------------------------------------------------

    def _add_run(self, node: TreeNode[Entry], run: list[str]) -> None:
        """Add a run of a line's versions under ``node``: the newest page, earlier behind."""
        if len(run) > PAGE:
            earlier = run[:-PAGE]
            node.add(run_label(earlier, self.marks, "earlier: "), data=Entry(earlier[0],
                                                                             tuple(earlier)))
            run = run[-PAGE:]
        for vid in run:
            sides = len(self.lineage.children(vid)) - 1
            label = version_label(self.lineage.get(vid), self.marks, max(0, sides),
                                  self.compact, self.ratios)
            if sides > 0:
                node.add(label, data=Entry(vid))
            else:  # the indent lines leaves up with the expand icon of branch points
                node.add_leaf(Text("  ") + label, data=Entry(vid))

    def _fill(self, node: TreeNode[Entry]) -> None:
        """Build an expanded node's children, once."""
        entry = node.data
        if entry is None or node.children:
            return
        if entry.run:
            self._add_run(node, list(entry.run))
            return
        for side in self.lineage.children(entry.version)[1:]:
            line = self.lineage.line(side.id)
            if len(line) == 1:
                self._add_run(node, line)
            else:
                node.add(run_label(line, self.marks), data=Entry(side.id, tuple(line)))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Entry]) -> None:
        self._fill(event.node)

    # -- revealing ----------------------------------------------------------------------------

    def reveal(self, vid: str) -> None:
        """Expand what hides ``vid`` and put the cursor on it."""
        if vid not in self.lineage:
            return
        path = [v.id for v in reversed(self.lineage.path_to_root(vid))]
        node: TreeNode[Entry] = self.root
        line = self.lineage.line(path[0])
        while True:
            on_line = set(line)
            exit_at = max(i for i, v in enumerate(path) if v in on_line)
            node = self._open_to(node, line, path[exit_at])
            if path[exit_at] == vid:
                break
            side = path[exit_at + 1]  # a later child: its line is under the branch point
            self._expand(node)
            line = self.lineage.line(side)
            if len(line) > 1:
                def starts_with_side(entry: Entry, side: str = side) -> bool:
                    return entry.run[:1] == (side,)

                node = self._child(node, starts_with_side)
                self._expand(node)
        if self.last_line >= 0:  # reading it lays the lines out, so node.line is current
            self.move_cursor_to_line(node.line)

    def _open_to(self, node: TreeNode[Entry], run: list[str], vid: str) -> TreeNode[Entry]:
        """The node of ``vid`` among ``node``'s children (a run), opening earlier pages."""
        while vid in run[:-PAGE]:
            node = self._child(node, lambda e: bool(e.run))
            self._expand(node)
            run = run[:-PAGE]
        return self._child(node, lambda e: e.version == vid and not e.run)

    def _expand(self, node: TreeNode[Entry]) -> None:
        self._fill(node)
        node.expand()

    @staticmethod
    def _child(node: TreeNode[Entry], match: Callable[[Entry], bool]) -> TreeNode[Entry]:
        return next(c for c in node.children if c.data and match(c.data))
