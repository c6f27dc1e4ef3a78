"""The HTML report of a scan (``scanner scan --report DIR``): one self-contained page with a
sortable table of the images (thumbnail, verdict, named operation, scores) linking to each
image's figure. Works from the file system, without a server or network."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

SCRIPT = """
const table = document.getElementById('images');
function sortBy(column, descending) {
  const rows = Array.from(table.tBodies[0].rows);
  rows.sort((a, b) => {
    const x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
    const nx = parseFloat(x), ny = parseFloat(y);
    const c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
    return descending ? -c : c;
  });
  rows.forEach(r => table.tBodies[0].appendChild(r));
  table.dataset.sorted = column + (descending ? ':desc' : ':asc');
  Array.from(table.tHead.rows[0].cells).forEach((th, i) =>
    th.setAttribute('aria-sort', i === column ? (descending ? 'descending' : 'ascending') : 'none'));
}
Array.from(table.tHead.rows[0].cells).forEach((th, i) => th.addEventListener('click', () => {
  sortBy(i, th.getAttribute('aria-sort') !== 'descending');
}));
const wanted = new URLSearchParams(location.hash.slice(1)).get('sort');
if (wanted) {
  const th = document.querySelector(`th[data-key="${wanted}"]`);
  if (th) sortBy(th.cellIndex, true);
} else {
  sortBy(document.querySelector('th[data-key="flagged"]').cellIndex, true);
}
"""

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th { cursor: pointer; background: #eee; position: sticky; top: 0; }
th[aria-sort="ascending"]::after { content: " \\25B2"; } th[aria-sort="descending"]::after { content: " \\25BC"; }
td, th { border: 1px solid #ccc; padding: 4px 8px; vertical-align: middle; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.flag { color: #b00; font-weight: bold; }
tr.error td { color: #777; }
img.thumb { max-width: 160px; max-height: 120px; display: block; }
.thr { color: #666; font-size: 85%; white-space: nowrap; }
ul.regions, ul.warnings { margin: 0; padding-left: 1.1em; font-size: 90%; min-width: 16em; }
ul.warnings li { color: #8a5a00; }
"""


def score_cell(d) -> str:
    """A detector's score beside its image threshold, and its margin over it (negative: below),
    to three decimals: thresholds sit near 1, where two decimals would show a flagged 0.999 over
    0.997 as 1.00 over 1.00."""
    margin = d.score - d.threshold
    spread = "" if d.spread_score is None else (f'<div class="thr spread">spread {d.spread_score:.2f}, thr '
                                                f'{d.spread_threshold:.2f}, {d.spread_score - d.spread_threshold:+.2f}</div>')
    extent = f'<div class="thr extent">{d.extent}</div>' if d.flagged else ""
    explained = f'<div class="thr explained">{html.escape(d.explained)}</div>' if d.explained else ""
    return (f'<td data-value="{d.score:.4f}" class="num{" flag" if d.flagged else ""}">{d.score:.3f}'
            f'<div class="thr">thr {d.threshold:.3f}, {margin:+.3f}</div>{spread}{extent}{explained}</td>')


def naming_cell(record) -> str:
    """The operation named, or the candidates it cannot tell apart, each with its margin (logits)."""
    if record.naming is None or not record.naming.candidates:
        return '<td data-value="">-</td>'
    items = "".join(f'<li class="candidate">{html.escape(c.operation)}'
                    + ("" if c.margin is None else f' <span class="thr">margin {c.margin:+.2f}</span>')
                    + ("" if c.probability is None else f' <span class="thr">p {c.probability:.2f}</span>') + "</li>"
                    for c in record.naming.candidates)
    label = html.escape(record.naming.label) + ("" if record.operation else " (cannot tell)")
    return f'<td data-value="{html.escape(record.naming.label)}">{label}<ul class="regions">{items}</ul></td>'


def jpeg_cell(record) -> str:
    """A JPEG file's own quality and what its coefficients say of an earlier compression."""
    j = record.jpeg
    if j is None:
        return '<td data-value="">-</td>'
    earlier = f", earlier about {j.earlier_quality}" if j.earlier_quality else ""
    if j.earlier_grid:
        earlier += f", on a grid shifted by {j.earlier_grid[0]} rows, {j.earlier_grid[1]} columns (cropped in between)"
    return (f'<td data-value="{j.quality}" class="jpeg">quality {j.quality}'
            f'<div class="thr">double compression: {j.double_compression}{earlier}</div></td>')


def regions_cell(record) -> str:
    """Each flagged region: its detector, box [x0, y0, x1, y1) in pixels, windows and operation."""
    items = [f'<li class="region" data-detector="{html.escape(r.detector)}" data-bbox="{",".join(map(str, r.bbox))}">'
             f'{html.escape(r.detector)}: x {r.bbox[0]}-{r.bbox[2]}, y {r.bbox[1]}-{r.bbox[3]} px '
             f'({r.windows} windows{", " + html.escape(r.operation) if r.operation else ""})</li>' for r in record.regions]
    return f'<td data-value="{len(items)}">' + (f'<ul class="regions">{"".join(items)}</ul>' if items else "-") + "</td>"


def warnings_cell(record) -> str:
    """The record's warnings, and its error if it could not be analysed."""
    notes = list(record.warnings) + ([record.error["message"]] if record.error else [])
    items = "".join(f'<li class="warning">{html.escape(n)}</li>' for n in notes)
    return f'<td data-value="{len(notes)}">' + (f'<ul class="warnings">{items}</ul>' if items else "") + "</td>"


def _relative(path: str | None, folder: Path) -> str | None:
    return None if path is None else Path(os.path.relpath(Path(path).absolute(), folder.absolute())).as_posix()


def write_report(folder: Path, header: dict, records: list, summary: dict, names: list[str]) -> Path:
    """Write ``folder/index.html`` for a finished (or interrupted) scan; returns its path."""
    rows = []
    for r in records:
        figure = _relative((r.heatmaps or {}).get("figure"), folder)
        thumb = _relative((r.heatmaps or {}).get("thumbnail"), folder)
        image = f'<a href="{html.escape(figure)}"><img class="thumb" src="{html.escape(thumb)}" alt="figure"></a>' if thumb and figure else ""
        cells = [f'<td data-value="">{image}</td>',
                 f'<td data-value="{html.escape(r.path)}">{html.escape(r.path)}</td>',
                 f'<td data-value="{int(r.flagged)}" class="{"flag" if r.flagged else ""}">{html.escape(r.verdict)}</td>',
                 naming_cell(r)]
        for name in names:
            d = r.detections.get(name)
            if d is None:
                cells.append('<td data-value="-1" class="num">-</td>')
            else:
                cells.append(score_cell(d))
        cells += [jpeg_cell(r), regions_cell(r), warnings_cell(r)]
        rows.append(f'<tr class="{"error" if r.status != "ok" else ""}">{"".join(cells)}</tr>')
    columns = [("figure", "figure"), ("path", "file"), ("flagged", "verdict"), ("operation", "named operation")]
    columns += [(f"score-{n}", f"{n} score") for n in names] + [("jpeg", "JPEG history"), ("regions", "regions"),
                                                                ("warnings", "warnings")]
    head = "".join(f'<th data-key="{k}" aria-sort="none">{html.escape(label)}</th>' for k, label in columns)
    options = header["options"]
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>scanner report</title><style>{STYLE}</style></head>
<body>
<h1>scanner report</h1>
<p>{summary['files']} files: {summary['ok']} analysed, <b>{summary['flagged_images']} with evidence of processing</b>,
{summary['error']} errors, {summary['skipped']} skipped{' (interrupted)' if summary.get('interrupted') else ''}.
Scanned {html.escape(str(header['started']))} to {html.escape(str(header['finished']))} by scanner {html.escape(header['tool']['version'])},
windows of {options['window']} px every {options['stride']} px. Click a column to sort; click a thumbnail for its figure.
Each score is the detector's image score beside its image threshold ("thr") and its margin over it: an image
is flagged by a detector only above its threshold, so a high score below it is not a detection.
"spread" is the mean window logit over the whole image beside its own threshold and margin: above it, the
processing covers the image (global), and the region is the whole image. The named operation is one name only
where the operation head is sure of it; otherwise the operations the scanner cannot tell apart, each with its
detector's margin (logits) and the head's probability. A JPEG file's own quality and any trace of an earlier
compression are in "JPEG history" (docs/jpeg-history.md).
Regions are boxes in pixels of the stored image, x0-x1 by y0-y1 from the top-left corner.
No evidence is not proof of authenticity.</p>
<table id="images"><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
<script type="application/json" id="scan-data">{html.escape(json.dumps({"summary": summary, "options": options}))}</script>
<script>{SCRIPT}</script>
</body></html>
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
