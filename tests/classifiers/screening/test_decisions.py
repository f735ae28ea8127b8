"""Screeners' decisions (issue 19, item 3): release, release with a span redacted, remove; each in an audit
trail nobody can edit or delete; each a training label of the screening schema; never by a member of the
comment's course; refused with a clear reason for anyone who is not a screener."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from classifiers.models import Annotation
from classifiers.reports.selectors import module_report
from classifiers.screening.models import AuditTrailError, ScreeningDecision
from classifiers.screening.services import SCREENER_REDACTION, ScreeningRefused, decide, screening_policy
from courses.models import Feedback, Role, ScreeningStatus
from eduplatform.errors import PermissionRefused
from tests.factories import MembershipFactory, UserFactory
from tests.support import token_client

pytestmark = pytest.mark.django_db


def _labels(item: Feedback, user) -> list[str]:  # noqa: ANN001
    annotation = Annotation.objects.get(feedback=item, schema=screening_policy().schema, annotator=user,
                                        is_current=True)
    return sorted(annotation.labels.values_list("name", flat=True))


def test_release_shows_the_comment_to_course_staff_and_records_who_when_why(
    screener, instructor, course, held_course
):
    item = held_course[ScreeningStatus.HELD]
    text = item.redacted_text
    decision = decide(item, action="release", actor=screener, note="harsh, but about the teaching")
    item.refresh_from_db()
    assert item.screening == ScreeningStatus.RELEASED and item.redacted_text == text
    assert (decision.actor, decision.action, decision.note, decision.verdict, decision.screen) == (
        screener, "release", "harsh, but about the teaching", "held", "test screen")
    assert decision.decided_at is not None and decision.course_code == course.code
    assert _labels(item, screener) == ["acceptable"]
    listed = token_client(instructor).get(f"/api/courses/{course.code}/feedback/?search=HELD").json()
    assert [r["text"] for r in listed["results"]] == [text]


def test_release_with_a_span_redacted_shows_only_the_rest(screener, instructor, course, held_course):
    item = held_course[ScreeningStatus.HELD]
    text = item.redacted_text
    start, end = text.index(" and so ugly"), text.index(" and so ugly") + len(" and so ugly")
    decide(item, action="release_redacted", actor=screener, reasons=["personal_remark"], span=(start, end))
    item.refresh_from_db()
    assert item.redacted_text == text[:start] + SCREENER_REDACTION + text[end:]
    assert item.screening == ScreeningStatus.RELEASED
    decision = ScreeningDecision.objects.get(feedback=item)
    assert (decision.span_start, decision.span_end, decision.reasons) == (start, end, ["personal_remark"])
    assert _labels(item, screener) == ["acceptable"]  # the text as it now stands; the reason is in the audit
    page = token_client(instructor).get(f"/api/courses/{course.code}/feedback/{item.pk}/").json()
    assert SCREENER_REDACTION in page["text"] and "ugly" not in page["text"]


def test_a_release_can_say_what_the_screener_still_sees_in_the_comment(screener, held_course):
    item = held_course[ScreeningStatus.URGENT]
    decide(item, action="release", actor=screener, reasons=["distress"], note="support has been in touch")
    assert _labels(item, screener) == ["acceptable", "distress"]


def test_remove_keeps_the_comment_for_audit_and_drops_it_from_the_counts(screener, course, sentiment, held_course):
    before = module_report(course, sentiment).total_responses
    item = held_course[ScreeningStatus.URGENT]
    decide(item, action="remove", actor=screener, reasons=["distress", "offensive"])
    item.refresh_from_db()
    assert item.screening == ScreeningStatus.REMOVED and Feedback.objects.filter(pk=item.pk).exists()
    after = module_report(course, sentiment)
    assert after.total_responses == before - 1 and after.awaiting_review == 2
    assert _labels(item, screener) == ["distress", "offensive"]


def test_the_audit_trail_cannot_be_changed_or_deleted(screener, held_course, superuser):
    decision = decide(held_course[ScreeningStatus.HELD], action="release", actor=screener)
    decision.note = "rewritten"
    with pytest.raises(AuditTrailError):
        decision.save()
    with pytest.raises(AuditTrailError):
        decision.delete()
    for statement in ("UPDATE screening_screeningdecision SET note = 'rewritten'",
                      "DELETE FROM screening_screeningdecision"):
        with pytest.raises(DatabaseError, match="audit trail"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    admin = Client()
    admin.force_login(superuser)
    assert admin.post(reverse("admin:screening_screeningdecision_delete", args=[decision.pk]),
                      {"post": "yes"}).status_code == 403
    admin.post(reverse("admin:screening_screeningdecision_change", args=[decision.pk]), {"note": "rewritten"})
    assert ScreeningDecision.objects.get().note == ""


def test_deleting_the_course_keeps_the_decisions_with_their_course_code(screener, course, held_course, superuser):
    from courses.services import delete_course

    decide(held_course[ScreeningStatus.HELD], action="remove", actor=screener, reasons=["offensive"])
    delete_course(course, actor=superuser)
    decision = ScreeningDecision.objects.get()
    assert (decision.feedback_id, decision.course_id, decision.course_code) == (None, None, "CS101")


@pytest.mark.parametrize("role", [Role.INSTRUCTOR, Role.TEACHING_ASSISTANT, Role.VIEWER, Role.ANNOTATOR])
def test_a_screener_never_screens_a_course_where_they_hold_a_role(screener, course, held_course, role):
    MembershipFactory(course=course, user=screener, role=role)
    item = held_course[ScreeningStatus.HELD]
    with pytest.raises(PermissionRefused, match="sam may not screen held comments in CS101: only screeners of the "
                                                "whole institution or of the course's faculty who hold no role in "
                                                "the course may"):
        decide(item, action="release", actor=screener)
    client = Client()
    client.force_login(screener)
    assert "HELD-SECRET" not in client.get(reverse("admin:screening_queue")).content.decode()
    resp = token_client(screener).post(f"/api/screening/queue/{item.pk}/decision/", {"action": "release"},
                                       format="json")
    assert resp.status_code == 404
    item.refresh_from_db()
    assert item.screening == ScreeningStatus.HELD and not ScreeningDecision.objects.exists()


def test_a_superuser_who_teaches_the_course_cannot_release_its_comments(course, held_course):
    boss = UserFactory(username="boss", is_superuser=True)
    MembershipFactory(course=course, user=boss, role=Role.INSTRUCTOR)
    with pytest.raises(PermissionRefused):
        decide(held_course[ScreeningStatus.HELD], action="release", actor=boss)


@pytest.mark.parametrize("role", ["instructor", "teaching_assistant", "annotator", "viewer", "outsider",
                                  "administrator"])
def test_only_screeners_decide(request, role, held_course):
    user = request.getfixturevalue(role)
    item = held_course[ScreeningStatus.HELD]
    with pytest.raises(PermissionRefused, match="only screeners"):
        decide(item, action="release", actor=user)
    resp = token_client(user).post(f"/api/screening/queue/{item.pk}/decision/", {"action": "release"}, format="json")
    assert resp.status_code == 403 and "only screeners" in resp.json()["detail"]
    item.refresh_from_db()
    assert item.screening == ScreeningStatus.HELD


def test_a_comment_is_decided_once(screener, held_course):
    item = held_course[ScreeningStatus.HELD]
    decide(item, action="release", actor=screener)
    other = UserFactory(username="sue")
    from classifiers.screening.services import grant_screener

    grant_screener(other, actor=None)
    with pytest.raises(ScreeningRefused, match="is not held for review .it is released by a screener."):
        decide(item, action="remove", actor=other, reasons=["offensive"])
    assert ScreeningDecision.objects.count() == 1


@pytest.mark.parametrize(("body", "message"), [
    ({"action": "delete"}, "'\"delete\" is not a valid choice.'"),
    ({"action": "remove"}, "say why: choose at least one reason"),
    ({"action": "remove", "reasons": ["rude"]}, "'\"rude\" is not a valid choice.'"),
    ({"action": "release_redacted", "reasons": ["offensive"]}, "select the words to redact first"),
    ({"action": "release_redacted", "reasons": ["offensive"], "span": [5, 5000]}, "is not within the comment's"),
    ({"action": "release", "span": [0, 3]}, "a span is redacted only when releasing with a span redacted"),
    ({"action": "release", "note": "x" * 2001}, "no more than 2000 characters"),
])
def test_bad_decisions_are_refused_with_what_to_do_and_change_nothing(screener, held_course, body, message):
    item = held_course[ScreeningStatus.HELD]
    resp = token_client(screener).post(f"/api/screening/queue/{item.pk}/decision/", body, format="json")
    assert resp.status_code == 400 and message in str(resp.json())
    item.refresh_from_db()
    assert item.screening == ScreeningStatus.HELD and not ScreeningDecision.objects.exists()


def test_the_queue_page_endpoints_answer_bad_input_with_400_not_500(client, screener, held_course):
    client.force_login(screener)
    url = reverse("admin:screening_queue_decide")
    item = held_course[ScreeningStatus.HELD]
    for body in (b"not json", b"[1]", b'{"feedback": "x"}', b'{"feedback": %d, "span": "0-3"}' % item.pk,
                 b'{"feedback": %d, "reasons": "offensive", "action": "remove"}' % item.pk):
        resp = client.post(url, body, content_type="application/json")
        assert resp.status_code == 400, body
        assert resp.json()["error"]
    resp = client.post(url, b'{"feedback": %d, "action": "remove", "reasons": ["threat"], "need": 3}' % item.pk,
                       content_type="application/json")
    assert resp.status_code == 200 and [i["verdict"] for i in resp.json()["next"]] == ["urgent"]


def test_screeners_labels_stay_out_of_course_staffs_views(screener, instructor, annotator, course, held_course):
    decide(held_course[ScreeningStatus.HELD], action="release", actor=screener)
    for user in (instructor, annotator):
        api = token_client(user)
        annotations = api.get(f"/api/courses/{course.code}/annotations/").json()["results"]
        assert all(a["annotator"] != "sam" for a in annotations)
        schemas = [s["name"] for s in api.get(f"/api/courses/{course.code}/schemas/").json()["results"]]
        assert "screening" not in schemas
