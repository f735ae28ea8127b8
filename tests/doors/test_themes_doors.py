"""Door matrix for recomputing themes: every persona × door (admin action, API, `manage.py themes --as`).

The service decides (Action.RECOMPUTE_THEMES: the course's instructors and TAs), so each door allows or
refuses alike, and a refusal creates no run. No model runs: a run is a queued row (its task is enqueued on
commit, which a test transaction never reaches).
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from classifiers.themes.models import ThemeRun
from tests.support import ROLES

pytestmark = pytest.mark.django_db

ALLOWED = {"teaching_assistant", "instructor", "superuser"}


class _Sink:
    def write(self, *_: object, **__: object) -> None:
        pass

    def flush(self) -> None:
        pass


def _admin(client, user, course) -> None:  # noqa: ANN001
    client.force_login(user)
    client.post(reverse("admin:classifiers_themecourse_changelist"),
                {"action": "recompute_themes", "_selected_action": [course.pk]})


def _api(client, user, course) -> None:  # noqa: ANN001
    api = APIClient()
    api.force_authenticate(user)
    response = api.post("/api/courses/CS101/themes/recompute/")
    assert response.status_code in (202, 403, 404), response.content
    if response.status_code == 403:  # the service's reason, not a generic one
        assert "may not recompute the course's themes" in response.json()["detail"]


def _command(client, user, course) -> None:  # noqa: ANN001
    try:
        call_command("themes", "--course", "CS101", "--as", user.username, stdout=_Sink(), stderr=_Sink())
    except CommandError as exc:
        assert exc.returncode == 2 and "may not" in str(exc), str(exc)


DOORS = {"admin": _admin, "api": _api, "command": _command}


@pytest.fixture
def no_worker_probe(monkeypatch):
    monkeypatch.setattr("classifiers.management.commands.themes.workers_consuming", lambda queue: ["stub"])


@pytest.mark.parametrize(("door", "role"), [(d, r) for d in DOORS for r in ROLES])
def test_every_door_gives_the_services_answer_and_a_refusal_creates_no_run(door, role, client, course, personas,
                                                                         no_worker_probe):
    DOORS[door](client, personas[role], course)
    assert ThemeRun.objects.filter(course=course).exists() == (role in ALLOWED), f"{role} at the {door}"


def test_the_api_lists_only_the_courses_own_runs(course, other_course, instructor):
    ThemeRun.objects.create(course=other_course, status="succeeded")
    mine = ThemeRun.objects.create(course=course, status="succeeded")
    api = APIClient()
    api.force_authenticate(instructor)
    assert [r["id"] for r in api.get("/api/courses/CS101/theme-runs/").json()["results"]] == [mine.pk]
    assert api.get("/api/courses/HIST200/theme-runs/").status_code == 404
