"""CSV exports of the numbers behind each report chart, written from the privacy-applied ModuleReport."""

from __future__ import annotations

from typing import Any

from classifiers.reports.selectors import ModuleReport, WeekCell, fewer_than

CSV_CHARTS = ("modules", "trend", "module-trends", "themes")


def write_chart_csv(writer: Any, report: ModuleReport, chart: str) -> None:
    """`writer` is a csv.writer; hidden cells carry the "fewer than N responses" note and no numbers."""
    if chart == "modules":
        _modules(writer, report)
    elif chart == "themes":
        _themes(writer, report)
    elif chart == "trend":
        writer.writerow(["scope", "week", "labelled", "label", "count", "share", "note"])
        _trend_rows(writer, "course (modules shown)", report.course_trend, report,
                    fewer_than(report.min_group_size))
    else:
        writer.writerow(["scope", "week", "labelled", "label", "count", "share", "note"])
        for row in report.modules:
            if row.shown:
                _trend_rows(writer, row.title, row.trend, report, fewer_than(row.min_group_size))
            else:
                writer.writerow([row.title, "", "", "", "", "", row.note])


def _modules(writer: Any, report: ModuleReport) -> None:
    writer.writerow(["module", "responses", "labelled", "label", "count", "share", "course_share",
                     "diff_points", "survey_respondents", "response_rate", "note"])
    for cell in report.course_average:
        writer.writerow(["course average (modules shown)", "", "", cell.label, cell.count, f"{cell.share:.4f}",
                         "", "", "", "", ""])
    for row in report.modules:
        if not row.shown:
            writer.writerow([row.title, _blank(row.responses), "", "", "", "", "", "", "", "", row.note])
            continue
        rate = f"{row.response_rate:.4f}" if row.response_rate is not None else ""
        for cell in row.distribution:
            writer.writerow([
                row.title, row.responses, row.labelled, cell.label, cell.count, f"{cell.share:.4f}",
                f"{cell.course_share:.4f}" if cell.course_share is not None else "",
                cell.diff_points if cell.diff_points is not None else "", _blank(row.respondents), rate, "",
            ])


def _trend_rows(writer: Any, scope: str, trend: list[WeekCell], report: ModuleReport, note: str) -> None:
    for cell in trend:
        if not cell.shown:
            writer.writerow([scope, cell.week.isoformat(), "", "", "", "", note])
            continue
        for name, _ in report.labels:
            writer.writerow([scope, cell.week.isoformat(), cell.labelled, name, cell.counts.get(name, 0),
                             f"{cell.shares.get(name, 0):.4f}", ""])


def _blank(value: object) -> object:
    return "" if value is None else value


def _themes(writer: Any, report: ModuleReport) -> None:
    """One row per module and shown theme, then the module's "other"; a hidden module has its note only."""
    names = [name for name, _ in report.labels]
    writer.writerow(["module", "theme_id", "theme", "new_this_term", "keywords", "comments", "share", "labelled",
                     "mix", *names, "quotes", "note"])
    blank = [""] * len(names)
    for section in report.themes:
        if not section.shown:
            writer.writerow([section.title, "", "", "", "", "", "", "", "", *blank, "", section.note])
            continue
        for t in section.themes:
            writer.writerow([section.title, t.theme_id, t.name, "yes" if t.is_new else "", "; ".join(t.keywords),
                             t.count, f"{t.share:.4f}", t.labelled, t.mix, *[t.labels.get(n, 0) for n in names],
                             " | ".join(t.quotes), ""])
        writer.writerow([section.title, "", "other", "", "", section.other, "", "", "", *blank, "",
                         "comments in no theme shown here (small or hidden themes, or no theme)"])
