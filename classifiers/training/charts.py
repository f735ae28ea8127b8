"""SVG confusion matrix drawn on the server (no JavaScript, no external assets) for version pages."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

CELL = 44
LABEL_W = 110


def confusion_matrix_svg(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> SafeString:
    """Rows are the true labels, columns the predicted ones; darker cells hold a larger share of the row."""
    n = len(labels)
    width, height = LABEL_W + n * CELL + 10, LABEL_W + n * CELL + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Confusion matrix: rows true label, columns predicted label" font-family="sans-serif" '
        f'font-size="11">',
        f'<text x="{LABEL_W + n * CELL / 2}" y="{height - 6}" text-anchor="middle">predicted</text>',
        f'<text x="12" y="{LABEL_W / 2}" transform="rotate(-90 12 {LABEL_W / 2})" text-anchor="middle">true</text>',
    ]
    for j, name in enumerate(labels):
        x = LABEL_W + j * CELL + CELL / 2
        parts.append(
            f'<text x="{x}" y="{LABEL_W - 6}" transform="rotate(-45 {x} {LABEL_W - 6})">{escape(name[:14])}</text>'
        )
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        y = LABEL_W + i * CELL
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + CELL / 2 + 4}" text-anchor="end">{escape(labels[i][:14])}</text>'
        )
        for j, count in enumerate(row):
            share = count / total
            rgb = "22,101,52" if i == j else "220,38,38"  # green diagonal, red confusions
            fill = f"rgba({rgb},{0.08 + 0.85 * share:.2f})"
            colour = "#fff" if share > 0.55 else "#111"
            x = LABEL_W + j * CELL
            parts.append(
                f'<rect x="{x}" y="{y}" width="{CELL - 2}" height="{CELL - 2}" fill="{fill}">'
                f"<title>true {escape(labels[i])}, predicted {escape(labels[j])}: {count}</title></rect>"
                f'<text x="{x + CELL / 2 - 1}" y="{y + CELL / 2 + 4}" text-anchor="middle" '
                f'fill="{colour}">{count}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated label is escaped above
