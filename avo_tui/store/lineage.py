"""The lineage: versions as a tree, with the queries browsing and rollback need."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from .errors import UnknownVersion
from .models import Score, Version


class Lineage:
    """An in-memory index of every version of a session. Versions are only ever added; a
    rescore (:meth:`rescore`) changes the score a version reads with, never its record.

    Lanes read it from their own threads while the engine adds a version: readers take a
    snapshot of the versions first (``list()`` of a dict is one step under the GIL), so an
    add never breaks an iteration in progress."""

    def __init__(self, versions: Iterable[Version] = ()) -> None:
        self._versions: dict[str, Version] = {}
        self._children: dict[str, list[str]] = {}
        self._best: Version | None = None
        for version in versions:
            self.add(version)

    def add(self, version: Version) -> None:
        if version.id in self._versions:
            raise ValueError(f"version {version.id} is already in the lineage")
        if version.parent is not None and version.parent not in self._versions:
            raise ValueError(f"version {version.id} names an unknown parent {version.parent}")
        self._versions[version.id] = version
        self._children.setdefault(version.id, [])
        if version.parent is not None:
            self._children[version.parent].append(version.id)
        if version.score is not None and (
            self._best is None or version.score.gmean > self._best.score.gmean  # type: ignore[union-attr]
        ):
            self._best = version

    def rescore(self, scores: Mapping[str, Score]) -> None:
        """Read these versions with these scores (``avo rescore``, docs/engine.md "Rescores")
        in place of their records' (which never change), and find the best again. Ids not (yet)
        in the lineage are skipped: a reader indexes those versions with their scores."""
        for vid, score in scores.items():
            if vid in self._versions:
                self._versions[vid] = replace(self._versions[vid], score=score)
        ranked = self.ranked()
        self._best = ranked[0] if ranked else None

    def __len__(self) -> int:
        return len(self._versions)

    def __contains__(self, vid: object) -> bool:
        return vid in self._versions

    def __iter__(self) -> Iterator[Version]:
        return iter(list(self._versions.values()))

    @property
    def ids(self) -> list[str]:
        return list(self._versions)

    @property
    def last(self) -> Version | None:
        return next(reversed(self._versions.values()), None)

    @property
    def last_commit(self) -> float | None:
        """When the newest version was committed; None while the seed is the only one (or
        there is none: a target with no seed, before the agent's v0)."""
        last = self.last
        return last.created if last is not None and (
            last.parent is not None or last.author != "seed") else None

    def get(self, vid: str) -> Version:
        try:
            return self._versions[vid]
        except KeyError:
            raise UnknownVersion(vid, self._versions) from None

    def root(self) -> Version | None:
        """v0; None while there is no version yet (a target with no seed)."""
        return next(iter(self._versions.values()), None)

    def children(self, vid: str) -> list[Version]:
        self.get(vid)
        return [self._versions[c] for c in self._children[vid]]

    def line(self, vid: str) -> list[str]:
        """``vid`` and the versions that follow it through first children (the line the
        search went on along), to a leaf. Later children are side branches off this line."""
        line = [self.get(vid).id]
        while children := self._children[line[-1]]:
            line.append(children[0])
        return line

    def path_to_root(self, vid: str) -> list[Version]:
        """The version itself first, then its parent, up to the seed."""
        path = [self.get(vid)]
        while path[-1].parent is not None:
            path.append(self._versions[path[-1].parent])
        return path

    def best(self) -> Version | None:
        """The highest-scoring version; the earliest one wins a tie. None if none is scored."""
        return self._best

    def ranked(self) -> list[Version]:
        """Scored versions, best first (ties: earlier first)."""
        scored = [v for v in list(self._versions.values()) if v.score is not None]
        return sorted(scored, key=lambda v: (-v.score.gmean, v.number))  # type: ignore[union-attr]
