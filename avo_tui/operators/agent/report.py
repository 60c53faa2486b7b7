"""Compact, readable texts for the agent: evaluations, versions, attempts."""

from __future__ import annotations

from ...evaluation import EvalResult
from ...evaluation.toolchains import Diagnostic
from ...store import Attempt, Version
from ...store.view import SessionView

CONTEXT_LINES = 2
MAX_DIAGNOSTICS = 6


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the cut said at its end, so a reader
    (the model) knows something is missing."""
    if len(text) <= limit:
        return text
    marker = f" [... {len(text) - limit:,} more characters cut]"
    return text[: max(0, limit - len(marker))] + marker[:limit]


def evaluation(result: EvalResult, files: dict[str, str], attempt: Attempt) -> str:
    lines = [f"attempt {attempt.id}: {attempt.outcome} - {attempt.detail}"]
    compiled = result.compile
    if compiled is not None and not compiled.ok:
        lines.append("compile failed:")
        lines += _diagnostics(compiled.errors or compiled.diagnostics, compiled.log, files)
        return "\n".join(lines)
    resources = result.as_dict()
    if "regs" in resources:
        lines.append(f"registers {resources['regs']}, spills {resources['spills']}")
    if result.flags:
        lines.append("flags: " + "; ".join(result.flags))
    if result.configs:
        lines.append(f"{'config':<34} {'check':<6} {'max_err':>9} {result.unit:>10} "
                     f"{'baseline':>10} {'ratio':>6}")
        for c in result.configs:
            check = {True: "pass", False: "FAIL", None: "-"}[c.passed]
            err = f"{c.max_abs_err:.2e}" if c.max_abs_err is not None else "-"
            speed = f"{c.throughput:.4g}" if c.throughput else "-"
            base = f"{c.baseline:.4g}" if c.baseline else "-"
            ratio = f"{c.ratio:.3f}" if c.ratio else "-"
            name = c.name + (" (edge)" if c.edge else "")
            lines.append(f"{name:<34} {check:<6} {err:>9} {speed:>10} {base:>10} {ratio:>6}")
    if result.failure:
        lines.append(f"failure: {result.failure}")
    return "\n".join(lines)


def _diagnostics(diagnostics: list[Diagnostic], log: str, files: dict[str, str]) -> list[str]:
    if not diagnostics:
        return [log.strip()[-3000:] or "(the compiler printed nothing)"]
    out = []
    for d in diagnostics[:MAX_DIAGNOSTICS]:
        out.append(str(d))
        source = files.get(d.file, "").split("\n")
        first, last = max(1, d.line - CONTEXT_LINES), min(len(source), d.line + CONTEXT_LINES)
        for n in range(first, last + 1):
            out.append(f"{'>' if n == d.line else ' '}{n:>5} | {source[n - 1]}")
    if len(diagnostics) > MAX_DIAGNOSTICS:
        out.append(f"... and {len(diagnostics) - MAX_DIAGNOSTICS} more")
    return out


def version_line(version: Version, head: str, best: str | None) -> str:
    score = version.score
    gmean = f"{score.gmean:.4g}" if score else "-"
    ratio = f"{score.ratio:.3f}x" if score and score.ratio else "-"
    marks = ("*" if version.id == head else "") + ("!" if version.id == best else "")
    return (f"{version.id + marks:<7} {version.parent or '-':<6} {version.author:<8} "
            f"{gmean:>9} {ratio:>7} +{version.lines_added}/-{version.lines_removed}  "
            f"{version.message[:90]}")


def versions_table(session: SessionView, unit: str, limit: int) -> str:
    versions = list(session.lineage)[-limit:]
    header = (f"{'version':<7} {'parent':<6} {'author':<8} {unit:>9} {'ratio':>7} lines  "
              "message   (* head, ! best)")
    head, best = _marks(session)
    return "\n".join([header, *(version_line(v, head, best) for v in versions)])


def version_detail(session: SessionView, version: Version) -> str:
    score = version.score
    lines = [version_line(version, *_marks(session)), f"message: {version.message}"]
    if score:
        lines.append(f"score: {score.gmean:.4g} {score.unit} geomean"
                     + (f", {score.ratio:.3f}x {score.baseline}" if score.ratio else ""))
        lines += [f"  {name}: {value:.4g}" for name, value in score.per_config.items()]
    files = session.read_files(version)
    lines.append("files: " + ", ".join(f"{n} ({len(t.splitlines())} lines)"
                                       for n, t in files.items()))
    return "\n".join(lines)


def attempts_table(attempts: list[Attempt], pending: frozenset[str] = frozenset()) -> str:
    """One line per attempt; a suspect still pending the operator's review is marked."""
    if not attempts:
        return "no attempts yet"
    return "\n".join(
        f"{a.id:<6} from {a.base:<5} {a.author:<8} {a.outcome:<14} "
        + ("[held: pending the operator's review] " if a.id in pending else "")
        + a.detail[:160]
        for a in attempts
    )


def pending(session: SessionView) -> frozenset[str]:
    """The attempt ids of the suspects pending the operator's review."""
    return frozenset(s.attempt for s in session.suspects())


def held_suspect(session: SessionView, attempt: Attempt) -> str:
    """What the commit tool says when the gate held the result as a suspect."""
    flags: tuple[str, ...] = ()
    for suspect in session.suspects():
        if suspect.attempt == attempt.id:
            flags = suspect.flags
    score = attempt.score
    measured = f" at {score.gmean:.4g} {score.unit}" if score else ""
    return (
        f"NOT committed: held for the operator's review as suspect {attempt.id}. The "
        f"re-evaluation measured it{measured}, but the evaluator flagged the result as "
        "implausible, so a person must check it; they will approve it (then it becomes a "
        "version) or reject it.\nflags: "
        + ("; ".join(flags) if flags else attempt.detail)
        + "\nDo not try to re-submit this kernel, and do not count on it being committed: "
        "continue from the current best. If you believe the flag points at a flaw (a result "
        "that skips work or is measured wrongly), say so in a note."
    )


def _marks(session: SessionView) -> tuple[str, str | None]:
    best = session.best()
    return session.head.id, best.id if best else None
