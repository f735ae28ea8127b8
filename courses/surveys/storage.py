# ruff: noqa: S608 - identifiers come from model meta and are quoted; every value is a query parameter
"""A new survey response in one SQL statement: the response, its feedback and its answers together.

Why: the ORM path is BEGIN, three INSERTs and COMMIT, five round trips per submission; at hundreds of
submissions a second on a busy machine the waits dominated. One INSERT ... WITH statement is atomic on its
own. Columns and values come from unsaved model instances (`pre_save`, `get_db_prep_save`), so model
defaults and columns added later keep working; the unique (survey, respondent_key) still decides
duplicates, raising IntegrityError before anything is stored. PostgreSQL only (as is the project).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Field, Model

from courses.models import Answer, Feedback, SurveyResponse


def _fields(model: type[Model], *, skip: tuple[str, ...] = ()) -> list[Field]:
    return [f for f in model._meta.concrete_fields
            if not f.primary_key and not getattr(f, "generated", False) and f.attname not in skip]


def _values(obj: Model, fields: list[Field], params: list, extra: tuple = ()) -> str:
    """One VALUES row with typed placeholders (a NULL alone would otherwise be typed text)."""
    casts = []
    for field in fields:
        params.append(field.get_db_prep_save(field.pre_save(obj, True), connection))
        casts.append(f"%s::{field.cast_db_type(connection)}")
    for value, cast in extra:
        params.append(value)
        casts.append(f"%s::{cast}")
    return "(" + ", ".join(casts) + ")"


def insert_response(
    response: SurveyResponse, feedback: list[Feedback], answers: list[tuple[Answer, int | None]]
) -> list[int]:
    """Insert `response` (its pk is set), `feedback` and `answers` (each with the index of its feedback
    item or None); returns the new feedback ids in order."""
    qn = connection.ops.quote_name
    params: list = []
    r_fields = _fields(SurveyResponse)
    sql = [f"WITH response AS (INSERT INTO {qn(SurveyResponse._meta.db_table)} "
           f"({', '.join(qn(f.column) for f in r_fields)}) VALUES {_values(response, r_fields, params)} RETURNING id)",
           f", ids AS (SELECT nextval(pg_get_serial_sequence('{Feedback._meta.db_table}', 'id')) AS id, ord "
           f"FROM generate_series(1, {len(feedback):d}) AS ord)"]
    if feedback:
        f_fields = _fields(Feedback)
        names = [f"c{i}" for i in range(len(f_fields))]
        rows = ", ".join(_values(fb, f_fields, params, ((i + 1, "bigint"),)) for i, fb in enumerate(feedback))
        sql.append(f", feedback AS (INSERT INTO {qn(Feedback._meta.db_table)} "
                   f"(id, {', '.join(qn(f.column) for f in f_fields)}) SELECT ids.id, {', '.join(names)} "
                   f"FROM (VALUES {rows}) AS v({', '.join(names)}, ord) JOIN ids USING (ord))")
    if answers:
        a_fields = _fields(Answer, skip=("response_id", "feedback_id"))
        names = [f"c{i}" for i in range(len(a_fields))]
        rows = ", ".join(_values(a, a_fields, params, ((None if i is None else i + 1, "bigint"),))
                         for a, i in answers)
        sql.append(f", answers AS (INSERT INTO {qn(Answer._meta.db_table)} "
                   f"(response_id, feedback_id, {', '.join(qn(f.column) for f in a_fields)}) "
                   f"SELECT response.id, ids.id, {', '.join(names)} FROM response "
                   f"CROSS JOIN (VALUES {rows}) AS v({', '.join(names)}, ord) LEFT JOIN ids ON ids.ord = v.ord)")
    sql.append(" SELECT (SELECT id FROM response), ARRAY(SELECT id FROM ids ORDER BY ord)")
    if connection.in_atomic_block:  # inside a caller's transaction: a savepoint keeps it usable on conflict
        with transaction.atomic():
            return _run("".join(sql), params, response)
    return _run("".join(sql), params, response)  # autocommit: the single statement is its own transaction


def _run(sql: str, params: list, response: SurveyResponse) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        response.pk, feedback_ids = cursor.fetchone()
    response._state.adding = False
    response._state.db = connection.alias
    return list(feedback_ids)
