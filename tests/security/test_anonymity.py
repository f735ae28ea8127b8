"""Issue 18, item 2: an anonymous survey links no answer to a person, whatever staff can reach.

The de-anonymisation test answers an anonymous survey ten times through the real pages (seven invitation
links from the admin's CSV, three LTI learners), then gathers everything an instructor, a TA, an annotator
and an administrator can open, and looks for anything that ties an answer to a link, an LTI user, a
time of day or an order of arrival. The focused tests below it each failed on main before issue 18.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from classifiers.models import Annotation
from courses.models import Answer, Feedback, SurveyResponse
from courses.surveys.anonymity import RANDOM_ID_FLOOR, day_of
from tests.factories import AnnotationFactory, LabelSchemaFactory
from tests.support import token_client
from tests.surveys.conftest import build_survey, form_data, lti_login, survey_url

STAFF = ("instructor", "teaching_assistant", "annotator", "administrator")
EMAILS = ("ana@uni.example", "bo@uni.example")
LTI_SUBS = ("lti-sub-7f3a", "lti-sub-9c1d", "lti-sub-2e6b")
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)")


def _links(csv_text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert rows[0] == ["link"]
    return [row[-1] for row in rows[1:]]


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


@pytest.fixture
def answered(course, instructor, settings):
    """An anonymous survey with edits allowed, answered by 10 students; returns (survey, links, texts, started)."""
    settings.SURVEY_RATE_LIMIT_PER_IP = 10_000
    survey = build_survey(course, allow_edit=True)
    staff = Client()
    staff.force_login(instructor)
    url = f"/admin/courses/survey/{survey.pk}/invitations/"
    refused = staff.post(url, {"recipients": "\n".join(EMAILS)})  # names: refused for anonymous surveys
    assert not refused["Content-Type"].startswith("text/csv")
    links = _links(staff.post(url, {"count": "9"}).content.decode())
    started = timezone.now()
    texts = []
    for n, link in enumerate(links[:7]):
        texts.append(f"Invitation answer {n} about the labs")
        token = parse_qs(urlsplit(link).query)["invite"][0]
        resp = Client().post(survey_url(survey), form_data(survey, invite=token, texts=(texts[-1], "")))
        assert resp.status_code == 303
    for n, sub in enumerate(LTI_SUBS):
        texts.append(f"LTI answer {n} about the lectures")
        student = Client()
        lti_login(student, course, sub=sub)
        assert student.post(survey_url(survey), form_data(survey, texts=(texts[-1], ""))).status_code == 303
    schema = LabelSchemaFactory(course=course)
    for item in Feedback.objects.filter(course=course)[:4]:
        AnnotationFactory(feedback=item, schema=schema, labels=[schema.labels.first()])
    # Labelling is staff's own later act (its time is theirs, not a student's): three hours on.
    Annotation.objects.filter(schema=schema).update(created_at=started + timedelta(hours=3),
                                                    updated_at=started + timedelta(hours=3))
    return survey, links, texts, started


def _everything(survey, user, course) -> list[tuple[str, str]]:
    """(where, text) of every page, export, API answer and e-mail this user can reach about the survey."""
    client = Client()
    client.force_login(user)
    api = token_client(user)
    pages = [
        "/admin/courses/feedback/", "/admin/courses/surveyresponse/", "/admin/courses/survey/",
        f"/admin/courses/survey/{survey.pk}/change/", f"/admin/courses/survey/{survey.pk}/invitations/",
        "/admin/classifiers/labelitem/", "/admin/classifiers/annotation/",
        f"/reports/{course.code}/", f"/reports/{course.code}/export.csv",
    ]
    responses = SurveyResponse.objects.filter(survey=survey)
    pages += [f"/admin/courses/surveyresponse/{pk}/change/" for pk in responses.values_list("pk", flat=True)]
    feedback = Feedback.objects.filter(answer__response__survey=survey)
    pages += [f"/admin/courses/feedback/{pk}/change/" for pk in feedback.values_list("pk", flat=True)]
    pages += [f"/admin/classifiers/labelitem/{pk}/change/" for pk in feedback.values_list("pk", flat=True)]
    seen = [(page, client.get(page).content.decode(errors="replace")) for page in pages]
    for endpoint in ("feedback", "surveys", "predictions", "annotations"):
        page = f"/api/courses/{course.code}/{endpoint}/"
        seen.append((page, api.get(page).content.decode()))
    csv_page = f"/admin/courses/survey/{survey.pk}/invitations/"
    seen.append((csv_page + " (CSV)", client.post(csv_page, {"count": "1"}).content.decode()))
    seen += [(f"mail to {m.to}", f"{m.subject}\n{m.body}") for m in mail.outbox]
    return seen


@pytest.mark.parametrize("role", STAFF)
def test_nothing_staff_can_reach_links_an_anonymous_answer_to_a_person_a_time_or_an_order(
    request, role, answered, course
):
    survey, links, texts, started = answered
    user = request.getfixturevalue(role)
    seen = _everything(survey, user, course)
    if role != "administrator":  # course staff do reach the answers (an administrator has no course role)
        assert any(text in content for text in texts for _, content in seen)
    finished = timezone.now()
    minutes = {timezone.localtime(m).strftime("%H:%M") for m in (started, finished)}
    for where, content in seen:
        for secret in (*EMAILS, *LTI_SUBS, "moodle.example.edu"):
            assert secret not in content, f"{secret} in {where}"
        if "/survey/" not in where and "/surveys/" not in where:  # survey dates are staff's, no respondent's
            # The report's build time is the page view's, not an answer's (see the report in the README).
            content_times = re.sub(r"Data as of [^<]*", "", content)
            for minute in minutes - {"00:00"}:
                assert minute not in content_times, f"time of day {minute} in {where}"
        for stamp in ISO_TIME.findall(content):
            if "/feedback/" in where:
                assert stamp == "00:00:00", f"{stamp} in {where}"
    # Each link, opened by staff, shows the same blank form whether its student answered or not.
    blank = _without_csrf(Client().get(links[8]).content.decode())  # never used
    for link in links[:7]:
        page = _without_csrf(Client().get(link).content.decode())
        assert page.replace(parse_qs(urlsplit(link).query)["invite"][0], "") == blank.replace(
            parse_qs(urlsplit(links[8]).query)["invite"][0], "")
        assert not any(text in page for text in texts)


def test_anonymous_rows_keep_the_day_only_and_random_ids_out_of_submission_order(answered):
    survey, _, texts, started = answered
    midnight = day_of(started)
    responses = SurveyResponse.objects.filter(survey=survey)
    assert {(r.submitted_at, r.updated_at) for r in responses} == {(midnight, midnight)}
    assert timezone.localtime(midnight).time() == time(0, 0)
    by_text = {f.original_text: f for f in Feedback.objects.filter(answer__response__survey=survey)}
    in_submission_order = [by_text[t].pk for t in texts]
    assert all(pk >= RANDOM_ID_FLOOR for pk in in_submission_order)
    assert in_submission_order != sorted(in_submission_order)  # 1 in 10! that a random draw is sorted
    assert {(f.submitted_at, f.created_at) for f in by_text.values()} == {(midnight, midnight)}
    response_ids = list(responses.values_list("pk", flat=True))
    answer_ids = list(Answer.objects.filter(response__survey=survey).values_list("pk", flat=True))
    assert min(response_ids + answer_ids) >= RANDOM_ID_FLOOR


# --- Focused scenarios of item 2 -----------------------------------------------------------------------


def test_an_anonymous_survey_takes_no_names_for_its_links(course, instructor):
    from courses.surveys.services import SurveyRejected, issue_invitations

    survey = build_survey(course)
    with pytest.raises(SurveyRejected, match="anonymous"):
        issue_invitations(survey, list(EMAILS), actor=instructor)
    assert [r for r, _ in issue_invitations(survey, ["", ""], actor=instructor)] == ["", ""]


def test_someone_elses_link_neither_reopens_nor_reveals_an_anonymous_answer(course):
    survey = build_survey(course, allow_edit=True)
    from courses.surveys.identity import make_invitation

    token = make_invitation(survey)
    student = Client()
    assert student.post(survey_url(survey), form_data(survey, invite=token, texts=("My secret", ""))).status_code == 303
    assert "My secret" in student.get(survey_url(survey), {"invite": token}).content.decode()  # own browser: edits
    holder = Client()  # the same link in staff's hands
    page = holder.get(survey_url(survey), {"invite": token}).content.decode()
    assert "My secret" not in page and "Send my answers" in page and "You answered before" not in page
    overwrite = holder.post(survey_url(survey), form_data(survey, invite=token, texts=("Forged", "")))
    assert overwrite.status_code == 409 and "edit code" in overwrite.content.decode()
    assert set(Feedback.objects.values_list("original_text", flat=True)) == {"My secret"}


def test_the_edit_code_reopens_an_anonymous_answer_from_another_device(course):
    survey = build_survey(course, allow_edit=True)
    from courses.surveys.identity import make_invitation

    token = make_invitation(survey)
    first = Client()
    first.post(survey_url(survey), form_data(survey, invite=token, texts=("Before", "")))
    code = first.cookies[f"survey_edit_{survey.pk}"].value
    assert code in first.get(f"/surveys/{survey.pk}/thanks/").content.decode()  # shown to the student once
    assert SurveyResponse.objects.get().edit_key_digest not in ("", code)  # only a keyed hash is stored
    other = Client()
    wrong = other.post(survey_url(survey), {**form_data(survey, invite=token, texts=("After", "")),
                                            "edit_code": "not-the-code"})
    assert wrong.status_code == 409
    right = other.post(survey_url(survey), {**form_data(survey, invite=token, texts=("After", "")),
                                            "edit_code": code})
    assert right.status_code == 303 and right["Location"].endswith("?edited=1")
    assert set(Feedback.objects.values_list("original_text", flat=True)) == {"After"}


def test_anonymous_answers_are_not_classified_on_arrival(course, django_capture_on_commit_callbacks):
    from courses.signals import feedback_created

    survey = build_survey(course)
    from courses.surveys.identity import make_invitation

    announced = []
    feedback_created.connect(lambda sender, **kw: announced.append(kw), weak=False, dispatch_uid="t-anon")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            Client().post(survey_url(survey), form_data(survey, invite=make_invitation(survey)))
    finally:
        feedback_created.disconnect(dispatch_uid="t-anon")
    assert announced == []  # a prediction made now would date the answer to the minute


def test_anonymous_feedback_waits_for_the_next_days_classification(course):
    from classifiers.classification.services import pending_feedback
    from tests.factories import ModelVersionFactory

    survey = build_survey(course)
    from courses.surveys.identity import make_invitation

    Client().post(survey_url(survey), form_data(survey, invite=make_invitation(survey)))
    version = ModelVersionFactory(schema=LabelSchemaFactory(course=course), course=course)
    ids = set(Feedback.objects.values_list("pk", flat=True))
    assert ids and not ids & set(pending_feedback(version).values_list("pk", flat=True))
    Feedback.objects.update(created_at=datetime(2020, 1, 1, tzinfo=timezone.get_current_timezone()))
    assert ids <= set(pending_feedback(version).values_list("pk", flat=True))


def test_staff_lists_show_an_anonymous_answer_only_once_its_day_is_over(course, instructor):
    """A list refreshed during the day would date a new anonymous item to the minute it appeared."""
    from classifiers.labelling.ordering import RANDOM, annotation_queue
    from classifiers.labelling.progress import schema_progress
    from classifiers.reports.models import ReportCell
    from classifiers.reports.summary import ensure_summary
    from courses.surveys.identity import make_invitation

    survey = build_survey(course)
    schema = LabelSchemaFactory(course=course)
    text = "Quietly submitted answer about the tutorials"
    assert Client().post(survey_url(survey), form_data(survey, invite=make_invitation(survey),
                                                       texts=(text, ""))).status_code == 303
    (item,) = Feedback.objects.filter(course=course)
    assert item.pk >= RANDOM_ID_FLOOR
    admin = Client()
    admin.force_login(instructor)
    api = token_client(instructor)

    response_url = f"/admin/courses/surveyresponse/{SurveyResponse.objects.get(survey=survey).pk}/change/"

    def seen() -> dict[str, bool]:
        return {
            "feedback admin": text in admin.get("/admin/courses/feedback/").content.decode(),
            "responses admin": admin.get(response_url).status_code == 200
            and response_url in admin.get("/admin/courses/surveyresponse/").content.decode(),
            "items to label": text in admin.get(f"/admin/classifiers/labelitem/?schema={schema.pk}").content.decode(),
            "api list": text in api.get(f"/api/courses/{course.code}/feedback/").content.decode(),
            "api detail": api.get(f"/api/courses/{course.code}/feedback/{item.pk}/").status_code == 200,
            "annotate queue": [f.pk for f in annotation_queue(schema, course=course, user=instructor)] == [item.pk],
            "random queue": [f.pk for f in annotation_queue(schema, course=course, user=instructor,
                                                            order=RANDOM)] == [item.pk],
            "progress": schema_progress(schema, course=course).items == 1,
            "report": sum(ReportCell.objects.filter(snapshot=ensure_summary(course, schema, None))
                          .values_list("count", flat=True)) == 1,
        }

    today = seen()
    assert not any(today.values()), today
    Feedback.objects.filter(pk=item.pk).update(created_at=day_of(timezone.now()) - timedelta(days=1))
    SurveyResponse.objects.filter(survey=survey).update(submitted_at=day_of(timezone.now()) - timedelta(days=1))
    # The report fingerprint holds the day, so tomorrow's first view rebuilds; here the row moved instead.
    tomorrow = seen()
    assert all(tomorrow.values()), tomorrow


def test_the_report_counts_todays_anonymous_answer_on_the_first_view_of_the_next_day(course, monkeypatch):
    from classifiers.reports.models import ReportCell
    from classifiers.reports.summary import ensure_summary
    from courses.surveys.identity import make_invitation

    survey = build_survey(course)
    schema = LabelSchemaFactory(course=course)
    Client().post(survey_url(survey), form_data(survey, invite=make_invitation(survey)))
    assert Feedback.objects.filter(course=course).count() == 2

    def counted() -> int:
        snapshot = ensure_summary(course, schema, None)
        return sum(ReportCell.objects.filter(snapshot=snapshot).values_list("count", flat=True))

    assert counted() == 0
    built = ensure_summary(course, schema, None).built_at
    assert counted() == 0 and ensure_summary(course, schema, None).built_at == built  # no rebuild today
    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    assert counted() == 2  # the day is in the fingerprint: the first view after midnight rebuilds
