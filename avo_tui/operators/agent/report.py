"""Compact, readable texts for the agent: evaluations, versions, attempts."""

from __future__ import annotations

from collections.abc import Sequence

from ...evaluation import EvalResult
from ...evaluation.toolchains import Diagnostic
from ...store import Attempt, Score, Version, base_label
from ...store.view import SessionView
from . import bar

CONTEXT_LINES = 2
MAX_DIAGNOSTICS = 6


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the cut said at its end, so a reader
    (the model) knows something is missing."""
    if len(text) <= limit:
        return text
    marker = f" [... {len(text) - limit:,} more characters cut]"
    return text[: max(0, limit - len(marker))] + marker[:limit]


LEFT_OUT_CHARS = 80  # the line that counts what a listing left out


def fitting(items: Sequence[tuple[str, ...]], limit: int, left_out: str) -> list[str]:
    """For each item, in order, its first form (whole, then shorter) that fits in what is left
    of ``limit`` characters; the listing stops at the first item none of whose forms fits, and
    ends with ``left_out`` formatted with how many were left out."""
    shown: list[str] = []
    left = limit - LEFT_OUT_CHARS
    for forms in items:
        form = next((f for f in forms if len(f) + 1 <= left), None)
        if form is None:
            break
        shown.append(form)
        left -= len(form) + 1
    if len(shown) < len(items):
        shown.append(left_out.format(len(items) - len(shown)))
    return shown


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
        lines += _config_rows(result, attempt)
    if result.failure:
        lines.append(f"failure: {result.failure}")
    return "\n".join(lines)


def _config_rows(result: EvalResult, attempt: Attempt) -> list[str]:
    """The timed configurations, each against its strongest baseline (bar.py), and every
    failing check; the passing edge and random shapes in one line (they take 2,000
    characters a call when listed, and every later turn reads them again)."""
    passing = [c for c in result.configs if c.edge and c.passed]
    shown = [c for c in result.configs if not (c.edge and c.passed)]
    bars = {c.name: found for c in result.configs if not c.edge
            if (found := bar.strongest({c.name: c.baselines}).get(c.name))}
    lines = [f"{'config':<34} {'check':<6} {'max_err':>9} {result.unit:>10} "
             f"{'strongest baseline':>20} {'ratio':>6}"]
    for c in shown:
        check = {True: "pass", False: "FAIL", None: "-"}[c.passed]
        err = f"{c.max_abs_err:.2e}" if c.max_abs_err is not None else "-"
        speed = f"{c.throughput:.4g}" if c.throughput else "-"
        strongest = bars.get(c.name)
        base = f"{strongest.name} {strongest.value:.4g}" if strongest else "-"
        ratio = f"{c.throughput / strongest.value:.3f}" if strongest and c.throughput else "-"
        name = c.label
        lines.append(f"{name:<34} {check:<6} {err:>9} {speed:>10} {base:>20} {ratio:>6}")
    if passing:
        worst = max((c.row_error_ratio for c in passing if c.row_error_ratio is not None),
                    default=None)
        lines.append(f"edge and random shapes: all {len(passing)} passed"
                     + (f" (the worst row at {worst:.2f} of its tolerance)"
                        if worst is not None else ""))
    # The rows' own rates against the baselines measured beside them: the attempt's stored
    # score may be on the lineage's scale (its rate over the anchor's, times the anchor's
    # when v0 was scored), which these baselines are not.
    measured = Score(result.geomean, {c.name: c.throughput for c in result.timed},
                     unit=result.unit)
    if result.correct and (said := bar.describe(measured, bars)):
        lines.append(f"geomean: {said}")
    return lines


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


def shape_change(new: Score, old: Score) -> str:
    """The change per configuration from ``old`` to ``new``, and of the geometric mean, in
    percent: what a gain on one shape cost the others."""
    parts = [f"geomean {_percent(new.gmean, old.gmean)}"]
    parts += [f"{name} {_percent(value, old.per_config[name])}"
              for name, value in new.per_config.items() if old.per_config.get(name)]
    return ", ".join(parts)


def regressions(new: Score, old: Score, threshold: float = 0.01) -> list[str]:
    """The configurations where ``new`` is slower than ``old`` by more than ``threshold``."""
    return [f"{name} {_percent(value, old.per_config[name])}"
            for name, value in new.per_config.items()
            if old.per_config.get(name) and value < old.per_config[name] * (1 - threshold)]


def _percent(new: float, old: float) -> str:
    return f"{100 * (new / old - 1):+.1f}%" if old else "-"


def version_line(version: Version, head: str | None, best: str | None,
                 parent: Version | None = None, column: bar.RatioColumn | None = None) -> str:
    """The version in one row of versions_table; its ratio is ``column``'s (to the strongest
    baseline, bar.py), else its score's own."""
    column = column or bar.RatioColumn()
    score = version.score
    gmean = f"{score.gmean:.4g}" if score else "-"
    value = column.ratio(score) if score else None
    ratio = f"{value:.3f}x" if value else "-"
    marks = ("*" if version.id == head else "") + ("!" if version.id == best else "")
    return (f"{version.id + marks:<7} {version.parent or '-':<6} {version.author:<8} "
            f"{gmean:>9} {ratio:>{_ratio_width(column)}} {_spread(score, parent):<21} "
            f"+{version.lines_added}/-{version.lines_removed}  {version.message[:90]}")


def _spread(score: Score | None, parent: Version | None) -> str:
    """The change per shape against the parent, as its range: a gain on some shapes bought
    with a loss on others shows as a range that crosses zero."""
    if score is None or parent is None or parent.score is None:
        return "-"
    old = parent.score.per_config
    changes = [100 * (v / old[n] - 1) for n, v in score.per_config.items() if old.get(n)]
    if not changes:
        return "-"
    return f"{_percent(score.gmean, parent.score.gmean)} [{min(changes):+.1f}..{max(changes):+.1f}]"


def versions_table(session: SessionView, unit: str, limit: int,
                   baselines: dict[str, dict[str, float]]) -> str:
    """The latest ``limit`` versions, their ratios to the strongest baseline of
    ``baselines`` ({configuration: {baseline: throughput}}), the column named as the app's
    lineage names it (``x fa4``, ``x best``; the one baseline measured: ``x cudnn``)."""
    versions = list(session.lineage)[-limit:]
    column = ratio_column(session, baselines)
    header = (f"{'version':<7} {'parent':<6} {'author':<8} {unit:>9} "
              f"{column.heading:>{_ratio_width(column)}} "
              f"{'vs parent [per shape]':<21} lines  message   (* head, ! best)")
    head, best = _marks(session)
    return "\n".join([header, *(version_line(v, head, best, _parent(session, v), column)
                                for v in versions)])


def ratio_column(session: SessionView, baselines: dict[str, dict[str, float]]
                 ) -> bar.RatioColumn:
    """What the session's listed ratios are against (bar.py): where one baseline alone was
    measured, the one the best's own ratio is to."""
    return bar.ratio_column(baselines, bar.primary(session.best()))


def _ratio_width(column: bar.RatioColumn) -> int:
    return max(7, len(column.heading))


def _parent(session: SessionView, version: Version) -> Version | None:
    return session.version(version.parent) if version.parent else None


def version_detail(session: SessionView, version: Version,
                   baselines: dict[str, dict[str, float]]) -> str:
    score = version.score
    column = ratio_column(session, baselines)
    lines = [version_line(version, *_marks(session), _parent(session, version), column),
             f"message: {version.message}"]
    if score:
        lines += _score_lines(score, session, version.parent, column)
    files = session.read_files(version)
    lines.append("files: " + ", ".join(f"{n} ({len(t.splitlines())} lines)"
                                       for n, t in files.items()))
    return "\n".join(lines)


def attempt_detail(session: SessionView, attempt: Attempt,
                   baselines: dict[str, dict[str, float]]) -> str:
    """One attempt: what it tried, its outcome, its score per shape against the version it
    was built on and the best, and its files."""
    lines = [f"{attempt.id} from {base_label(attempt.base)} by {attempt.author}: "
             f"{attempt.outcome}"
             + (f" (became {attempt.version})" if attempt.version else "")]
    if attempt.idea:
        lines.append(f"idea: {attempt.idea}")
    lines.append(f"detail: {attempt.detail}")
    if attempt.score:
        lines += _score_lines(attempt.score, session, attempt.base,
                              ratio_column(session, baselines))
    sizes = {name: len(session.blobs.get_text(h).splitlines())
             for name, h in attempt.files.items()}
    lines.append("files: " + ", ".join(f"{n} ({count} lines)" for n, count in sizes.items()))
    return "\n".join(lines)


def _score_lines(score: Score, session: SessionView, parent: str | None,
                 column: bar.RatioColumn) -> list[str]:
    """The score: its ratio to the strongest baseline (``column``, where several were
    measured) and its own, to its first baseline; each configuration; the change against the
    parent and the best."""
    strongest = column.ratio(score) if column.bars else None
    lines = [f"score: {score.gmean:.4g} {score.unit} geomean"
             + (f", {strongest:.3f}x {column.label}" if strongest else "")
             + (f", {score.ratio:.3f}x {score.baseline}" if score.ratio else "")]
    lines += [f"  {name}: {value:.4g}" for name, value in score.per_config.items()]
    best = session.best()
    against = [session.version(parent)] if parent else []
    if best is not None and best.id != parent:
        against.append(best)
    for other in against:
        if other.score:
            role = "its parent" if other.id == parent else "the best"
            if other.id == parent and best is not None and best.id == parent:
                role += ", the best"
            lines.append(f"change against {other.id} ({role}): "
                         + shape_change(score, other.score))
    return lines


def attempts_table(attempts: list[Attempt], pending: frozenset[str] = frozenset()) -> str:
    """One line per attempt; a suspect still pending the operator's review is marked."""
    if not attempts:
        return "no attempts yet"
    return "\n".join(
        f"{a.id:<6} from {base_label(a.base):<5} {a.author:<8} {a.outcome:<14} "
        + ("[held: pending the operator's review] " if a.id in pending else "")
        + (f"idea: {a.idea[:100]} | " if a.idea else "")
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


def _marks(session: SessionView) -> tuple[str | None, str | None]:
    head, best = session.head, session.best()
    return head.id if head else None, best.id if best else None
