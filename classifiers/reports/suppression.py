"""Small-group rules shared by the report selectors and the alert scan (issue 18: no leak by subtraction).

- The minimum that applies to a module is the strictest of: the course's `min_group_size`, the site's
  `MIN_GROUP_SIZE_FLOOR` (a course kept below a since-raised floor is held to the floor) and the
  `min_group_size` of any survey of that module (course-wide surveys: the "(no module)" row).
- Weekly cells are published only as one table per module (the whole course by week); a week's report is
  a column of that same table, so no two published numbers differ by a hidden group.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDate

from classifiers.reports.weeks import week_of
from courses.models import Course, Survey, SurveyResponse


@dataclass(frozen=True)
class GroupMinimums:
    course: int  # for course-level cells (course trend, course average)
    modules: dict[int | None, int] = field(default_factory=dict)  # stricter survey minimums, by module

    def of(self, module_id: int | None) -> int:
        return max(self.course, self.modules.get(module_id, 0))


def group_minimums(course: Course) -> GroupMinimums:
    """The strictest minimum group size of the course and of each module with a stricter survey."""
    base = max(course.min_group_size, getattr(settings, "MIN_GROUP_SIZE_FLOOR", 1))
    modules: dict[int | None, int] = {}
    stricter = Survey.objects.filter(course=course, min_group_size__gt=base)
    for module_id, minimum in stricter.values_list("module_id", "min_group_size"):
        modules[module_id] = max(modules.get(module_id, 0), minimum)
    return GroupMinimums(base, modules)


def hidden_weeks(cells: dict[date, tuple[int, int]], minimum: int) -> set[date]:
    """The weeks of one module to hide, given each week's (responses, labelled).

    Primary: a week with responses but fewer than `minimum` labelled ones. Secondary: while the hidden
    weeks together hold between 1 and `minimum` - 1 responses (or labelled responses), hide the smallest
    shown week too, so "module total - shown weeks" is 0 or at least `minimum`, never a small group.
    When every week ends up hidden, the remainder is the module total, itself shown only if large enough.
    """
    hidden = {w for w, (responses, labelled) in cells.items() if responses and labelled < minimum}

    def small(i: int) -> bool:
        return 0 < sum(cells[w][i] for w in hidden) < minimum

    while small(0) or small(1):
        shown = sorted((cells[w][1], w) for w in cells if w not in hidden and cells[w][0])
        if not shown:
            break
        hidden.add(shown[0][1])
    return hidden


def respondents_by_week(course: Course) -> dict[tuple[int, date], int]:
    """Survey respondents by module and week (all weeks: a week's report is a column of the whole table)."""
    per_day = (SurveyResponse.objects.filter(survey__course=course, survey__module__isnull=False)
               .annotate(day=TruncDate("submitted_at")).values("survey__module_id", "day").annotate(n=Count("id"))
               .values_list("survey__module_id", "day", "n"))
    out: dict[tuple[int, date], int] = defaultdict(int)
    for module_id, day, n in per_day:
        out[(module_id, week_of(day))] += n
    return dict(out)


def respondents_shown(respondents: dict[tuple[int, date], int], module_id: int | None, minimum: int,
                      week: date | None) -> int | None:
    """The module's respondents in all weeks (or in `week`); None when it has none or they are hidden."""
    series = {w: n for (m, w), n in respondents.items() if m == module_id}
    if week is None:
        total = sum(series.values())
        return total if series and total >= minimum else None
    hidden = hidden_weeks({w: (n, n) for w, n in series.items()}, minimum)
    return series[week] if week in series and week not in hidden else None
