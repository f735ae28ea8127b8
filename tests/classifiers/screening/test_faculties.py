"""Screeners of one faculty (issue 19, item 3: "institution- or faculty-wide"): a faculty screener's queue
and decisions cover only the courses of their faculty, never one where they hold a role; administrators keep
the faculties and set a course's faculty; the screening report adds up the courses it shows per faculty."""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse

from classifiers.screening.selectors import queue_item, queue_size, review_queue, screening_report
from classifiers.screening.services import decide, grant_screener
from courses.models import Faculty, Feedback, Role, ScreeningStatus
from courses.services import delete_faculty, save_faculty, update_course_settings
from eduplatform.errors import PermissionRefused
from tests.factories import CourseFactory, FeedbackFactory, MembershipFactory, UserFactory
from tests.support import token_client

pytestmark = pytest.mark.django_db


def _held(course, n: int = 1) -> list[Feedback]:  # noqa: ANN001
    return [
        FeedbackFactory(
            course=course,
            original_text=f"FACULTY-SECRET {course.code} {i}",
            screening=ScreeningStatus.HELD,
            screening_reasons=["offensive"],
        )
        for i in range(n)
    ]


@pytest.fixture
def faculties(course, other_course) -> dict[str, Faculty]:
    """CS101 in ENG, HIST200 in ARTS."""
    eng, arts = Faculty.objects.create(code="ENG", name="Engineering"), Faculty.objects.create(code="ARTS", name="Arts")
    course.faculty, other_course.faculty = eng, arts
    course.save(update_fields=["faculty"])
    other_course.save(update_fields=["faculty"])
    return {"ENG": eng, "ARTS": arts}


@pytest.fixture
def eng_screener(faculties, superuser):
    user = UserFactory(username="fiona", is_staff=False)
    grant_screener(user, actor=superuser, faculty=faculties["ENG"])
    return user


def test_a_faculty_screener_sees_and_decides_only_the_courses_of_their_faculty(
    course, other_course, faculties, eng_screener, screener
):
    ours, theirs = _held(course)[0], _held(other_course)[0]
    no_faculty = _held(CourseFactory(code="GEN100"))[0]
    assert [item.pk for item in review_queue(eng_screener)] == [ours.pk] and queue_size(eng_screener) == 1
    assert queue_item(eng_screener, theirs.pk) is None and queue_item(eng_screener, no_faculty.pk) is None
    with pytest.raises(PermissionRefused, match="fiona may not screen held comments in HIST200"):
        decide(theirs, action="release", actor=eng_screener)
    assert Feedback.objects.get(pk=theirs.pk).screening == ScreeningStatus.HELD
    decide(ours, action="release", actor=eng_screener)
    assert Feedback.objects.get(pk=ours.pk).screening == ScreeningStatus.RELEASED
    # The institution-wide screener still sees every faculty's courses and those of none.
    assert {item.pk for item in review_queue(screener)} == {theirs.pk, no_faculty.pk}


def test_a_faculty_screener_never_screens_a_course_of_their_faculty_where_they_hold_a_role(
    course, faculties, eng_screener
):
    item = _held(course)[0]
    MembershipFactory(user=eng_screener, course=course, role=Role.TEACHING_ASSISTANT)
    assert review_queue(eng_screener) == [] and queue_item(eng_screener, item.pk) is None
    with pytest.raises(PermissionRefused):
        decide(item, action="release", actor=eng_screener)


def test_the_queue_api_of_a_faculty_screener_lists_only_their_faculty(course, other_course, faculties, eng_screener):
    ours, theirs = _held(course)[0], _held(other_course)[0]
    listed = token_client(eng_screener).get("/api/screening/queue/").json()
    assert [row["id"] for row in listed["items"]] == [ours.pk]
    refused = token_client(eng_screener).post(
        f"/api/screening/queue/{theirs.pk}/decision/", {"action": "release"}, format="json"
    )
    assert refused.status_code in (403, 404)
    assert Feedback.objects.get(pk=theirs.pk).screening == ScreeningStatus.HELD


def test_only_administrators_set_a_course_faculty(course, faculties, instructor, administrator):
    with pytest.raises(PermissionRefused, match="only administrators may"):
        update_course_settings(course, actor=instructor, faculty=faculties["ARTS"])
    course.refresh_from_db()
    assert course.faculty == faculties["ENG"]
    update_course_settings(course, actor=administrator, faculty=faculties["ARTS"])
    course.refresh_from_db()
    assert course.faculty == faculties["ARTS"]


@pytest.mark.parametrize("persona", ["instructor", "teaching_assistant", "annotator", "viewer", "outsider", "screener"])
def test_the_faculty_admin_refuses_everyone_but_administrators(persona, request, faculties):
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    for url in (
        reverse("admin:courses_faculty_changelist"),
        reverse("admin:courses_faculty_add"),
        reverse("admin:courses_faculty_change", args=[faculties["ENG"].pk]),
    ):
        assert client.get(url).status_code in (302, 403), url
    resp = client.post(reverse("admin:courses_faculty_add"), {"code": "MED", "name": "Medicine"})
    assert resp.status_code in (302, 403) and not Faculty.objects.filter(code="MED").exists()
    with pytest.raises(PermissionRefused):
        save_faculty(Faculty(code="LAW", name="Law"), actor=request.getfixturevalue(persona))


def test_an_administrator_adds_a_faculty_in_admin_and_cannot_delete_one_in_use(faculties, administrator, eng_screener):
    client = Client()
    client.force_login(administrator)
    resp = client.post(reverse("admin:courses_faculty_add"), {"code": "MED", "name": "Medicine"})
    assert resp.status_code == 302 and Faculty.objects.get(code="MED").name == "Medicine"
    assert "Engineering" in client.get(reverse("admin:courses_faculty_changelist")).content.decode()
    # ENG has a course and a faculty screener: deleting it would widen that screener to the institution.
    with pytest.raises(ProtectedError):
        delete_faculty(faculties["ENG"], actor=administrator)
    delete_faculty(Faculty.objects.get(code="MED"), actor=administrator)
    assert not Faculty.objects.filter(code="MED").exists()


def test_the_report_adds_up_per_faculty_only_the_courses_it_shows(
    course, other_course, faculties, screener, administrator
):
    second_eng = CourseFactory(code="EE200", faculty=faculties["ENG"])
    small_eng = CourseFactory(code="EE300", faculty=faculties["ENG"])
    _held(course, 6)
    _held(second_eng, 5)
    decide(_held(small_eng, 2)[0], action="remove", actor=screener, reasons=["offensive"])  # 2 < 5: not shown
    _held(other_course, 7)
    report = screening_report(administrator)
    rows = {row.code: row for row in report.by_faculty}
    assert list(rows) == ["ARTS", "ENG"]
    assert (rows["ENG"].courses, rows["ENG"].held, rows["ENG"].awaiting, rows["ENG"].removed) == (2, 11, 11, 0)
    assert (rows["ARTS"].courses, rows["ARTS"].held) == (1, 7)
    assert not {row.code: row for row in report.by_course}["EE300"].shown
    api = token_client(administrator).get("/api/screening/report/").json()
    assert {row["code"]: row["held"] for row in api["by_faculty"]} == {"ARTS": 7, "ENG": 11}
    page = Client()
    page.force_login(administrator)
    html = page.get(reverse("admin:screening_report")).content.decode()
    assert 'id="by-faculty"' in html and "Engineering" in html and "FACULTY-SECRET" not in html
