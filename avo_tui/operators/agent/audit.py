"""An audit of the synchronisation a change adds or removes, for the pre-commit checklist.

A kernel that drops a barrier, a fence or a wait often still passes the correctness check:
a race shows only under some timing, and a fence missing between the generic and the async
proxy only on some runs. The evaluator cannot see that; the agent, reviewing its own change
before it commits, can, if the lines that touch synchronisation are put in front of it.

Recognised: CUDA's barriers (``__syncthreads``, ``__syncwarp``, cooperative groups' sync),
PTX ``bar``/``barrier``, ``mbarrier`` operations, ``fence``/``membar``, wgmma and bulk-async
groups (fence, commit, wait), ``setmaxnreg``, atomics, OpenMP's barrier and atomics, and
calls of the kernel's own helpers whose names say sync, barrier, fence, wait, arrive or
commit (the seed wraps its PTX in such helpers).
"""

from __future__ import annotations

import difflib
import re

SYNC = re.compile(
    r"__syncthreads|__syncwarp|__threadfence|\.sync\(\)|"
    r"\bbar(rier)?\.(sync|arrive|red|cluster)|\bmbarrier\.|\bfence\.|\bmembar\.|"
    r"wgmma\.(fence|commit_group|wait_group)|cp\.async\.(bulk\.)?(commit_group|wait_group|wait_all)|"
    r"setmaxnreg|\batomic\w*|\bred\.|#\s*pragma\s+omp\s+(barrier|atomic|critical)|"
    r"\b\w*(sync|barrier|fence|wait|arrive|commit)\w*\s*(<[^<>()]*>)?\s*\(",
    re.IGNORECASE,
)
_OPENING = re.compile(r"/\*|//")
MAX_LINES = 30
MAX_LINE_CHARS = 120


def sync_audit(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """The synchronising lines the change from ``old`` to ``new`` removes or adds, each with
    its file and line number, and a count per file; an empty list if it touches none."""
    found: list[str] = []
    counts: list[str] = []
    for name in sorted(set(old) | set(new)):
        before, after = _code_lines(old.get(name, "")), _code_lines(new.get(name, ""))
        removed, added = _changed_sync_lines(name, before, after, found)
        if removed or added:
            counts.append(f"{name}: {removed} synchronising line(s) removed, {added} added "
                          f"({_count(before)} before, {_count(after)} after)")
    if len(found) > MAX_LINES:
        found = [*found[:MAX_LINES], f"... and {len(found) - MAX_LINES} more"]
    return [*counts, *found]


def _changed_sync_lines(
    name: str, before: list[str], after: list[str], found: list[str]
) -> tuple[int, int]:
    removed = added = 0
    # Compared with their spacing collapsed: a reformatted line changes no synchronisation.
    matcher = difflib.SequenceMatcher(None, [" ".join(line.split()) for line in before],
                                      [" ".join(line.split()) for line in after],
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for number in range(i1, i2):
            if SYNC.search(before[number]):
                removed += 1
                found.append(f"  - {name}:{number + 1} (old) {_shown(before[number])}")
        for number in range(j1, j2):
            if SYNC.search(after[number]):
                added += 1
                found.append(f"  + {name}:{number + 1} {_shown(after[number])}")
    return removed, added


def _count(lines: list[str]) -> int:
    return sum(1 for line in lines if SYNC.search(line))


def _shown(line: str) -> str:
    line = line.strip()
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


def _code_lines(text: str) -> list[str]:
    """The lines of ``text`` with comments blanked (a barrier named in a comment is none),
    numbered as in the file. One linear pass: a hostile file of unterminated comments must
    not cost quadratic time."""
    lines = []
    in_block = False
    for line in text.split("\n"):
        kept: list[str] = []
        at = 0
        while at < len(line):
            if in_block:
                end = line.find("*/", at)
                if end < 0:
                    break
                in_block, at = False, end + 2
                continue
            opening = _OPENING.search(line, at)  # the nearest: each character is seen once
            if opening is None:
                kept.append(line[at:])
                break
            kept.append(line[at:opening.start()])
            if opening.group() == "//":
                break
            in_block, at = True, opening.end()
        lines.append(" ".join(kept))
    return lines
