"""Server-rendered, accessible SVG charts of a ModuleReport (no JavaScript, no CDN).

Each chart is `role="img"` with a <title> and a <desc> that states the numbers in words; labels are told
apart by pattern and by text as well as by colour; the viewBox is 560 units wide and scales down to a
narrow LMS iframe. Hidden (privacy) cells are drawn as a dashed outline with "fewer than N responses".
"""

from __future__ import annotations

from datetime import date
from html import escape

from django.utils.safestring import SafeString, mark_safe

from classifiers.reports.selectors import LabelShare, ModuleReport, ModuleRow, WeekCell, fewer_than

WIDTH = 560
BAR_H = 18
ROW_H = 44
# One pattern per label position, drawn over the label's colour so print and colour-blind readers can tell.
PATTERNS = (
    '<path d="M0,6 L6,0" stroke="#fff" stroke-width="1.6"/>',  # diagonal hatch
    '<circle cx="3" cy="3" r="1.2" fill="#fff"/>',  # dots
    "",  # solid
    '<path d="M0,3 L6,3" stroke="#fff" stroke-width="1.4"/>',  # horizontal lines
    '<path d="M3,0 L3,6" stroke="#fff" stroke-width="1.4"/>',  # vertical lines
)
DASHES = ("", "6 3", "2 3", "10 3 2 3", "1 5")
MARKERS = ("circle", "square", "triangle", "diamond", "circle")


def _pattern_defs(prefix: str, labels: list[tuple[str, str]]) -> str:
    defs = []
    for i, (_, color) in enumerate(labels):
        overlay = PATTERNS[i % len(PATTERNS)]
        defs.append(
            f'<pattern id="{prefix}-p{i}" width="6" height="6" patternUnits="userSpaceOnUse">'
            f'<rect width="6" height="6" fill="{escape(color)}"/>{overlay}</pattern>'
        )
    return "<defs>" + "".join(defs) + "</defs>"


def _svg(chart_id: str, height: int, title: str, desc: str, body: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every interpolated text is escaped above and here
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="13">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


def _legend(prefix: str, labels: list[tuple[str, str]], y: int) -> str:
    parts, x = [], 0
    for i, (name, _) in enumerate(labels):
        parts.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" fill="url(#{prefix}-p{i})" stroke="#111" stroke-width=".5"/>'
            f'<text x="{x + 19}" y="{y + 12}">{escape(name)}</text>'
        )
        x += 30 + 8 * len(name)
    return '<g aria-hidden="true">' + "".join(parts) + "</g>"


def _bar(prefix: str, y: int, title: str, cells: list[LabelShare], labels: list[tuple[str, str]],
         note: str) -> str:
    out = [f'<text x="0" y="{y + 13}" font-weight="600">{escape(title)}</text>']
    top = y + 18
    if not cells:
        out.append(
            f'<rect x="0" y="{top}" width="{WIDTH}" height="{BAR_H}" fill="#f3f4f6" stroke="#6b7280" '
            f'stroke-dasharray="4 3"/><text x="8" y="{top + 13}" fill="#374151">{escape(note)}</text>'
        )
        return "".join(out)
    x = 0.0
    index = {name: i for i, (name, _) in enumerate(labels)}
    for cell in cells:
        w = cell.share * WIDTH
        if w <= 0:
            continue
        i = index[cell.label]
        out.append(
            f'<rect x="{x:.1f}" y="{top}" width="{w:.1f}" height="{BAR_H}" fill="url(#{prefix}-p{i})">'
            f"<title>{escape(cell.label)}: {cell.share:.0%} ({cell.count})</title></rect>"
        )
        text = f"{cell.label[:3]} {cell.share:.0%}" if w >= 66 else (f"{cell.share:.0%}" if w >= 34 else "")
        if text:
            out.append(
                f'<text x="{x + 4:.1f}" y="{top + 13}" fill="#fff" stroke="#111" stroke-width="2.5" '
                f'paint-order="stroke" font-weight="600">{escape(text)}</text>'
            )
        x += w
    return "".join(out)


def _words(cells: list[LabelShare]) -> str:
    return ", ".join(f"{c.label} {c.share:.0%} ({c.count})" for c in cells)


def module_bars(report: ModuleReport) -> SafeString:
    """100% stacked bar per module, the course average first."""
    prefix = "bars"
    rows: list[tuple[str, list[LabelShare], str]] = [
        ("Course average (modules shown)", report.course_average, "no module has enough responses")
    ]
    rows += [(m.title, m.distribution, m.note) for m in report.modules]
    body = [_pattern_defs(prefix, report.labels), _legend(prefix, report.labels, 0)]
    for i, (title, cells, note) in enumerate(rows):
        body.append(_bar(prefix, 24 + i * ROW_H, title, cells, report.labels, note))
    desc = "; ".join(f"{title}: {_words(cells) if cells else note}" for title, cells, note in rows)
    return _svg("chart-modules", 24 + len(rows) * ROW_H, f"Share of {report.schema} labels per module", desc,
                "".join(body))


def _marker(kind: str, x: float, y: float, color: str) -> str:
    if kind == "square":
        return f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="{color}"/>'
    if kind == "triangle":
        return f'<path d="M{x:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 3:.1f} L{x - 4:.1f},{y + 3:.1f} Z" fill="{color}"/>'
    if kind == "diamond":
        d = f"M{x:.1f},{y - 4:.1f} L{x + 4:.1f},{y:.1f} L{x:.1f},{y + 4:.1f} L{x - 4:.1f},{y:.1f} Z"
        return f'<path d="{d}" fill="{color}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>'


def trend_lines(chart_id: str, title: str, weeks: list[date], trend: list[WeekCell],
                labels: list[tuple[str, str]], note: str, height: int = 200) -> SafeString:
    """Weekly share per label; hidden weeks break the line and are shaded."""
    left, right, top, bottom = 44, 70, 10, 22
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    n = max(len(weeks), 1)

    def xy(i: int, share: float) -> tuple[float, float]:
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        return x, top + plot_h * (1 - share)

    body = [
        '<g stroke="#d1d5db">' + "".join(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            for y in (top + plot_h * (1 - s) for s in (0, 0.5, 1))) + "</g>",
        "".join(f'<text x="{left - 4}" y="{top + plot_h * (1 - s) + 4:.1f}" text-anchor="end" fill="#374151">'
                f"{s:.0%}</text>" for s in (0, 0.5, 1)),
    ]
    for i, cell in enumerate(trend):
        if not cell.shown:
            x, _ = xy(i, 0)
            body.append(f'<rect x="{x - 3:.1f}" y="{top}" width="6" height="{plot_h}" fill="#f3f4f6"/>')
    if weeks:
        for i in sorted({0, len(weeks) // 2, len(weeks) - 1}):
            x, _ = xy(i, 0)
            body.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" fill="#374151">'
                        f"{weeks[i]:%d %b}</text>")
    ends = _end_label_positions(labels, trend, xy)
    for li, (name, color) in enumerate(labels):
        body.append(_series(li, name, color, trend, xy, ends.get(name)))
    desc = _trend_words(weeks, trend, labels, note)
    return _svg(chart_id, height, title, desc, "".join(body))


def _end_label_positions(labels: list[tuple[str, str]], trend: list[WeekCell], xy) -> dict:  # noqa: ANN001
    """y of each line's end label, pushed apart so close lines keep legible labels (>= 14 units apart)."""
    last = next((i for i in range(len(trend) - 1, -1, -1) if trend[i].shown), None)
    if last is None:
        return {}
    ys = sorted((xy(last, trend[last].shares.get(name, 0.0))[1], name) for name, _ in labels)
    placed: dict[str, float] = {}
    previous = -1e9
    for y, name in ys:
        previous = max(y, previous + 14)
        placed[name] = previous
    return placed


def _series(li: int, name: str, color: str, trend: list[WeekCell], xy, end_y: float | None) -> str:  # noqa: ANN001
    segments, current, points = [], [], []
    for i, cell in enumerate(trend):
        if cell.shown:
            x, y = xy(i, cell.shares.get(name, 0.0))
            current.append(f"{x:.1f},{y:.1f}")
            points.append((x, y))
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    dash = DASHES[li % len(DASHES)]
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    paths = "".join(
        f'<polyline points="{" ".join(seg)}" fill="none" stroke="{escape(color)}" stroke-width="2"{dash_attr}/>'
        for seg in segments
    )
    step = max(1, len(points) // 12)  # a marker every few weeks keeps 52 weeks legible at 600 px
    marks = "".join(_marker(MARKERS[li % len(MARKERS)], x, y, escape(color)) for x, y in points[::step])
    end = ""
    if points and end_y is not None:
        x, _ = points[-1]
        end = f'<text x="{x + 6:.1f}" y="{end_y + 4:.1f}" fill="#111">{escape(name)}</text>'
    return f'<g aria-hidden="true">{paths}{marks}{end}</g>'


def _trend_words(weeks: list[date], trend: list[WeekCell], labels: list[tuple[str, str]], note: str) -> str:
    shown = [c for c in trend if c.shown]
    hidden = len(trend) - len(shown)
    if not shown:
        return f"No week can be shown: {note}."
    first, last = shown[0], shown[-1]
    parts = [
        f"{name}: {first.shares.get(name, 0):.0%} in the week of {first.week:%d %b %Y}, "
        f"{last.shares.get(name, 0):.0%} in the week of {last.week:%d %b %Y}"
        for name, _ in labels
    ]
    tail = f" {hidden} week(s) hidden or empty ({note})." if hidden else ""
    return "; ".join(parts) + "." + tail


def module_trend(report: ModuleReport, row: ModuleRow, index: int) -> SafeString:
    return trend_lines(f"chart-trend-{index}", f"Weekly {report.schema} shares in {row.title}", report.weeks,
                       row.trend, report.labels, fewer_than(row.min_group_size), height=150)


def course_trend(report: ModuleReport) -> SafeString:
    return trend_lines("chart-trend-course", f"Weekly {report.schema} shares, whole course (modules shown)",
                       report.weeks, report.course_trend, report.labels,
                       fewer_than(report.min_group_size))
