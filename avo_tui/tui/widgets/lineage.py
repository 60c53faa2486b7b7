"""The lineage tree: thousands of versions without crashing or crawling.

Textual's Tree recurses through expanded nodes, so a chain a thousand deep must never be a
thousand nested nodes. Here a run of single-child versions is one node; its versions are
leaves shown a page at a time (newest page first, earlier pages behind a lazy node), and a
branch point's children are chain nodes again. Children are built only when a node is
expanded, so opening a session costs the same at 10 versions and at 10,000.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ...store import Lineage, Version

PAGE = 100  # version leaves per page of a long chain


@dataclass(frozen=True)
class Entry:
    """What a tree node stands for: one version, or a run of versions still to be shown."""

    version: str  # the version a leaf shows, or the first version of a chain/page
    chain: tuple[str, ...] = ()  # the versions behind an unexpanded node (empty for a leaf)
    branches: bool = False  # after the chain, show the children of its last version


@dataclass(frozen=True)
class Marks:
    head: str
    best: str | None
    baseline_unit: str = ""


def version_label(v: Version, marks: Marks) -> Text:
    """id, score, ratio to the baseline, +/- lines and author; head and best marked."""
    text = Text()
    style = "bold" if v.id == marks.head else ""
    text.append(f"{v.id:<5}", style=style + (" green" if v.id == marks.best else ""))
    if v.score:
        text.append(f"{v.score.gmean:>7.4g}")
        text.append(f" {v.score.ratio:.2f}x" if v.score.ratio else "      ", style="cyan")
    else:
        text.append(" " * 13)
    text.append(f" +{v.lines_added}/-{v.lines_removed}", style="dim")
    text.append(f" {v.author}", style="magenta" if v.author == "operator" else "dim")
    if v.id == marks.head:
        text.append(" ◀ head", style="bold yellow")
    if v.id == marks.best:
        text.append(" ★", style="green")
    return text


def chain_label(chain: list[Version], marks: Marks) -> Text:
    first, last = chain[0], chain[-1]
    text = Text(f"{first.id} … {last.id}", style="bold")
    text.append(f"  {len(chain)} versions", style="dim")
    ids = {v.id for v in chain}
    if marks.head in ids:
        text.append(" ◀ head", style="bold yellow")
    if marks.best in ids:
        text.append(f" ★ {marks.best}", style="green")
    return text


class LineageTree(Tree[Entry]):
    """Versions as a tree; the highlighted version drives the diff pane and the detail view."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("lineage", **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.guide_depth = 2
        self.lineage: Lineage | None = None
        self.marks = Marks("v0", None)

    def load(self, lineage: Lineage, marks: Marks, reveal: str | None = None) -> None:
        """(Re)build from the root, keeping expanded chains expanded; reveal one version."""
        expanded = self._expanded_chains()
        selected = self.selected_version
        self.lineage, self.marks = lineage, marks
        self.clear()
        if len(lineage) == 0:
            return
        self._add_chain(self.root, lineage.root().id, expanded | {lineage.root().id})
        self.root.expand()
        self.reveal(reveal or selected or marks.head)

    @property
    def selected_version(self) -> str | None:
        node = self.cursor_node
        entry = node.data if node else None
        return entry.version if entry and len(entry.chain) <= 1 else None

    def reveal(self, vid: str) -> None:
        """Expand what hides ``vid`` and put the cursor on it."""
        if self.lineage is None or vid not in self.lineage:
            return
        path = {v.id for v in self.lineage.path_to_root(vid)}
        node: TreeNode[Entry] = self.root
        for _ in range(len(path) + 2):  # each round goes one node deeper
            found = next((c for c in node.children if c.data and c.data.version == vid
                          and len(c.data.chain) <= 1), None)
            if found:
                if self.last_line >= 0:  # reading it lays the lines out, so found.line is set
                    self.move_cursor_to_line(found.line)
                return
            nxt = next((c for c in node.children if c.data and (
                (c.data.branches and path & set(c.data.chain))
                or (not c.data.branches and vid in c.data.chain))), None)
            if nxt is None:
                return
            self._fill(nxt)
            nxt.expand()
            node = nxt

    def _expanded_chains(self) -> set[str]:
        out: set[str] = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            for child in node.children:
                if child.is_expanded and child.data:
                    out.add(child.data.version)
                    stack.append(child)
        return out

    def _add_chain(self, parent: TreeNode[Entry], first: str, expanded: set[str]) -> None:
        assert self.lineage is not None
        chain = self.lineage.chain(first)
        if len(chain) == 1 and not self.lineage.children(first):
            parent.add_leaf(version_label(chain[0], self.marks), data=Entry(first))
            return
        label = (version_label(chain[0], self.marks) if len(chain) == 1
                 else chain_label(chain, self.marks))
        node = parent.add(label, data=Entry(first, tuple(v.id for v in chain), branches=True))
        if first in expanded:
            self._fill(node, expanded)
            node.expand()

    def _fill(self, node: TreeNode[Entry], expanded: set[str] | None = None) -> None:
        """Build a chain node's children, once."""
        entry = node.data
        if entry is None or node.children or self.lineage is None:
            return
        chain = list(entry.chain)
        shown = chain if len(chain) > 1 or not entry.branches else []
        if len(shown) > PAGE:
            earlier, shown = shown[:-PAGE], shown[-PAGE:]
            label = Text(f"earlier: {earlier[0]} … {earlier[-1]} ({len(earlier)})", style="dim")
            if self.marks.head in earlier:
                label.append(" ◀ head", style="bold yellow")
            page = node.add(label, data=Entry(earlier[0], tuple(earlier)))
            if expanded and earlier[0] in expanded:
                self._fill(page, expanded)
                page.expand()
        for vid in shown:
            node.add_leaf(version_label(self.lineage.get(vid), self.marks), data=Entry(vid))
        if entry.branches:
            for child in self.lineage.children(chain[-1]):
                self._add_chain(node, child.id, expanded or set())

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Entry]) -> None:
        self._fill(event.node)
