"""'You said, we did': drafts, publish, unpublish and history through the service and the admin; who may;
where students see published responses (their course's LTI landing page, the survey intro) and staff see
them (the report, beside the module); everything escaped."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from courses.loop.models import Decision, LoopResponse, LoopRevision, LoopStatus, RevisionAction
from courses.loop.services import (
    LoopRejected,
    edit_loop_response,
    publish_loop_response,
    unpublish_loop_response,
    write_loop_response,
)
from courses.surveys.identity import make_invitation
from eduplatform.errors import PermissionRefused
from tests.classifiers.reports.report_data import add_feedback, version
from tests.factories import ModuleFactory
from tests.surveys.conftest import build_survey, lti_login

pytestmark = pytest.mark.django_db

HISTORY_FORMSET = {"revisions-TOTAL_FORMS": "0", "revisions-INITIAL_FORMS": "0"}  # the read-only inline
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def module(course):
    return ModuleFactory(course=course, title="Week 3: recursion")


def draft(course, module, instructor, **fields):
    values = {"you_said": "The recursion lab was rushed.", "we_did": "Two lab sessions from next term."} | fields
    return write_loop_response(course, module=module, actor=instructor, **values)


def test_a_draft_is_written_edited_published_and_unpublished_with_its_history(course, module, instructor):
    item = draft(course, module, instructor)
    assert item.status == LoopStatus.DRAFT and item.published_at is None
    item = edit_loop_response(item, module=module, you_said="The lab was rushed.", we_did="Two sessions.",
                              decision=Decision.CHANGE, actor=instructor)
    item = publish_loop_response(item, actor=instructor)
    assert item.status == LoopStatus.PUBLISHED and item.published_at is not None
    publish_loop_response(item, actor=instructor)  # already published: no new revision
    item = unpublish_loop_response(item, actor=instructor)
    history = list(LoopRevision.objects.filter(response=item).order_by("at", "id").values_list("action", "actor",
                                                                                             "you_said"))
    assert history == [(RevisionAction.CREATED, instructor.pk, "The recursion lab was rushed."),
                       (RevisionAction.EDITED, instructor.pk, "The lab was rushed."),
                       (RevisionAction.PUBLISHED, instructor.pk, "The lab was rushed."),
                       (RevisionAction.UNPUBLISHED, instructor.pk, "The lab was rushed.")]
    assert LoopResponse.objects.get().status == LoopStatus.DRAFT


@pytest.mark.parametrize("persona", ["outsider", "viewer", "annotator"])
def test_only_the_courses_instructors_and_tas_may_write_or_publish(request, course, module, instructor, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionRefused, match="may not write or publish"):
        draft(course, module, user)
    item = draft(course, module, instructor)
    for service in (publish_loop_response, unpublish_loop_response):
        with pytest.raises(PermissionRefused):
            service(item, actor=user)
    with pytest.raises(PermissionRefused):
        edit_loop_response(item, module=module, you_said="x", we_did="y", decision=Decision.CHANGE, actor=user)
    assert LoopResponse.objects.get().status == LoopStatus.DRAFT and LoopRevision.objects.count() == 1


def test_a_teaching_assistant_may(course, module, teaching_assistant):
    item = publish_loop_response(draft(course, module, teaching_assistant), actor=teaching_assistant)
    assert item.status == LoopStatus.PUBLISHED


@pytest.mark.parametrize(("fields", "message"), [
    ({"you_said": "  "}, "“You said” is empty"),
    ({"we_did": "x" * 4001}, "“We did” has 4,001 characters; the limit is 4,000"),
    ({"decision": "maybe"}, "decision must be one of change, no_change"),
])
def test_bad_input_is_refused_with_the_reason(course, module, instructor, fields, message):
    with pytest.raises(LoopRejected, match=message):
        draft(course, module, instructor, **fields)
    assert not LoopResponse.objects.exists()


def test_a_module_of_another_course_is_refused(course, other_course, instructor):
    with pytest.raises(LoopRejected, match="is not a module of course CS101"):
        draft(course, ModuleFactory(course=other_course), instructor)


# --- Where students see them ---------------------------------------------------------------------------


def test_the_survey_intro_shows_the_courses_published_responses_only_escaped(course, other_course, module, instructor,
                                                                             outsider):
    publish_loop_response(draft(course, module, instructor, we_did=HOSTILE), actor=instructor)
    draft(course, module, instructor, you_said="A DRAFT NOBODY SEES")
    publish_loop_response(draft(other_course, None, outsider, you_said="OTHER COURSE"), actor=outsider)
    survey = build_survey(course, module=module)
    page = Client().get(reverse("surveys:survey", kwargs={"survey_id": survey.pk}), {"invite": make_invitation(survey)})
    text = page.content.decode()
    assert page.status_code == 200 and "You said, we did" in text and "The recursion lab was rushed." in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text and HOSTILE not in text
    assert "A DRAFT NOBODY SEES" not in text and "OTHER COURSE" not in text


def test_the_survey_page_without_published_responses_has_no_section(course, module, instructor):
    draft(course, module, instructor)
    survey = build_survey(course, module=module)
    client = Client()
    lti_login(client, course)
    page = client.get(reverse("surveys:survey", kwargs={"survey_id": survey.pk}))
    assert page.status_code == 200 and "You said, we did" not in page.content.decode()


# --- Where staff see them ------------------------------------------------------------------------------


def test_the_report_shows_published_responses_beside_their_module_and_follows_unpublishing(course, module, instructor):
    add_feedback(course, module, ["positive"] * 6 + ["negative"] * 6, model=version(course))
    item = publish_loop_response(draft(course, module, instructor, we_did=HOSTILE), actor=instructor)
    client = Client()
    client.force_login(instructor)
    url = reverse("reports:course_report", kwargs={"course_code": course.code})
    text = client.get(url).content.decode()
    card = text[text.index('aria-label="Week 3: recursion"'):]
    assert "You said, we did (published to students)" in card and "The recursion lab was rushed." in card
    assert HOSTILE not in text and "&lt;script&gt;" in text
    unpublish_loop_response(item, actor=instructor)
    assert "The recursion lab was rushed." not in client.get(url).content.decode()  # the cached page moved on


# --- The admin door ------------------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_instructor_writes_and_publishes_in_admin(course, module, instructor):
    instructor.is_staff = True
    instructor.save()
    client = _client(instructor)
    resp = client.post(reverse("admin:loop_loopresponse_add"), {
        "course": course.pk, "module": module.pk, "you_said": "Slides came late.", "we_did": "Slides a day before.",
        "decision": Decision.CHANGE, **HISTORY_FORMSET})
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp.status_code
    item = LoopResponse.objects.get()
    assert item.status == LoopStatus.DRAFT and item.created_by == instructor
    client.post(reverse("admin:loop_loopresponse_changelist"), {"action": "publish", "_selected_action": [item.pk]})
    item.refresh_from_db()
    assert item.status == LoopStatus.PUBLISHED
    change = client.get(reverse("admin:loop_loopresponse_change", args=[item.pk])).content.decode()
    assert "Published" in change and "Written" in change  # the history inline


@pytest.mark.parametrize("persona", ["viewer", "annotator", "outsider"])
def test_other_staff_cannot_write_or_publish_in_admin(request, course, module, instructor, persona):
    user = request.getfixturevalue(persona)
    user.is_staff = True
    user.save()
    item = draft(course, module, instructor)
    client = _client(user)
    client.post(reverse("admin:loop_loopresponse_add"), {
        "course": course.pk, "module": module.pk, "you_said": "x", "we_did": "y", "decision": Decision.CHANGE,
        **HISTORY_FORMSET})
    client.post(reverse("admin:loop_loopresponse_changelist"), {"action": "publish", "_selected_action": [item.pk]})
    assert LoopResponse.objects.count() == 1 and LoopResponse.objects.get().status == LoopStatus.DRAFT
    if persona == "outsider":  # another course's response is missing, not forbidden
        assert client.get(reverse("admin:loop_loopresponse_change", args=[item.pk])).status_code == 404


def test_a_student_session_reaches_no_admin(course, module, instructor):
    item = draft(course, module, instructor)
    client = Client()
    lti_login(client, course)
    assert client.get(reverse("admin:loop_loopresponse_add")).status_code == 302  # to the login page
    client.post(reverse("admin:loop_loopresponse_changelist"), {"action": "publish", "_selected_action": [item.pk]})
    assert LoopResponse.objects.get().status == LoopStatus.DRAFT
