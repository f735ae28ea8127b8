"""What anonymous survey rows may reveal: the day, never the minute; ids that say nothing of order.

Staff can line up a response's timestamp or its place in an id sequence with the LMS access log, and so
with a name. Anonymous responses, their answers and their feedback therefore get:
- times truncated to the local day at write time (the finer time is never stored), and
- random primary keys in [RANDOM_ID_FLOOR, 2**53): unique, below JavaScript's exact-integer limit, and
  in no relation to when they were written. Sequences keep numbering everything else below the floor;
  they would need 4.5e15 rows to reach it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils import timezone

if TYPE_CHECKING:
    pass

RANDOM_ID_FLOOR = 2**52
RANDOM_ID_CEILING = 2**53  # exclusive: JSON clients in JavaScript read ids below it exactly


def random_id() -> int:
    return RANDOM_ID_FLOOR + secrets.randbelow(RANDOM_ID_CEILING - RANDOM_ID_FLOOR)


def day_of(moment: datetime) -> datetime:
    """Midnight (TIME_ZONE) of `moment`'s day: reports bucket by local week, so the week stays right."""
    return timezone.localtime(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def visible_to_staff(rows: QuerySet, *, field: str = "created_at") -> QuerySet:
    """`rows` (feedback, or survey responses with field="submitted_at") less the anonymous ones of today:
    they reach staff once their day is over.

    A list refreshed during the day would otherwise date a new item to the minute (and the LMS access
    log names who was online then). Raw SQL applies the same rule: NOT (id >= floor AND created_at >= today).
    """
    return rows.exclude(**{"pk__gte": RANDOM_ID_FLOOR, f"{field}__gte": day_of(timezone.now())})
