"""The report's figures, as plotly figure documents ({"data": [...], "layout": {...}}) that the
page hands to plotly.js. They are built as plain dicts rather than through plotly's Python
figure classes: those validate every property of every point, which for a week's session cost
more than the whole report (tests/functional/test_report.py still loads each one into plotly's
``Figure``, so a misspelt property fails a test, not a reader's page).

Times are shown in UTC, the one clock every reader of a shared report agrees on."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .attempts import HOUR_S, Hourly
from .journal import Mark, Rollback, Spend
from .versions import VersionFacts

Figure = dict[str, Any]

AUTHOR_COLOURS = {"seed": "#6b7280", "agent": "#7c3aed", "tuner": "#2563eb",
                  "operator": "#ea580c"}
GROUP_COLOURS = {"committed": "#16a34a", "to the gate": "#22d3ee", "slower": "#9ca3af",
                 "within noise": "#cbd5e1", "not confirmed": "#a78bfa", "unchanged": "#e5e7eb",
                 "incorrect": "#dc2626", "failed otherwise": "#f97316", "other": "#facc15"}
MARK_SYMBOLS = {"hint": "circle", "guidance": "square", "rollback": "triangle-left",
                "pause": "line-ns-open", "resume": "triangle-right-open", "stop": "x",
                "edit": "diamond", "approve": "star", "reject": "x-open",
                "operator": "hexagon", "rescore": "cross"}
FONT = {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12}
UNIT_TIME = "time (UTC)"


def when(ts: float) -> str:
    """A time as plotly's date axes read it."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def layout(title: str, **more: Any) -> dict[str, Any]:
    return {"title": {"text": title, "x": 0.01, "y": 0.99, "yanchor": "top"}, "font": FONT,
            "hovermode": "closest", "margin": {"l": 60, "r": 60, "t": 80, "b": 45},
            "plot_bgcolor": "#fafafa",
            "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}, **more}


def _hover(v: VersionFacts) -> str:
    score = f"{v.gmean:.4g} {v.unit}" if v.gmean is not None else "no score"
    ratio = f" · {v.ratio:.3f}x" if v.ratio else ""
    message = (v.message.splitlines() or [""])[0][:90]
    return f"<b>{v.id}</b> {v.author} · {score}{ratio}<br>{_escape(message)}"


def _escape(text: str) -> str:
    """Plotly's hover text is HTML: a kernel's message is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _by_author(versions: Sequence[VersionFacts], x: Iterable[Any], y: Iterable[Any],
               **trace: Any) -> list[dict[str, Any]]:
    """One marker trace per author (the legend names them), each point a version."""
    points = list(zip(versions, x, y, strict=True))
    traces = []
    for author, colour in AUTHOR_COLOURS.items():
        mine = [(v, px, py) for v, px, py in points if v.author == author and py is not None]
        if mine:
            traces.append({
                "type": "scatter", "mode": "markers", "name": author,
                "x": [p[1] for p in mine], "y": [p[2] for p in mine],
                "customdata": [p[0].id for p in mine], "text": [_hover(p[0]) for p in mine],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {"color": colour, "size": 8, "line": {"width": 1, "color": "#fff"}},
                **trace,
            })
    return traces


def version_ticks(versions: Sequence[VersionFacts]) -> dict[str, Any]:
    """Whole version numbers on the axis, about twenty of them however many versions."""
    return {"tick0": 0, "dtick": max(1, math.ceil(len(versions) / 20))}


def best_so_far(versions: Sequence[VersionFacts]) -> list[float | None]:
    best: float | None = None
    out = []
    for v in versions:
        if v.gmean is not None and (best is None or v.gmean > best):
            best = v.gmean
        out.append(best)
    return out


def _level(name: str, value: float, x: Sequence[Any], strongest: bool) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines", "x": [x[0], x[-1]], "y": [value, value],
            "name": f"{name} (strongest baseline)" if strongest else name,
            "hovertemplate": f"{_escape(name)} {value:.4g}<extra></extra>",
            "line": {"color": "#b45309" if strongest else "#d6d3d1",
                     "dash": "dash" if strongest else "dot", "width": 2 if strongest else 1}}


def _levels(baselines: dict[str, float], x: Sequence[Any]) -> list[dict[str, Any]]:
    """Each baseline as a level line, the strongest (the bar) drawn strongest."""
    if not baselines or not x:
        return []
    top = max(baselines, key=lambda name: baselines[name])
    return [_level(name, value, x, name == top) for name, value in baselines.items()]


def score_over_time(versions: Sequence[VersionFacts], baselines: dict[str, float],
                    marks: Sequence[Mark], end: float, unit: str) -> Figure:
    """Every version's score at its commit, the best so far, the baselines, and below on the
    same clock, what the operator did."""
    times = [when(v.created) for v in versions]
    best = best_so_far(versions)
    span = [times[0], when(max(end, versions[-1].created))] if times else []
    data = [{"type": "scatter", "mode": "lines", "name": "best so far", "x": [*times, span[-1]]
             if span else [], "y": [*best, best[-1]] if best else [],
             "line": {"shape": "hv", "color": "#16a34a", "width": 2}, "hoverinfo": "skip"},
            *_levels(baselines, span), *_by_author(versions, times, [v.gmean for v in versions])]
    for kind in MARK_SYMBOLS:
        mine = [m for m in marks if m.kind == kind]
        if mine:
            data.append({"type": "scatter", "mode": "markers", "name": kind, "yaxis": "y2",
                         "x": [when(m.ts) for m in mine], "y": [kind] * len(mine),
                         "text": [_escape(m.text) for m in mine],
                         "hovertemplate": "%{x}<br>%{text}<extra></extra>",
                         "marker": {"symbol": MARK_SYMBOLS[kind], "size": 10,
                                    "color": "#ea580c"}, "showlegend": False})
    return {"data": data, "layout": layout(
        "Best score over time, and what the operator did",
        xaxis={"title": {"text": UNIT_TIME}, "type": "date", "anchor": "y2"},
        yaxis={"title": {"text": unit}, "domain": [0.3, 1.0], "rangemode": "tozero"},
        yaxis2={"domain": [0.0, 0.2], "type": "category", "categoryorder": "array",
                "categoryarray": list(MARK_SYMBOLS)},
        margin={"l": 80, "r": 60, "t": 80, "b": 45}, height=520)}


def score_over_versions(versions: Sequence[VersionFacts], baselines: dict[str, float],
                        unit: str) -> Figure:
    """Score against version, as the AVO paper draws it, with each commit's gain at the gate
    and its standard error below."""
    numbers = [v.number for v in versions]
    gains = [100 * (v.gain - 1) if v.gain is not None else None for v in versions]
    errors = [100 * v.gain * v.gain_se if v.gain is not None and v.gain_se is not None
              else None for v in versions]
    data = [{"type": "scatter", "mode": "lines", "name": "best so far", "x": numbers,
             "y": best_so_far(versions), "line": {"shape": "hv", "color": "#16a34a"},
             "hoverinfo": "skip"},
            *_levels(baselines, numbers), *_by_author(versions, numbers,
                                                      [v.gmean for v in versions]),
            {"type": "bar", "name": "gain at the gate", "x": numbers, "y": gains,
             "yaxis": "y2", "marker": {"color": "#16a34a"}, "customdata": [v.id for v in versions],
             "error_y": {"type": "data", "array": [e or 0.0 for e in errors], "visible": True,
                         "color": "#374151", "thickness": 1},
             "text": [f" ± {e:.2f}%" if e is not None else "" for e in errors],
             "textposition": "none",
             "hovertemplate": "%{customdata}: %{y:+.2f}%%{text}<extra></extra>"}]
    return {"data": data, "layout": layout(
        "Score against version; each commit's gain at the gate (± one standard error)",
        xaxis={"title": {"text": "version"}, "anchor": "y2", **version_ticks(versions)},
        yaxis={"title": {"text": unit}, "domain": [0.38, 1.0], "rangemode": "tozero"},
        yaxis2={"title": {"text": "gain %"}, "domain": [0.0, 0.3], "zeroline": True},
        height=560, bargap=0.2)}


def lineage(versions: Sequence[VersionFacts], rows: dict[str, int], forks: set[str],
            rollbacks: Sequence[Rollback], head: str | None, best: str | None) -> Figure:
    """The lineage as a tree: across, the version; down, its branch. A click on a version
    opens its diff and notes beside the tree (report.js)."""
    where = {v.id: (v.number, rows.get(v.id, 0)) for v in versions}
    edges_x: list[int | None] = []
    edges_y: list[int | None] = []
    for v in versions:
        if v.parent in where:
            (px, py), (x, y) = where[v.parent], where[v.id]
            edges_x += [px, px, x, None]  # down the parent's column, then across: a git graph
            edges_y += [py, y, y, None]
    back_x: list[int | None] = []
    back_y: list[int | None] = []
    for r in rollbacks:
        if r.from_version in where and r.to_version in where:
            back_x += [where[r.from_version][0], where[r.to_version][0], None]
            back_y += [where[r.from_version][1], where[r.to_version][1], None]
    data = [{"type": "scatter", "mode": "lines", "x": edges_x, "y": edges_y,
             "line": {"color": "#9ca3af", "width": 1.5}, "hoverinfo": "skip",
             "showlegend": False},
            {"type": "scatter", "mode": "lines", "x": back_x, "y": back_y, "name": "rollback",
             "line": {"color": "#ea580c", "width": 1, "dash": "dot"}, "hoverinfo": "skip"},
            *_by_author(versions, [where[v.id][0] for v in versions],
                        [where[v.id][1] for v in versions]),
            _ring("fork (branches here)", [where[f] for f in forks if f in where], "#111827")]
    notes = [{"x": where[vid][0], "y": where[vid][1], "text": label, "showarrow": True,
              "arrowhead": 0, "ax": 0, "ay": -22, "font": {"size": 11}}
             for vid, label in ((best, "★ best"), (head, "◀ head")) if vid in where]
    height = min(900, 260 + 28 * max(rows.values(), default=0))
    return {"data": data, "layout": layout(
        "Lineage: click a version for its diff and notes", height=height, annotations=notes,
        xaxis={"title": {"text": "version"}, "zeroline": False, **version_ticks(versions)},
        yaxis={"autorange": "reversed", "title": {"text": "branch"}, "dtick": 1,
               "zeroline": False})}


def _ring(name: str, points: Sequence[tuple[int, int]], colour: str) -> dict[str, Any]:
    return {"type": "scatter", "mode": "markers", "name": name,
            "x": [p[0] for p in points], "y": [p[1] for p in points], "hoverinfo": "skip",
            "marker": {"symbol": "circle-open", "size": 16, "color": colour,
                       "line": {"width": 1.5}}}


def ratios(table: dict[str, dict[str, float]], title: str) -> Figure:
    """Each configuration's ratio to each baseline (above 1: faster than it)."""
    configs = list(table)
    names = sorted({name for row in table.values() for name in row})
    z = [[table[c].get(n) for n in names] for c in configs]
    text = [[f"{r:.3f}x" if r else "" for r in row] for row in z]
    values = [math.log(r) for row in z for r in row if r]
    reach = max((abs(v) for v in values), default=0.1) or 0.1
    return {"data": [{"type": "heatmap", "x": names, "y": configs,
                      "z": [[math.log(r) if r else None for r in row] for row in z],
                      "text": text, "texttemplate": "%{text}", "zmin": -reach, "zmax": reach,
                      "colorscale": "RdBu", "showscale": False,
                      "hovertemplate": "%{y} against %{x}: %{text}<extra></extra>"}],
            "layout": layout(title, height=max(260, 120 + 26 * len(configs)),
                             margin={"l": 170, "r": 20, "t": 40, "b": 60},
                             yaxis={"autorange": "reversed"})}


def attempts_per_hour(hourly: Hourly) -> Figure:
    hours = [when(hourly.start + h * HOUR_S) for h in range(hourly.hours)]
    data = [{"type": "bar", "name": group, "x": hours, "y": counts,
             "marker": {"color": GROUP_COLOURS.get(group, "#6b7280")},
             "hovertemplate": f"%{{x}}: %{{y}} {group}<extra></extra>"}
            for group, counts in hourly.counts.items()]
    return {"data": data, "layout": layout(
        f"Attempts per hour by outcome ({hourly.total:,} in all)", barmode="stack",
        xaxis={"title": {"text": UNIT_TIME}, "type": "date"},
        yaxis={"title": {"text": "attempts"}}, height=380)}


def spending(spends: Sequence[Spend]) -> Figure:
    """The agent's cost and tokens, summed step by step over time."""
    times, cost, tokens = [], [], []
    total_cost, total_tokens = 0.0, 0
    for spend in spends:
        total_cost += spend.cost_usd
        total_tokens += spend.tokens
        times.append(when(spend.ts))
        cost.append(round(total_cost, 4))
        tokens.append(total_tokens)
    return {"data": [
        {"type": "scatter", "mode": "lines", "name": "cost ($)", "x": times, "y": cost,
         "line": {"color": "#7c3aed", "shape": "hv"}},
        {"type": "scatter", "mode": "lines", "name": "tokens", "x": times, "y": tokens,
         "yaxis": "y2", "line": {"color": "#0891b2", "shape": "hv", "dash": "dot"}}],
        "layout": layout("Cost and tokens over time (summed over the agent's steps)",
                         xaxis={"title": {"text": UNIT_TIME}, "type": "date"},
                         yaxis={"title": {"text": "$"}, "rangemode": "tozero"},
                         yaxis2={"title": {"text": "tokens"}, "overlaying": "y",
                                 "side": "right", "rangemode": "tozero"},
                         height=360)}
