"""The themes section's picture: one bar per theme of a module, as long as its share of the module's comments
and split by its label mix (same patterns and colours as the report's charts); "other" last, in grey."""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString

from classifiers.reports.charts import BAR_H, ROW_H, WIDTH, _legend, _pattern_defs, _svg
from classifiers.themes.selectors import ModuleThemes, ThemeRow

UNLABELLED = "#d1d5db"


def _row_words(theme: ThemeRow) -> str:
    mix = ", ".join(f"{name} {n}" for name, n in theme.labels.items() if n)
    new = " New this term." if theme.is_new else ""
    return f"{theme.name}: {theme.count} comments ({theme.share:.0%}), {theme.mix}{f' ({mix})' if mix else ''}.{new}"


def theme_bars(section: ModuleThemes, labels: list[tuple[str, str]], index: int) -> SafeString:
    prefix = f"themes-{index}"
    body = [_pattern_defs(prefix, labels), _legend(prefix, labels, 0)]
    order = {name: i for i, (name, _) in enumerate(labels)}
    y = 24
    for theme in section.themes:
        title = f"{theme.name} — {theme.count} ({theme.share:.0%}), {theme.mix}" + (" · new" if theme.is_new else "")
        body.append(f'<text x="0" y="{y + 13}" font-weight="600">{escape(title)}</text>')
        x, full = 0.0, max(theme.share * WIDTH, 4.0)
        for name, n in [*theme.labels.items(), ("", theme.count - theme.labelled)]:
            w = full * n / theme.count if theme.count else 0
            if w <= 0:
                continue
            fill = f"url(#{prefix}-p{order[name]})" if name else UNLABELLED
            what = f"{name}: {n}" if name else f"not labelled: {n}"
            body.append(f'<rect x="{x:.1f}" y="{y + 18}" width="{w:.1f}" height="{BAR_H}" fill="{fill}">'
                        f"<title>{escape(what)}</title></rect>")
            x += w
        y += ROW_H
    if section.other is not None:
        share = section.other / (section.other + sum(t.count for t in section.themes) or 1)
        body.append(f'<text x="0" y="{y + 13}" fill="#374151">Other — {section.other} ({share:.0%})</text>'
                    f'<rect x="0" y="{y + 18}" width="{max(share * WIDTH, 4.0):.1f}" height="{BAR_H}" fill="#f3f4f6" '
                    f'stroke="#6b7280" stroke-dasharray="4 3"/>')
        y += ROW_H
    desc = " ".join(_row_words(t) for t in section.themes) + (
        f" Other (no theme shown here): {section.other} comments." if section.other is not None else "")
    return _svg(f"chart-themes-{index}", y, f"What students talk about in {section.title}", desc, "".join(body))
