"""Door matrix for staff control of themes: every persona (and a student) × door (admin control page, admin
list actions, API, the service itself) × action (rename, hide, merge, split off).

The service decides (Action.MANAGE_THEMES: the course's instructors and TAs; superusers), so each door allows
or refuses alike; a refusal changes nothing and records nothing. A door a user cannot even reach (another
course's theme, no staff status) answers as for a missing theme.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from classifiers.themes.models import Theme, ThemeEdit, ThemeMember
from classifiers.themes.staff import merge_themes, rename_theme, set_theme_hidden, split_theme
from courses.models import Feedback
from eduplatform.errors import PermissionRefused
from tests.factories import UserFactory
from tests.support import ROLES, token_client

pytestmark = pytest.mark.django_db

ALLOWED = {"teaching_assistant", "instructor", "superuser"}
PERSONAS = (*ROLES, "student")


@pytest.fixture
def everyone(personas) -> dict:
    return {**personas, "student": UserFactory(username="stu", is_staff=False)}


@pytest.fixture
def themes(course) -> tuple[Theme, Theme]:
    """Two themes of 8 readable comments each (no vectors needed: the centres stay as they are); 2 split off
    leave 6, still at least the minimum group size (5), so the theme stays listed for the merge."""
    made = []
    for name in ("exam paper", "lab tutors"):
        theme = Theme.objects.create(course=course, name=name, keywords=name.split(), centroid=b"\0" * 16, size=8)
        items = Feedback.objects.bulk_create(
            Feedback(
                course=course,
                source="import",
                original_text=f"{name} {i}",
                redacted_text=f"{name} {i}",
                submitted_at="2026-11-02T10:00:00Z",
                screening="clear",
            )
            for i in range(8)
        )
        ThemeMember.objects.bulk_create(ThemeMember(feedback=f, theme=theme, similarity=0.9) for f in items)
        made.append(theme)
    return made[0], made[1]


def _state(course) -> tuple:  # noqa: ANN001
    rows = Theme.objects.filter(course=course).order_by("pk")
    return (list(rows.values_list("name_by_staff", "hidden", "status")), ThemeEdit.objects.count())


def _admin(user, exam: Theme, lab: Theme) -> list[int]:
    client = Client()
    client.force_login(user)
    control = reverse("admin:classifiers_theme_control", args=[exam.pk])
    listing = reverse("admin:classifiers_theme_changelist")
    picked = list(ThemeMember.objects.filter(theme=lab).values_list("feedback_id", flat=True))[:2]
    return [
        client.post(control, {"do": "rename", "name": "Exams"}).status_code,
        client.post(listing, {"action": "hide_themes", "_selected_action": [exam.pk]}).status_code,
        client.post(
            reverse("admin:classifiers_theme_control", args=[lab.pk]),
            {"do": "split", "name": "Two", "comments": picked},
        ).status_code,
        client.post(
            listing, {"action": "merge_selected_themes", "_selected_action": [exam.pk, lab.pk], "kept": exam.pk}
        ).status_code,
    ]


def _api(user, exam: Theme, lab: Theme) -> list[int]:
    api = token_client(user)
    base = f"/api/courses/CS101/themes/{exam.pk}"
    answers = [
        api.post(f"{base}/rename/", {"name": "Exams"}, format="json"),
        api.post(f"{base}/hide/", format="json"),
        api.post(
            f"/api/courses/CS101/themes/{lab.pk}/split/", {"name": "Two", "keyword": "lab tutors 1"}, format="json"
        ),
        api.post(f"{base}/merge/", {"themes": [lab.pk]}, format="json"),
    ]
    for answer in answers:
        if answer.status_code == 403:  # the service's reason, not a generic one
            assert "may not rename, merge, split or hide the course's themes in CS101" in answer.json()["detail"]
    return [a.status_code for a in answers]


def _service(user, exam: Theme, lab: Theme) -> list[int]:
    calls = [
        lambda: rename_theme(exam, name="Exams", actor=user),
        lambda: set_theme_hidden(exam, hidden=True, actor=user),
        lambda: split_theme(lab, name="Two", keyword="lab tutors 1", actor=user),
        lambda: merge_themes([exam, lab], into=exam, actor=user),
    ]
    codes = []
    for call in calls:
        try:
            call()
        except PermissionRefused as exc:
            assert "may not rename, merge, split or hide the course's themes in CS101" in str(exc)
            codes.append(403)
        else:
            codes.append(200)
    return codes


DOORS = {"admin": _admin, "api": _api, "service": _service}


@pytest.mark.parametrize(("door", "role"), [(d, r) for d in DOORS for r in PERSONAS])
def test_every_door_gives_the_services_answer_and_a_refusal_changes_nothing(door, role, course, everyone, themes):
    exam, lab = themes
    before = _state(course)
    codes = DOORS[door](everyone[role], exam, lab)
    after = _state(course)
    if role in ALLOWED:
        assert after[1] == 4, (door, role, codes)  # rename, hide, split, merge: four audit rows
        exam.refresh_from_db()
        lab.refresh_from_db()
        assert (exam.name_by_staff, exam.hidden, lab.status, lab.merged_into_id) == ("Exams", True, "merged", exam.pk)
        assert Theme.objects.get(name_by_staff="Two").status == "active"
    else:
        assert after == before, (door, role, codes)
        if door == "api":
            assert set(codes) <= {403, 404}, codes
        if door == "admin" and role == "student":  # no staff status: admin's login page
            assert set(codes) == {302}


@pytest.mark.parametrize("role", ["viewer", "annotator", "outsider", "administrator"])
def test_the_control_page_is_refused_to_everyone_but_the_courses_instructors_and_tas(role, everyone, themes):
    client = Client()
    client.force_login(everyone[role])
    answer = client.get(reverse("admin:classifiers_theme_control", args=[themes[0].pk]))
    # Annotators reach the themes list (read only) and get a 403 here; viewers (report readers, no admin list
    # of themes) and people of other courses a 404: nothing confirms the id.
    assert answer.status_code == (403 if role == "annotator" else 404)


def test_an_instructor_cannot_reach_another_courses_theme_at_any_door(themes, other_course, outsider):
    theirs = Theme.objects.create(course=other_course, name="history essays", centroid=b"\0" * 16, size=30)
    api = token_client(outsider)
    # The outsider instructs HIST200: they reach its theme, but not CS101's, even by id in their own course's URL.
    assert (
        api.post(f"/api/courses/HIST200/themes/{themes[0].pk}/rename/", {"name": "x"}, format="json").status_code == 404
    )
    merged = api.post(f"/api/courses/HIST200/themes/{theirs.pk}/merge/", {"themes": [themes[0].pk]}, format="json")
    assert (merged.status_code, merged.json()) == (400, {"detail": f"no theme {themes[0].pk} in your courses"})
    assert not ThemeEdit.objects.exists() and Theme.objects.get(pk=themes[0].pk).status == "active"
