"""Anonymity (admin, export), invitation links, rate limits and size limits."""

from __future__ import annotations

import gc
import io
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.utils import timezone

from classifiers.imports.exports import write_feedback_csv
from courses.models import Feedback, Survey, SurveyResponse
from courses.surveys.anonymity import day_of
from courses.surveys.identity import INVITATION_SALT, make_invitation, respondent_key
from tests.factories import UserFactory
from tests.surveys.conftest import build_survey, form_data, lti_login, survey_url

pytestmark = pytest.mark.django_db

SUB = "lti-user-8f3a9c"


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def _lti_submission(course, survey, django_client_factory):
    student = django_client_factory()
    lti_login(student, course, sub=SUB)
    assert student.post(survey_url(survey), form_data(survey)).status_code == 303
    return SurveyResponse.objects.get(survey=survey)


@pytest.fixture
def student_client():
    from django.test import Client

    return Client


def test_anonymous_response_stores_no_identity(course, survey, student_client):
    response = _lti_submission(course, survey, student_client)
    assert response.user_id is None and response.respondent_label == ""
    assert SUB not in response.respondent_key
    assert response.respondent_key == respondent_key(survey.pk, f"lti|https://moodle.example.edu|{SUB}")


def test_anonymous_respondent_never_shown_in_admin_even_to_a_superuser(
    course, survey, student_client, superuser_client
):
    response = _lti_submission(course, survey, student_client)
    # Anonymous responses reach staff once their day is over (visible_to_staff): look on the next day.
    SurveyResponse.objects.filter(pk=response.pk).update(submitted_at=day_of(timezone.now()) - timedelta(days=1))
    pages = [
        superuser_client.get("/admin/courses/surveyresponse/"),
        superuser_client.get(f"/admin/courses/surveyresponse/{response.pk}/change/"),
        superuser_client.get(f"/admin/courses/surveyresponse/{response.pk}/history/"),
        superuser_client.get("/admin/courses/feedback/"),
        superuser_client.get(f"/admin/courses/survey/{survey.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        for secret in (SUB, response.respondent_key, response.respondent_key[:16], "moodle.example.edu"):
            assert secret not in html
    change = pages[1].content.decode()
    assert "anonymous" in change and "The lectures help me learn." in change  # answers are visible, the who is not
    assert "[EMAIL]" in change or "a@b.edu" not in change


@pytest.mark.parametrize("lookup", ["respondent_key", "respondent_key__startswith", "user__username", "user",
                                    "respondent_label__contains"])
def test_admin_refuses_to_filter_responses_by_respondent(course, survey, student_client, superuser_client, lookup):
    response = _lti_submission(course, survey, student_client)
    resp = superuser_client.get("/admin/courses/surveyresponse/", {lookup: response.respondent_key[:8]})
    assert resp.status_code == 400


def test_export_contains_no_respondent(course, survey, student_client):
    response = _lti_submission(course, survey, student_client)
    assert write_feedback_csv(course, io.StringIO()) == 0  # anonymous answers reach staff the next day
    Feedback.objects.filter(course=course).update(created_at=day_of(timezone.now()) - timedelta(days=1))
    out = io.StringIO()
    assert write_feedback_csv(course, out) == 2
    assert SUB not in out.getvalue() and response.respondent_key not in out.getvalue()
    assert "a@b.edu" not in out.getvalue()


def test_identified_survey_records_who_answered_and_admin_shows_it(course, student_client, superuser_client):
    survey = build_survey(course, is_anonymous=False)
    response = _lti_submission(course, survey, student_client)
    assert response.respondent_label == f"lti: https://moodle.example.edu {SUB}"
    assert SUB in superuser_client.get(f"/admin/courses/surveyresponse/{response.pk}/change/").content.decode()


def test_admin_locks_anonymity_once_answered_for_course_staff(course, survey, student_client, client, instructor):
    # Was: locked for superusers too. Now an institution administrator (superuser included) may change it
    # (issue 17, tests/doors/test_courses_doors.py); the course's own staff may not.
    _lti_submission(course, survey, student_client)
    client.force_login(instructor)
    page = client.get(f"/admin/courses/survey/{survey.pk}/change/").content.decode()
    assert 'name="title"' in page and 'name="is_anonymous"' not in page


def test_admin_issues_invitation_links_that_work(client, course, survey, superuser_client):
    # Was: names accepted for an anonymous survey and paired with links in the CSV (issue 18: that list
    # de-anonymises); now an anonymous survey takes a number of unassigned links and the CSV has no names.
    url = f"/admin/courses/survey/{survey.pk}/invitations/"
    refused = superuser_client.post(url, {"count": "2", "recipients": "ana@uni.example\nbo@uni.example"})
    assert refused["Content-Type"].startswith("text/html") and b"anonymous" in refused.content
    resp = superuser_client.post(url, {"count": "2"})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    lines = resp.content.decode().strip().splitlines()
    assert lines[0] == "link" and len(lines) == 3 and lines[1].startswith("http://testserver/surveys/")
    token = parse_qs(urlsplit(lines[1]).query)["invite"][0]
    assert "r" not in signing.loads(token, salt=INVITATION_SALT)  # anonymous: no recipient inside
    assert client.get(lines[1]).status_code == 200


def test_admin_issues_named_links_for_identified_surveys(client, course, survey, superuser_client):
    Survey.objects.filter(pk=survey.pk).update(is_anonymous=False)
    resp = superuser_client.post(f"/admin/courses/survey/{survey.pk}/invitations/",
                                 {"count": "1", "recipients": "ana@uni.example"})
    lines = resp.content.decode().strip().splitlines()
    assert lines[0] == "recipient,link" and lines[1].startswith("ana@uni.example,http://testserver/surveys/")
    assert len(lines) == 3 and client.get(lines[1].split(",", 1)[1]).status_code == 200


def test_outsider_cannot_issue_invitations_for_another_course(client, survey, outsider):
    client.force_login(outsider)
    resp = client.post(f"/admin/courses/survey/{survey.pk}/invitations/", {"count": "1"})
    assert resp.status_code in (403, 302)
    assert b"invite=" not in resp.content


# --- Invitation links -----------------------------------------------------------------------------


def test_forged_invitation_is_refused(client, survey, invite):
    forged = invite[:-3] + ("AAA" if not invite.endswith("AAA") else "BBB")
    made_up = signing.dumps({"s": survey.pk, "n": "x", "x": 9999999999}, salt=INVITATION_SALT, key="not-ours")
    for token in (forged, made_up, "hello", "x" * 5000):
        resp = client.get(survey_url(survey), {"invite": token})
        assert resp.status_code == 403 and "not valid" in resp.content.decode()
        assert client.post(survey_url(survey), form_data(survey, invite=token)).status_code == 403
    assert SurveyResponse.objects.count() == 0


def test_invitation_for_another_survey_is_refused(client, course, survey):
    other = build_survey(course)
    resp = client.post(survey_url(survey), form_data(survey, invite=make_invitation(other)))
    assert resp.status_code == 403 and "different survey" in resp.content.decode()


def test_expired_invitation_is_refused(client, survey):
    token = make_invitation(survey, expires_at=timezone.now() - timedelta(minutes=1))
    resp = client.get(survey_url(survey), {"invite": token})
    assert resp.status_code == 403 and "expired" in resp.content.decode()
    assert client.post(survey_url(survey), form_data(survey, invite=token)).status_code == 403
    assert SurveyResponse.objects.count() == 0


def test_reused_invitation_is_refused(client, survey, invite):
    assert client.post(survey_url(survey), form_data(survey, invite=invite)).status_code == 303
    assert client.post(survey_url(survey), form_data(survey, invite=invite)).status_code == 409
    assert SurveyResponse.objects.count() == 1


def test_invitation_never_carries_the_recipient_of_an_anonymous_survey(survey):
    token = make_invitation(survey, recipient="ana@uni.example")
    assert "r" not in signing.loads(token, salt=INVITATION_SALT)


# --- Rate limits and size limits ------------------------------------------------------------------


def test_per_respondent_rate_limit(client, course, settings):
    settings.SURVEY_RATE_LIMIT_PER_RESPONDENT = 3
    survey = build_survey(course, allow_edit=True)
    invite = make_invitation(survey)
    codes = [client.post(survey_url(survey), form_data(survey, invite=invite)).status_code for _ in range(5)]
    assert codes == [303, 303, 303, 429, 429]
    limited = client.post(survey_url(survey), form_data(survey, invite=invite, texts=("kept", "")))
    assert limited["Retry-After"] == "60" and "kept" in limited.content.decode()


def test_per_ip_rate_limit(client, survey, settings):
    settings.SURVEY_RATE_LIMIT_PER_IP = 3
    codes = [
        client.post(survey_url(survey), form_data(survey, invite=make_invitation(survey)),
                    REMOTE_ADDR="203.0.113.9").status_code
        for _ in range(4)
    ]
    assert codes == [303, 303, 303, 429]
    other_ip = client.post(survey_url(survey), form_data(survey, invite=make_invitation(survey)),
                           REMOTE_ADDR="203.0.113.10")
    assert other_ip.status_code == 303
    assert SurveyResponse.objects.filter(survey=survey).count() == 4


def test_oversized_text_is_refused_with_a_clear_message_and_kept_in_the_form(client, survey, invite):
    long_text = "word " * 120  # 600 characters; the question allows 500
    resp = client.post(survey_url(survey), form_data(survey, invite=invite, texts=(long_text, "")))
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "Shorten your answer to 500 characters or fewer (it has 599)" in html
    assert long_text.strip() in html  # nothing the student wrote is lost
    assert SurveyResponse.objects.count() == 0 and Feedback.objects.count() == 0


@pytest.mark.parametrize("field, value", [("likert", "6"), ("likert", "1" * 50), ("invite_extra", "x" * 600)])
def test_out_of_range_and_oversized_values_are_refused(client, survey, invite, field, value):
    data = form_data(survey, invite=invite)
    q1 = survey.questions.order_by("position").first()
    if field == "likert":
        data[f"q{q1.pk}"] = value
        expected = 400
    else:
        data["invite"] = value
        expected = 403
    assert client.post(survey_url(survey), data).status_code == expected
    assert SurveyResponse.objects.count() == 0


def test_request_body_larger_than_the_survey_allows_is_refused(client, survey, invite):
    data = form_data(survey, invite=invite)
    data["padding"] = "x" * 40_000
    resp = client.post(survey_url(survey), data)
    assert resp.status_code == 413 and "larger than this survey accepts" in resp.content.decode()
    assert SurveyResponse.objects.count() == 0


def test_required_question_missing_is_explained(client, survey, invite):
    resp = client.post(survey_url(survey), form_data(survey, invite=invite, likert=(None, 3)))
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "There is a problem with your answers" in html and "this question is required" in html
    assert "<title>Error:" in html


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_no_api_serializer_exposes_who_answered():
    """A guard for every REST API module (`<app>/api.py`): response serializers carry no respondent fields."""
    from django.utils.module_loading import autodiscover_modules
    from rest_framework import serializers

    from courses.admin import RESPONDENT_FIELDS

    autodiscover_modules("api")
    for serializer in _subclasses(serializers.ModelSerializer):
        meta = getattr(serializer, "Meta", None)
        if getattr(meta, "model", None) is not SurveyResponse:
            continue
        fields = serializer().get_fields()
        assert not set(fields) & set(RESPONDENT_FIELDS), f"{serializer.__qualname__} exposes {set(fields)}"


def test_api_guard_catches_an_exposing_serializer():
    from rest_framework import serializers

    class Leaky(serializers.ModelSerializer):
        class Meta:
            model = SurveyResponse
            fields = ["id", "respondent_key"]

    with pytest.raises(AssertionError, match="Leaky exposes"):
        test_no_api_serializer_exposes_who_answered()
    del Leaky
    gc.collect()  # drop the class so that the real guard does not see it in __subclasses__()
