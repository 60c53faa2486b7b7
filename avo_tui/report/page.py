"""The report as one HTML file that needs nothing else: plotly.js, the styles, the script and
every figure, diff and note are inside it, so it opens offline, from a mail attachment or a
laptop with no network, years later (docs/report.md says why plotly)."""

from __future__ import annotations

import json
import math
from functools import cache
from html import escape
from importlib import resources
from string import Template

from .. import __version__
from .build import ReportData

# The page's sections, in order: (element ids, how they are laid out)
SECTIONS = (
    (("score-time",), "one"),
    (("score-versions",), "one"),
    (("lineage",), "lineage"),
    (("ratios-seed", "ratios-best"), "pair"),
    (("attempts",), "one"),
    (("spending",), "one"),
)


@cache
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@cache
def plotly_js() -> tuple[str, str]:
    """plotly.js, minified, as the plotly package ships it, and its version."""
    import plotly
    from plotly.offline import get_plotlyjs

    return get_plotlyjs(), str(plotly.__version__)


def script_json(doc: object) -> str:
    """JSON that can sit inside a <script> element: no "<" can close it or open a comment,
    and a figure that is not finite (a damaged record) is null, which JSON.parse reads."""
    return json.dumps(_finite(doc), separators=(",", ":"), allow_nan=False).replace(
        "<", "\\u003c")


def _finite(doc: object) -> object:
    if isinstance(doc, float):
        return doc if math.isfinite(doc) else None
    if isinstance(doc, dict):
        return {key: _finite(value) for key, value in doc.items()}
    if isinstance(doc, list | tuple):
        return [_finite(value) for value in doc]
    return doc


def render(data: ReportData) -> str:
    js, plotly_version = plotly_js()
    return Template(_asset("page.html")).substitute(
        version=escape(__version__), plotly=escape(plotly_version), name=escape(data.name),
        css=_asset("report.css"), plotly_js=js, report_js=_asset("report.js"),
        facts="".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>"
                      for label, value in data.facts),
        sections="\n".join(_sections(data)), data=script_json(data.to_doc()))


def _sections(data: ReportData) -> list[str]:
    out = []
    for ids, form in SECTIONS:
        present = [i for i in ids if i in data.figures]
        if not present:
            continue
        if form == "lineage":
            out.append('<section class="lineage-row"><div id="lineage"></div><aside>'
                       f'<div class="pick">{_picker(data)}</div><div id="version"></div>'
                       "</aside></section>")
        else:
            divs = "".join(f'<div id="{i}"></div>' for i in present)
            out.append(f'<section class="{form}">{divs}</section>')
    if data.marks:
        rows = "".join(f"<tr><td>{escape(t)}</td><td>{escape(k)}</td><td>{escape(text)}</td></tr>"
                       for t, k, text in data.marks)
        out.append('<section><h2>What the operator did</h2>'
                   f'<table class="marks" id="marks">{rows}</table></section>')
    if data.notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in data.notes)
        out.append(f'<section class="notes"><ul>{items}</ul></section>')
    return out


def _picker(data: ReportData) -> str:
    """Every version in a list, newest first: the keyboard's way to what a click shows."""
    options = "".join(f'<option value="{escape(v.id)}">{escape(v.id)} {escape(v.author)}'
                      f"{' ' + format(v.gmean, '.4g') if v.gmean is not None else ''}</option>"
                      for v in reversed(data.versions))
    return f'<label>version <select id="pick">{options}</select></label>'
