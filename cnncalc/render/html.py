"""`summary --format html`: one self-contained page — the diagram, a sortable table with the worked
formulas on demand, totals and memory, and a receptive-field view over the input grid.

Self-contained means it loads nothing: styles, script, data and the SVG are inline, and a
Content-Security-Policy forbids any request, so the page shows the same offline and leaks nothing.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ..calc.analysis import Summary
from .common import View, rows, totals_lines
from .diagram import layout, svg
from .jsonfmt import summary_dict

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

_STYLE = """
body { font-family: system-ui, "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #1b1f24; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.diagram { overflow-x: auto; border: 1px solid #dde; padding: 4px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e6ea; text-align: left; vertical-align: top; }
th { cursor: pointer; background: #f4f6f8; user-select: none; white-space: nowrap; }
th.sorted-asc::after { content: " ▲"; } th.sorted-desc::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.explain { display: none; color: #4a5563; font-size: 12px; white-space: pre-wrap; }
body.explaining .explain { display: block; }
.totals { font-size: 14px; line-height: 1.6; }
#rf-view svg { border: 1px solid #ccd; background: #fff; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("data").textContent);
  // Sortable table: numbers by value (thousands separators ignored), text by locale.
  const table = document.getElementById("layers");
  const body = table.tBodies[0];
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      const ascending = !th.classList.contains("sorted-asc");
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
      const key = function (row) {
        const text = row.cells[column].dataset.sort || row.cells[column].textContent.trim();
        const value = Number(text.replace(/,/g, ""));
        return text !== "" && !Number.isNaN(value) ? value : text;
      };
      const sorted = Array.from(body.rows).sort(function (a, b) {
        const x = key(a), y = key(b);
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      sorted.forEach(function (row) { body.appendChild(row); });
    });
  });
  document.getElementById("show-explain").addEventListener("change", function (event) {
    document.body.classList.toggle("explaining", event.target.checked);
  });
  // Receptive field: the chosen layer's field for one output pixel, over the input grid.
  const select = document.getElementById("rf-layer");
  const rowInput = document.getElementById("rf-row");
  const colInput = document.getElementById("rf-col");
  const view = document.getElementById("rf-view");
  const note = document.getElementById("rf-note");
  const withField = data.layers.filter(function (l) { return l.receptive_field && l.receptive_field.size.length === 2; });
  withField.forEach(function (l) {
    const option = document.createElement("option");
    option.value = String(l.index);
    option.textContent = l.index + " " + l.name + " (" + l.type + ")";
    select.appendChild(option);
  });
  const svgNS = "http://www.w3.org/2000/svg";
  function rect(parent, x, y, w, h, fill, stroke, dash) {
    const r = document.createElementNS(svgNS, "rect");
    r.setAttribute("x", x); r.setAttribute("y", y); r.setAttribute("width", w); r.setAttribute("height", h);
    r.setAttribute("fill", fill); r.setAttribute("stroke", stroke);
    if (dash) { r.setAttribute("stroke-dasharray", "4 3"); }
    parent.appendChild(r);
    return r;
  }
  function draw() {
    view.textContent = "";
    const layer = withField.find(function (l) { return String(l.index) === select.value; });
    const H = Number(data.input[0]), W = Number(data.input[1]);
    if (!layer || !Number.isFinite(H) || !Number.isFinite(W)) {
      note.textContent = withField.length ? "Symbolic input sizes: give numbers with --where to draw the field." :
        "No layer keeps the spatial layout, so there is no receptive field to draw.";
      return;
    }
    const outH = Number(layer.output_shape[0]), outW = Number(layer.output_shape[1]);
    rowInput.max = String(outH - 1); colInput.max = String(outW - 1);
    const i = Math.min(Math.max(Number(rowInput.value) || 0, 0), outH - 1);
    const j = Math.min(Math.max(Number(colInput.value) || 0, 0), outW - 1);
    const rf = layer.receptive_field;
    const scale = Math.max(0.5, Math.min(320 / Math.max(H, W), 24));
    const margin = 20;
    const extra = Math.max(rf.size[0], rf.size[1]) * scale / 2;
    const side = Math.max(H, W) * scale + 2 * (margin + extra);
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("width", side); svg.setAttribute("height", side);
    const ox = margin + extra, oy = margin + extra;
    rect(svg, ox, oy, W * scale, H * scale, "#dbe8f6", "#456", false);
    if (scale >= 6) {
      for (let r = 1; r < H; r++) { rect(svg, ox, oy + r * scale, W * scale, 0.01, "none", "#b8c8dc", false); }
      for (let c = 1; c < W; c++) { rect(svg, ox + c * scale, oy, 0.01, H * scale, "none", "#b8c8dc", false); }
    }
    const cy = rf.start[0] + i * rf.jump[0], cx = rf.start[1] + j * rf.jump[1];
    const top = cy - (rf.size[0] - 1) / 2, left = cx - (rf.size[1] - 1) / 2;
    const field = rect(svg, ox + left * scale, oy + top * scale, rf.size[1] * scale, rf.size[0] * scale,
                       "rgba(220, 80, 40, 0.25)", "#c0392b", true);
    field.setAttribute("id", "rf-field");
    rect(svg, ox + (cx - 0.5) * scale, oy + (cy - 0.5) * scale, scale, scale, "#c0392b", "#c0392b", false);
    view.appendChild(svg);
    const outside = top < 0 || left < 0 || top + rf.size[0] > H || left + rf.size[1] > W;
    note.textContent = "Output pixel (" + i + ", " + j + ") of " + layer.name + " sees " + rf.size[0] + "×" +
      rf.size[1] + " input pixels centred on (" + cy + ", " + cx + "); jump " + rf.jump[0] + "×" + rf.jump[1] +
      (outside ? "; the dashed part beyond the input is padding." : ".");
  }
  [select, rowInput, colInput].forEach(function (el) { el.addEventListener("input", draw); });
  if (withField.length) { select.value = String(withField[withField.length - 1].index); }
  draw();
  document.body.dataset.ready = "yes";
})();
"""

_NUMERIC = (0, 3, 4, 5)


def render_html(summary: Summary, view: View) -> str:
    data = summary_dict(summary, View(True, None, view.batch))
    diagram = svg(layout(summary, view.depth))
    title = escape(summary.name)
    head = ["#", "Layer (type)", "Output shape", "Size", "Params", "MACs", "Receptive field"]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{title} — cnncalc</title><style>{_STYLE}</style></head>",
           f'<body{" class=explaining" if view.explain else ""}><h1>{title}</h1>',
           '<h2>Diagram</h2><div class="diagram">', diagram, "</div>",
           ('<h2>Layers</h2><p><label><input type="checkbox" id="show-explain"'
           f'{" checked" if view.explain else ""}> show the worked formulas</label> · click a column to sort</p>'),
           '<table id="layers"><thead><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for row, explain in rows(summary, View(True, view.depth, view.batch)):
        cells = []
        for k, cell in enumerate(row):
            css = ' class="num"' if k in _NUMERIC else ""
            sort = ' data-sort="0"' if k == 0 and row[0] == "" else ""
            text = escape(cell)
            if k == 1 and explain:
                text += '<div class="explain">' + escape("\n".join(explain)) + "</div>"
            cells.append(f"<td{css}{sort}>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    out.append('<h2>Totals</h2><div class="totals">' + "<br>".join(escape(line) for line in
                                                                  totals_lines(summary, view)) + "</div>")
    out.append('<h2>Receptive field</h2><p><label>Layer <select id="rf-layer"></select></label> '
               '<label>output row <input id="rf-row" type="number" min="0" value="0" style="width:5em"></label> '
               '<label>column <input id="rf-col" type="number" min="0" value="0" style="width:5em"></label></p>'
               '<p id="rf-note"></p><div id="rf-view"></div>')
    out.append(f'<script type="application/json" id="data">{_json_for_script(data)}</script>')
    out.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(out) + "\n"


def _json_for_script(data: Any) -> str:
    """JSON inside <script>: `<`, `>` and `&` written as escapes so no name can close the element."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
