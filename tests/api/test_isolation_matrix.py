"""Every API endpoint × {anonymous, staff of another course, member reaching across courses}.

The matrix is checked against the OpenAPI schema, so a new endpoint without a row here fails the suite.
"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from classifiers.models import Annotation, Label, LabelSchema, ModelVersion, Theme, ThemeEdit, ThemeRun, TrainingRun
from courses.models import Feedback, Module
from tests.api.course_objects import CourseObjects
from tests.support import token_client

# (method, path template, body); {code} and {<name>} are filled from a CourseObjects.
ENDPOINTS = [
    ("get", "/api/courses/{code}/", None),
    ("get", "/api/courses/{code}/modules/", None),
    ("post", "/api/courses/{code}/modules/", {"title": "Week 9"}),
    ("get", "/api/courses/{code}/modules/{module}/", None),
    ("get", "/api/courses/{code}/surveys/", None),
    ("get", "/api/courses/{code}/surveys/{survey}/", None),
    ("get", "/api/courses/{code}/feedback/", None),
    ("post", "/api/courses/{code}/feedback/", {"text": "injected"}),
    ("post", "/api/courses/{code}/feedback/bulk/", {"items": [{"text": "injected"}]}),
    ("get", "/api/courses/{code}/feedback/{feedback}/", None),
    ("patch", "/api/courses/{code}/feedback/{feedback}/", {"language": "xx"}),
    ("delete", "/api/courses/{code}/feedback/{feedback}/", None),
    ("get", "/api/courses/{code}/schemas/", None),
    ("post", "/api/courses/{code}/schemas/", {"name": "topic", "labels": ["pace"]}),
    ("get", "/api/courses/{code}/schemas/{schema}/", None),
    ("get", "/api/courses/{code}/labels/", None),
    ("post", "/api/courses/{code}/labels/", {"schema": "{schema}", "name": "mixed"}),
    ("get", "/api/courses/{code}/labels/{label}/", None),
    ("delete", "/api/courses/{code}/labels/{label}/", None),
    ("get", "/api/courses/{code}/annotations/", None),
    ("post", "/api/courses/{code}/annotations/",
     {"feedback": "{feedback}", "schema": "{schema}", "labels": ["{label}"]}),
    ("get", "/api/courses/{code}/annotations/{annotation}/", None),
    ("get", "/api/courses/{code}/training-runs/", None),
    ("post", "/api/courses/{code}/training-runs/", {"schema": "{schema}", "config": {"epochs": 1}}),
    ("get", "/api/courses/{code}/training-runs/{training_run}/", None),
    ("post", "/api/courses/{code}/training-runs/{training_run}/cancel/", None),
    ("get", "/api/courses/{code}/model-versions/", None),
    ("get", "/api/courses/{code}/model-versions/{model_version}/", None),
    ("post", "/api/courses/{code}/model-versions/{model_version}/activate/", {"override": True}),
    ("post", "/api/courses/{code}/model-versions/rollback/", {"schema": "{schema}"}),
    ("get", "/api/courses/{code}/model-versions/{model_version}/export/", None),
    ("get", "/api/courses/{code}/predictions/", None),
    ("get", "/api/courses/{code}/predictions/{prediction}/", None),
    ("get", "/api/courses/{code}/reports/modules/", None),
    ("get", "/api/courses/{code}/themes/", None),
    ("get", "/api/courses/{code}/themes/{theme}/", None),
    ("post", "/api/courses/{code}/themes/recompute/", None),
    ("post", "/api/courses/{code}/themes/{theme}/rename/", {"name": "renamed"}),
    ("post", "/api/courses/{code}/themes/{theme}/hide/", None),
    ("post", "/api/courses/{code}/themes/{theme}/show/", None),
    ("post", "/api/courses/{code}/themes/{theme}/merge/", {"themes": ["{theme}"]}),
    ("post", "/api/courses/{code}/themes/{theme}/split/", {"name": "part", "keyword": "secret"}),
    ("get", "/api/courses/{code}/themes/{theme}/history/", None),
    ("post", "/api/courses/{code}/themes/label-schema/", {"themes": ["{theme}"]}),
    ("get", "/api/courses/{code}/theme-runs/", None),
    ("get", "/api/courses/{code}/theme-runs/{theme_run}/", None),
]
IDS = [f"{method} {path}" for method, path, _ in ENDPOINTS]


def fill(template: str, objs: CourseObjects, *, code: str | None = None) -> str:
    values = {name: getattr(objs, name).pk for name in objs.__dataclass_fields__ if name != "course"}
    return template.format(code=code or objs.course.code, **values)


def fill_body(body: dict | None, objs: CourseObjects) -> dict | None:
    if body is None:
        return None
    def one(value):
        if isinstance(value, list):
            return [one(v) for v in value]
        if isinstance(value, str) and value.startswith("{"):
            return int(fill(value, objs))
        return value
    return {key: one(value) for key, value in body.items()}


def call(client: APIClient, method: str, path: str, body: dict | None):
    return getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)


def row_counts() -> tuple:
    """Rows per table, plus the state the training and version actions change."""
    counts = tuple(m.objects.count() for m in (Feedback, Module, LabelSchema, Label, Annotation, TrainingRun,
                                               ThemeRun, Theme, ThemeEdit))
    runs = tuple(TrainingRun.objects.order_by("pk").values_list("status", "cancel_requested"))
    active = tuple(ModelVersion.objects.order_by("pk").values_list("is_active", "activated_at"))
    themes = tuple(Theme.objects.order_by("pk").values_list("name_by_staff", "hidden", "status"))
    return counts, runs, active, themes


@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS, ids=IDS)
def test_anonymous_client_gets_401(method, template, body, mine):
    before = row_counts()
    response = call(APIClient(), method, fill(template, mine), fill_body(body, mine))
    assert response.status_code == 401, response.content
    assert "secret-mine" not in response.content.decode()
    assert row_counts() == before


@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS, ids=IDS)
def test_staff_of_another_course_gets_404_and_changes_nothing(method, template, body, mine, theirs, outsider):
    before = row_counts()
    response = call(token_client(outsider), method, fill(template, mine), fill_body(body, mine))
    assert response.status_code in (403, 404), response.content
    assert "secret-mine" not in response.content.decode()
    assert row_counts() == before


@pytest.mark.parametrize(
    ("method", "template", "body"), [e for e in ENDPOINTS if "}/" in e[1].removeprefix("/api/courses/{code}/")],
    ids=[i for i, e in zip(IDS, ENDPOINTS, strict=True) if "}/" in e[1].removeprefix("/api/courses/{code}/")],
)
def test_member_cannot_reach_another_courses_object_through_own_course(method, template, body, mine, theirs,
                                                                       instructor):
    """/api/courses/CS101/feedback/<id of a HIST200 item>/ must be 404: lookups stay inside the course."""
    before = row_counts()
    response = call(token_client(instructor), method, fill(template, theirs, code=mine.course.code), None)
    assert response.status_code == 404, response.content
    assert "secret-theirs" not in response.content.decode()
    assert row_counts() == before


LISTS = [t for m, t, _ in ENDPOINTS
         if m == "get" and t.endswith(("s/", "feedback/")) and t.count("{") == 1 and "/reports/" not in t]


@pytest.mark.parametrize("template", LISTS)
def test_lists_show_only_the_courses_own_rows(template, mine, theirs, instructor):
    response = token_client(instructor).get(fill(template, mine))
    assert response.status_code == 200
    body = response.content.decode()
    assert "secret-theirs" not in body
    ids = {row["id"] for row in response.json()["results"]}
    resource = template.rstrip("/").rsplit("/", 1)[-1]
    own = {"modules": mine.module, "surveys": mine.survey, "feedback": mine.feedback, "schemas": mine.schema,
           "labels": mine.label, "annotations": mine.annotation, "training-runs": mine.training_run,
           "model-versions": mine.model_version, "predictions": mine.prediction, "themes": mine.theme,
           "theme-runs": mine.theme_run}[resource]
    other = {"modules": theirs.module, "surveys": theirs.survey, "feedback": theirs.feedback,
             "schemas": theirs.schema, "labels": theirs.label, "annotations": theirs.annotation,
             "training-runs": theirs.training_run, "model-versions": theirs.model_version,
             "predictions": theirs.prediction, "themes": theirs.theme, "theme-runs": theirs.theme_run}[resource]
    assert own.pk in ids
    assert other.pk not in ids


def test_course_list_shows_only_the_users_courses(mine, theirs, outsider):
    response = token_client(outsider).get("/api/courses/")
    assert [c["code"] for c in response.json()["results"]] == [theirs.course.code]
    assert APIClient().get("/api/courses/").status_code == 401


def test_the_matrix_covers_every_operation_of_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method, path.replace("{course_code}", "{code}"))
        for path, item in schema["paths"].items()
        for method in item
        if path.startswith("/api/courses/{course_code}/")
    }
    covered = {(m, _generic(t)) for m, t, _ in ENDPOINTS}
    assert {(m, _generic(p)) for m, p in operations} <= covered


def _generic(path: str) -> str:
    """Path with every parameter but the course code written as {id}."""
    import re

    return re.sub(r"\{(?!code\})[a-z_]+\}", "{id}", path)
