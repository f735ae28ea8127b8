# ruff: noqa: S608 - identifiers come from model meta and are quoted; every value is a query parameter
"""A new survey response in one SQL statement: the response, its feedback and its answers together.

Why: the ORM path is BEGIN, three INSERTs and COMMIT, five round trips per submission; at hundreds of
submissions a second on a busy machine the waits dominated. One INSERT ... WITH statement is atomic on its
own. Columns and values come from unsaved model instances (`pre_save`, `get_db_prep_save`), so model
defaults and columns added later keep working; the unique (survey, respondent_key) still decides
duplicates, raising IntegrityError before anything is stored. PostgreSQL only (as is the project).
"""

from __future__ import annotations

import functools

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from courses.models import Answer, Feedback, SurveyResponse


@functools.cache
def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@functools.cache
def _columns(model: type[Model], skip: tuple[str, ...] = ()) -> tuple[list[Field], str, str]:
    """Insertable fields, their quoted column list and a typed placeholder row (a NULL alone would
    otherwise be typed text). Cached: computing casts per request cost an eighth of the request's CPU."""
    fields = [f for f in model._meta.concrete_fields
              if not f.primary_key and not getattr(f, "generated", False) and f.attname not in skip]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields)
    return fields, columns, placeholders


def _values(conn: BaseDatabaseWrapper, obj: Model, model_columns: tuple, params: list, extra: tuple = (),
            positions: tuple[int | None, ...] = ()) -> str:
    """One VALUES row for `obj`, plus `extra` (value, cast) pairs, then `positions` written into the statement
    as bigint literals (row numbers of our own making, the same in every submission of a survey: they keep a
    survey's statement text constant and its parameters at most psycopg's 50, so psycopg parses the statement
    once per process instead of once per submission, a sixth of the request's CPU in the profile)."""
    fields, _, placeholders = model_columns
    params.extend(field.get_db_prep_save(field.pre_save(obj, True), conn) for field in fields)
    for value, cast in extra:
        params.append(value)
        placeholders += f", %s::{cast}"
    for position in positions:
        placeholders += ", NULL::bigint" if position is None else f", {int(position):d}::bigint"
    return f"({placeholders})"


def insert_response(
    response: SurveyResponse, feedback: list[Feedback], answers: list[tuple[Answer, int | None]],
    *, preset_ids: bool = False,
) -> list[int]:
    """Insert `response` (its pk is set), `feedback` and `answers` (each with the index of its feedback
    item or None); returns the new feedback ids in order. With `preset_ids` every row keeps the pk it
    carries (anonymous surveys' random ids) instead of the next value of its sequence."""
    conn = connections[DEFAULT_DB_ALIAS]
    params: list = []
    r_cols = _columns(SurveyResponse)
    r_extra = ((response.pk, "bigint"),) if preset_ids else ()
    sql = [f"WITH response AS (INSERT INTO {_table(SurveyResponse)} ({r_cols[1]}{', id' if preset_ids else ''}) "
           f"VALUES {_values(conn, response, r_cols, params, r_extra)} RETURNING id)"]
    if preset_ids:
        params.append([fb.pk for fb in feedback])
        sql.append(", ids AS (SELECT id, ord FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(id, ord))")
    else:
        sql.append(f", ids AS (SELECT nextval(pg_get_serial_sequence('{Feedback._meta.db_table}', 'id')) AS id, ord "
                   f"FROM generate_series(1, {len(feedback):d}) AS ord)")
    if feedback:
        f_cols = _columns(Feedback)
        names = ", ".join(f"c{i}" for i in range(len(f_cols[0])))
        rows = ", ".join(_values(conn, fb, f_cols, params, positions=(i + 1,)) for i, fb in enumerate(feedback))
        sql.append(f", feedback AS (INSERT INTO {_table(Feedback)} (id, {f_cols[1]}) "
                   f"SELECT ids.id, {names} FROM (VALUES {rows}) AS v({names}, ord) JOIN ids USING (ord))")
    if answers:
        a_cols = _columns(Answer, ("response_id", "feedback_id"))
        names = ", ".join(f"c{i}" for i in range(len(a_cols[0])))
        # Each row: its feedback item's position (or NULL) and its own position, for the random ids' array.
        rows = ", ".join(_values(conn, a, a_cols, params, positions=(None if i is None else i + 1, n))
                         for n, (a, i) in enumerate(answers, 1))
        own_id = ("", "", "")
        if preset_ids:
            params.append([a.pk for a, _ in answers])
            own_id = (", id", ", aids.aid",
                      " JOIN unnest(%s::bigint[]) WITH ORDINALITY AS aids(aid, n) ON aids.n = v.n")
        sql.append(f", answers AS (INSERT INTO {_table(Answer)} (response_id, feedback_id, {a_cols[1]}{own_id[0]}) "
                   f"SELECT response.id, ids.id, {names}{own_id[1]} FROM response CROSS JOIN (VALUES {rows}) "
                   f"AS v({names}, ord, n) LEFT JOIN ids ON ids.ord = v.ord{own_id[2]})")
    sql.append(" SELECT (SELECT id FROM response), ARRAY(SELECT id FROM ids ORDER BY ord)")
    if conn.in_atomic_block:  # inside a caller's transaction: a savepoint keeps it usable on conflict
        with transaction.atomic():
            return _run(conn, "".join(sql), params, response)
    return _run(conn, "".join(sql), params, response)  # autocommit: the single statement is its own transaction


def _run(conn: BaseDatabaseWrapper, sql: str, params: list, response: SurveyResponse) -> list[int]:
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        response.pk, feedback_ids = cursor.fetchone()
    response._state.adding = False
    response._state.db = conn.alias
    return list(feedback_ids)
