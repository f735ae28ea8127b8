"""Courses' doors: every persona × state-changing action × door (admin change form or action, API where it
offers the action) gets the same allow/refuse, and a refusal changes nothing.

Allowed ⇔ the database (or the CSV of links) shows the change: the status codes differ by door (403, 404,
a redirect with a message, a form error), what was stored may not.
"""

from __future__ import annotations

import pytest
from django.forms import MultiWidget
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from courses.models import Course, Feedback, Module, SurveyResponse
from tests.factories import FeedbackFactory, ModuleFactory, SurveyFactory, UserFactory
from tests.support import ROLES

pytestmark = pytest.mark.django_db

MANAGERS = {"teaching_assistant", "instructor", "superuser"}
ADMINISTRATORS = {"administrator", "superuser"}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_form_data(url: str, superuser) -> dict:
    """The change form as a superuser sees it, as POST data (inline management forms included)."""
    response = login(superuser).get(url)
    assert response.status_code == 200
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data: dict = {}
    for form in forms:
        for bound in form:
            value, widget = bound.value(), bound.field.widget
            widget = getattr(widget, "widget", widget)  # the admin's related-field wrapper
            if isinstance(widget, MultiWidget):
                for i, part in enumerate(widget.decompress(value)):
                    data[f"{bound.html_name}_{i}"] = "" if part is None else part
            elif value is True:
                data[bound.html_name] = "on"
            elif value is not None and value is not False:
                data[bound.html_name] = value
    return data


def post_change(user, superuser, url: str, **changes: object) -> None:
    data = change_form_data(url, superuser)
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = value
    login(user).post(url, data)


# --- Feedback: delete and move --------------------------------------------------------------------


@pytest.fixture
def feedback(course):
    module = ModuleFactory(course=course, title="Week 1")
    return FeedbackFactory(course=course, module=module, original_text="mail jane.doe@uni.example",
                           redacted_text="mail [EMAIL]")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _delete_by_admin_form(user, fb, su):
    login(user).post(reverse("admin:courses_feedback_delete", args=[fb.pk]), {"post": "yes"})


def _delete_by_admin_action(user, fb, su):
    login(user).post(reverse("admin:courses_feedback_changelist"),
                     {"action": "delete_selected", "_selected_action": [fb.pk], "post": "yes"})


def _delete_by_api(user, fb, su):
    api(user).delete(f"/api/courses/{fb.course.code}/feedback/{fb.pk}/")


@pytest.mark.parametrize("door", [_delete_by_admin_form, _delete_by_admin_action, _delete_by_api])
@pytest.mark.parametrize("role", ROLES)
def test_delete_feedback_same_answer_at_every_door(personas, feedback, role, door):
    door(personas[role], feedback, personas["superuser"])
    assert Feedback.objects.filter(pk=feedback.pk).exists() is (role not in MANAGERS)


def _move_by_admin_form(user, fb, target, su):
    post_change(user, su, reverse("admin:courses_feedback_change", args=[fb.pk]), module=target.pk)


def _move_by_api(user, fb, target, su):
    api(user).patch(f"/api/courses/{fb.course.code}/feedback/{fb.pk}/", {"module": target.pk}, format="json")


@pytest.mark.parametrize("door", [_move_by_admin_form, _move_by_api])
@pytest.mark.parametrize("role", ROLES)
def test_move_feedback_same_answer_at_every_door(personas, course, feedback, role, door):
    target = ModuleFactory(course=course, title="Week 2")
    door(personas[role], feedback, target, personas["superuser"])
    feedback.refresh_from_db()
    assert (feedback.module_id == target.pk) is (role in MANAGERS)


@pytest.mark.parametrize("door", [_move_by_admin_form, _move_by_api])
def test_two_course_user_cannot_move_feedback_into_the_other_course(course, other_course, feedback, superuser, door):
    both = UserFactory(username="bo")
    for c in (course, other_course):
        c.memberships.create(user=both, role="instructor")
    theirs = ModuleFactory(course=other_course, title="Elsewhere")
    door(both, feedback, theirs, superuser)
    feedback.refresh_from_db()
    assert feedback.module.course_id == course.pk and feedback.module.title == "Week 1"


def test_feedback_form_offers_only_modules_of_the_feedback_course(client, course, other_course, feedback):
    both = UserFactory(username="bo")
    for c in (course, other_course):
        c.memberships.create(user=both, role="instructor")
    ModuleFactory(course=other_course, title="Elsewhere")
    client.force_login(both)
    form = client.get(reverse("admin:courses_feedback_change", args=[feedback.pk])).context["adminform"].form
    assert {m.title for m in form.fields["module"].queryset} == {"Week 1"}


# --- Course privacy settings ----------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [("min_group_size", 8), ("lti_context_id", "lms-ctx-9")])
@pytest.mark.parametrize("role", ROLES)
def test_course_privacy_settings_only_by_administrators(personas, course, role, field, value):
    post_change(personas[role], personas["superuser"], reverse("admin:courses_course_change", args=[course.pk]),
                **{field: value})
    course.refresh_from_db()
    assert (getattr(course, field) == value) is (role in ADMINISTRATORS)


def test_instructor_still_edits_the_course_title_but_not_its_group_size(instructor, superuser, course):
    post_change(instructor, superuser, reverse("admin:courses_course_change", args=[course.pk]),
                title="Programming One", min_group_size=1)
    course.refresh_from_db()
    assert course.title == "Programming One" and course.min_group_size == 5


@pytest.mark.parametrize("role", ["administrator", "superuser"])
def test_min_group_size_below_the_floor_is_refused_even_for_administrators(personas, course, role, settings):
    settings.MIN_GROUP_SIZE_FLOOR = 5
    post_change(personas[role], personas["superuser"], reverse("admin:courses_course_change", args=[course.pk]),
                min_group_size=1)
    assert Course.objects.get(pk=course.pk).min_group_size == 5


# --- Survey anonymity after responses, invitations ------------------------------------------------


@pytest.fixture
def answered_survey(course):
    survey = SurveyFactory(course=course, is_anonymous=True)
    SurveyResponse.objects.create(survey=survey, respondent_key="k1")
    return survey


@pytest.mark.parametrize("role", ROLES)
def test_survey_anonymity_after_responses_only_by_administrators(personas, answered_survey, role):
    post_change(personas[role], personas["superuser"],
                reverse("admin:courses_survey_change", args=[answered_survey.pk]), is_anonymous=False)
    answered_survey.refresh_from_db()
    assert answered_survey.is_anonymous is (role not in ADMINISTRATORS)


@pytest.mark.parametrize("role", ROLES)
def test_issue_invitations_same_answer_at_every_door(personas, course, role, caplog):
    survey = SurveyFactory(course=course)
    response = login(personas[role]).post(reverse("admin:courses_survey_invitations", args=[survey.pk]),
                                          {"count": "2"})
    issued = response.status_code == 200 and b"invite=" in response.content
    assert issued is (role in MANAGERS)
    logged = [r.getMessage() for r in caplog.records if "invitation links" in r.getMessage()]
    assert logged == ([f"{personas[role].username} issued 2 invitation links for survey {survey.pk} of CS101"]
                      if issued else [])


def test_survey_module_must_be_of_the_survey_course(client, course, other_course, superuser):
    survey = SurveyFactory(course=course)
    theirs = Module.objects.create(course=other_course, title="Elsewhere")
    post_change(superuser, superuser, reverse("admin:courses_survey_change", args=[survey.pk]), module=theirs.pk)
    survey.refresh_from_db()
    assert survey.module_id is None


# --- Lookups on what redaction hid ----------------------------------------------------------------


@pytest.fixture
def sentiment(course):
    from classifiers.models import LabelSchema

    return LabelSchema.objects.get_or_create(course=course, name="sentiment")[0]


def list_url(changelist: str, schema) -> str:
    """The items-to-label list needs its schema (a filter of its own); the feedback list takes none."""
    return reverse(changelist) + (f"?schema={schema.pk}&" if "labelitem" in changelist else "?")


@pytest.mark.parametrize("lookup", ["original_text__icontains=jane.doe@", "original_text__regex=jane",
                                    "module__feedback__original_text__icontains=jane",
                                    "course__memberships__user__password__startswith=pbkdf2"])
@pytest.mark.parametrize("role", ["instructor", "superuser"])
@pytest.mark.parametrize("changelist", ["admin:courses_feedback_changelist", "admin:classifiers_labelitem_changelist"])
def test_lookups_beyond_the_list_filters_are_refused(personas, feedback, sentiment, role, lookup, changelist):
    FeedbackFactory(course=feedback.course, original_text="nothing to see", redacted_text="nothing to see")
    url = f"{list_url(changelist, sentiment)}{lookup}"
    response = login(personas[role]).get(url)
    assert response.status_code == 400
    assert b"nothing to see" not in response.content and b"[EMAIL]" not in response.content


@pytest.mark.parametrize("changelist", ["admin:courses_feedback_changelist", "admin:classifiers_labelitem_changelist"])
def test_the_list_filters_still_filter(instructor, feedback, sentiment, changelist):
    other = FeedbackFactory(course=feedback.course, source="api")
    response = login(instructor).get(
        f"{list_url(changelist, sentiment)}module__id__exact={feedback.module_id}&source__exact=import")
    assert response.status_code == 200
    assert [fb.pk for fb in response.context["cl"].queryset] == [feedback.pk] != [other.pk]


def test_service_refuses_min_group_size_below_floor_for_an_administrator(course, administrator, settings):
    from courses.services import CourseSettingsRejected, update_course_settings

    settings.MIN_GROUP_SIZE_FLOOR = 6
    with pytest.raises(CourseSettingsRejected, match="below the institution's floor of 6"):
        update_course_settings(course, actor=administrator, min_group_size=3)
    assert Course.objects.get(pk=course.pk).min_group_size == 5
    update_course_settings(course, actor=administrator, min_group_size=6)
    assert Course.objects.get(pk=course.pk).min_group_size == 6
