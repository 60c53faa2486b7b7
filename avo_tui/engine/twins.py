"""Twins: the kernels a session has already judged, so a candidate that is one of them is named
before anything is timed.

Timing a kernel the session knows says nothing new and, on a loaded machine, says it falsely:
the seed evaluated again read far faster or far slower than itself in five probes (issue 54,
benchmarks/RESULTS.md). So every
version and every attempt whose outcome judged its kernel is indexed twice: by its source files
(a candidate with the very same files is answered without a compile) and by what it compiled to
(``Attempt.kernel``; a candidate that differs in comments or layout only is compiled, then
stopped before its checks and timing: ``EvalRequest.known_kernels``). The answer names the
twin: a version by its id, an attempt by its id and what became of it.

The index reads the attempts and versions added since its last look, so keeping it costs the
same at every step of a long session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..operators.protocol import Trial
from ..store import NOT_FAILURES, Attempt, Outcome, Session, Version

# Outcomes that judged the kernel itself. Left out: what says nothing about it (interrupted,
# the best's or the harness's failure, a worker lost to a timeout or a crash that another run
# may not repeat), and ``unchanged``, which is itself a twin's record.
JUDGED = (NOT_FAILURES - {Outcome.INTERRUPTED}) | {
    Outcome.REJECTED_UNDECIDED_TWICE, "contract", "compile", "entry", "incorrect", "nonfinite",
    "inputs_modified",
}


@dataclass(frozen=True)
class Twin:
    """An earlier version or attempt of the same kernel."""

    label: str  # "v3", or an attempt's id
    attempt: Attempt | None = None  # the attempt that judged it; None for a version alone
    kernel: str | None = None  # its kernel identity, where it was built

    @property
    def is_version(self) -> bool:
        return self.label.startswith("v")

    def words(self) -> str:
        """'identical to v3', 'identical to a17 (slower)'."""
        if self.is_version or self.attempt is None:
            return f"identical to {self.label}"
        return f"identical to {self.label} ({self.attempt.outcome})"


def files_key(hashes: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A candidate's files (name to blob hash) as one key."""
    return tuple(sorted(hashes.items()))


class Twins:
    """The index of judged kernels of one session, kept up to date by ``refresh``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._by_kernel: dict[str, Twin] = {}
        self._by_files: dict[tuple[tuple[str, str], ...], Twin] = {}
        self._built: dict[tuple[tuple[str, str], ...], str] = {}  # files: the kernel built
        self._attempts = 0  # attempts read so far (a1 .. a<n>)
        self._versions = 0  # versions read so far

    def refresh(self) -> None:
        """Read the attempts and versions added since the last look."""
        session = self.session
        count = session.attempt_count
        for number in range(self._attempts + 1, count + 1):
            self._add_attempt(session.attempt(f"a{number}"))
        self._attempts = count
        versions = list(session.lineage)
        for version in versions[self._versions:]:
            self._add_version(version)
        self._versions = len(versions)

    def _add_attempt(self, attempt: Attempt) -> None:
        key = files_key(attempt.files)
        if attempt.kernel:  # whatever its outcome, what these files compile to
            self._built[key] = attempt.kernel
        if attempt.outcome not in JUDGED:
            return
        twin = Twin(attempt.version or attempt.id, attempt, attempt.kernel)
        # The first record of a kernel names it, unless a later one made it a version or
        # judged it on the full grid where the first only checked it on the quick one.
        if _replaces(self._by_files.get(key), attempt):
            self._by_files[key] = twin
        if attempt.kernel and _replaces(self._by_kernel.get(attempt.kernel), attempt):
            self._by_kernel[attempt.kernel] = twin

    def _add_version(self, version: Version) -> None:
        key = files_key(version.files)
        found = self._by_files.get(key)
        self._by_files[key] = Twin(version.id, found.attempt if found else None,
                                   found.kernel if found else None)

    def learn(self, version: Version, kernel: str | None) -> None:
        """``version`` compiles to ``kernel`` (it was built beside a candidate): a version
        with no attempt of its own (the seed, a hand edit) is then known by its kernel too."""
        if kernel and not _is_version(self._by_kernel.get(kernel)):
            self._by_kernel[kernel] = Twin(version.id, None, kernel)

    def of_files(self, hashes: Mapping[str, str], *, quick: bool) -> Twin | None:
        """The twin with these very files, if any; a kernel only checked on the quick grid
        answers only a ``quick`` request."""
        self.refresh()
        key = files_key(hashes)
        found = self._by_files.get(key)
        if found is None or (not quick and _checked(found.attempt)):
            return None
        return found if found.kernel else replace(found, kernel=self._built.get(key))

    def of_kernel(self, kernel: str | None) -> Twin | None:
        """The twin that compiled to ``kernel``, if any."""
        self.refresh()
        return self._by_kernel.get(kernel) if kernel else None

    def kernels(self, *, versions_only: bool = False) -> frozenset[str]:
        """Every judged kernel's identity (or only the versions'), for the worker to stop at
        (known_kernels)."""
        self.refresh()
        return frozenset(kernel for kernel, twin in self._by_kernel.items()
                         if twin.is_version or not versions_only)


def _checked(attempt: Attempt | None) -> bool:
    return attempt is not None and attempt.outcome == Outcome.CHECKED


def _is_version(twin: Twin | None) -> bool:
    return twin is not None and twin.is_version


def _replaces(old: Twin | None, attempt: Attempt) -> bool:
    return old is None or (attempt.version is not None and not _is_version(old)) or (
        _checked(old.attempt) and not _checked(attempt))


READINGS_KEPT = 32


class Readings:
    """The newest first readings of this run that the gate may be asked about (promising or
    inconclusive), by attempt id: a twin of one is not timed again, and commit takes that
    reading to the gate (Trial.reading)."""

    def __init__(self) -> None:
        self._kept: dict[str, Trial] = {}

    def keep(self, trial: Trial) -> None:
        self._kept[trial.attempt.id] = trial
        while len(self._kept) > READINGS_KEPT:
            del self._kept[next(iter(self._kept))]

    def get(self, attempt: str) -> Trial | None:
        """The reading kept of attempt ``attempt``, if any."""
        return self._kept.get(attempt)
