// The report's page: draws the figures the report built (plotly.js, embedded above) and shows
// a version's diff and notes when it is clicked in the lineage or chosen in the list. Nothing
// is fetched: every figure, diff and note is in the page's data. Text from the session is
// always set as text (textContent), never as markup.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("avo-data").textContent);
  const config = { displaylogo: false, responsive: true };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function figure(value, digits) {
    return value === null || value === undefined ? "-" : Number(value).toPrecision(digits || 4);
  }

  function gainText(v) {
    if (v.gain === null) return "-";
    const pct = (100 * (v.gain - 1)).toFixed(2);
    const se = v.gain_se === null ? "" : " ± " + (100 * v.gain * v.gain_se).toFixed(2) + "%";
    return (v.gain >= 1 ? "+" : "") + pct + "%" + se + (v.beside ? " on " + v.beside : "");
  }

  function diffView(text) {
    const pre = el("pre", "diff");
    for (const line of text.split("\n")) {
      let kind = "";
      if (line.startsWith("+++") || line.startsWith("---")) kind = "file";
      else if (line.startsWith("@@")) kind = "hunk";
      else if (line.startsWith("+")) kind = "add";
      else if (line.startsWith("-")) kind = "del";
      pre.appendChild(el("span", kind, line + "\n"));
    }
    return pre;
  }

  function showVersion(id) {
    const v = data.versions[id];
    const panel = document.getElementById("version");
    if (!v || !panel) return;
    panel.replaceChildren();
    panel.dataset.version = id;
    const marks = (id === data.best ? " ★ best" : "") + (id === data.head ? " ◀ head" : "");
    panel.appendChild(el("h3", "", id + " by " + v.author + (v.lane ? " in lane " + v.lane : "")
      + (v.parent ? ", from " + v.parent : "") + marks));
    const facts = el("dl", "facts");
    const rows = [
      ["score", v.gmean === null ? "-" : figure(v.gmean) + " " + v.unit],
      ["ratio", v.ratio === null ? "-" : v.ratio.toFixed(3) + "x"],
      ["gain at the gate", gainText(v)],
      ["committed", new Date(v.created * 1000).toISOString().replace("T", " ").slice(0, 19)
        + " UTC"],
      ["cost", v.cost_usd ? "$" + v.cost_usd.toFixed(2) + ", " + v.tokens + " tokens" : "-"],
      ["lines", "+" + v.added + " / -" + v.removed],
    ];
    for (const [label, value] of rows) {
      facts.appendChild(el("dt", "", label));
      facts.appendChild(el("dd", "", value));
    }
    panel.appendChild(facts);
    for (const [label, text] of [["message", v.message], ["the gate", v.gate],
                                 ["lesson", v.lesson]]) {
      if (text) {
        panel.appendChild(el("h4", "", label));
        panel.appendChild(el("p", "note", text));
      }
    }
    panel.appendChild(el("h4", "", v.parent ? "diff against " + v.parent : "files"));
    panel.appendChild(v.diff ? diffView(v.diff) : el("p", "note", "no change in the files"));
    const pick = document.getElementById("pick");
    if (pick) pick.value = id;
  }

  function draw() {
    const drawing = [];
    for (const [id, fig] of Object.entries(data.figures)) {
      const node = document.getElementById(id);
      if (node) drawing.push(Plotly.newPlot(node, fig.data, fig.layout, config));
    }
    const tree = document.getElementById("lineage");
    Promise.all(drawing).then(function () {
      if (tree) {
        tree.on("plotly_click", function (event) {
          const point = event.points && event.points[0];
          if (point && typeof point.customdata === "string") showVersion(point.customdata);
        });
      }
      document.body.dataset.drawnMs = String(Math.round(performance.now()));
      document.body.dataset.drawn = String(drawing.length);
    });
    const pick = document.getElementById("pick");
    if (pick) pick.addEventListener("change", function () { showVersion(pick.value); });
    showVersion(data.best || data.head);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
