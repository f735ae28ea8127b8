"""Issue 18 item 7, unbounded work: each test is one attack that used to succeed and now must not."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from classifiers.imports.services import upload_feedback
from classifiers.imports.uploads import UploadTooLarge
from classifiers.ml import training
from classifiers.models import TrainingRun
from courses.models import Feedback, ImportJob
from courses.surveys.identity import make_invitation
from tests.classifiers.helpers import label_feedback
from tests.factories import FeedbackFactory, LabelFactory, LabelSchemaFactory, ModuleFactory, UserFactory
from tests.support import token_client
from tests.surveys.conftest import build_survey, form_data, survey_url

TRAIN_URL = "/api/courses/CS101/training-runs/"


@pytest.fixture
def trainable(course, sentiment):
    """CS101's `sentiment` schema with enough labelled feedback to queue a run."""
    label_feedback(course, sentiment, {"positive": 8, "negative": 8})
    return sentiment


# --- Training options have upper bounds: one run cannot hold the shared queue for the task's 6 hours ---

@pytest.mark.parametrize(("option", "value", "limit"), [
    ("epochs", 10_000, training.MAX_EPOCHS),
    ("patience", 1_000, training.MAX_PATIENCE),
    ("max_steps", 10_000_000, training.MAX_STEPS),
    ("batch_size", 100_000, training.MAX_BATCH_SIZE),
    ("max_length", 100_000, training.MAX_LENGTH),
    ("min_per_label", 10**9, training.MAX_MIN_PER_LABEL),
    ("refit_below", 10**9, training.MAX_ROWS_THRESHOLD),
    ("unfreeze_below", 10**9, training.MAX_ROWS_THRESHOLD),
])
def test_an_oversized_training_option_is_refused_naming_the_option_and_its_limit(
        instructor, trainable, option, value, limit):
    response = token_client(instructor).post(TRAIN_URL, {"schema": trainable.pk, "config": {option: value}},
                                             format="json")
    assert response.status_code == 400, response.content
    message = response.json()["config"][0]
    assert option in message and str(limit) in message
    assert not TrainingRun.objects.exists()


def test_training_options_at_their_limits_are_accepted(instructor, trainable):
    limits = {"epochs": training.MAX_EPOCHS, "patience": training.MAX_PATIENCE, "max_steps": training.MAX_STEPS,
              "batch_size": training.MAX_BATCH_SIZE, "max_length": training.MAX_LENGTH}
    response = token_client(instructor).post(TRAIN_URL, {"schema": trainable.pk, "config": limits}, format="json")
    assert response.status_code == 201, response.content
    assert {k: TrainingRun.objects.get().config[k] for k in limits} == limits


# --- A course cannot fill the training queue with runs of many schemas ---

def test_a_course_may_not_queue_more_runs_than_the_limit(instructor, course, trainable, settings):
    settings.TRAINING_MAX_QUEUED_PER_COURSE = 2
    for name in ("topic", "tone"):
        other = LabelSchemaFactory(course=course, name=name)
        LabelFactory(schema=other)
        TrainingRun.objects.create(schema=other, course=course)
    response = token_client(instructor).post(TRAIN_URL, {"schema": trainable.pk}, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "course CS101 already has 2 training run(s) queued (the limit is 2); "
                                         "wait for one to start or cancel one"}
    assert not TrainingRun.objects.filter(schema=trainable).exists()


def test_queued_runs_of_another_course_do_not_count(instructor, course, other_course, trainable, settings):
    settings.TRAINING_MAX_QUEUED_PER_COURSE = 1
    TrainingRun.objects.create(schema=other_course.schemas.get(name="sentiment"), course=other_course)
    response = token_client(instructor).post(TRAIN_URL, {"schema": trainable.pk}, format="json")
    assert response.status_code == 201, response.content


# --- The admin import upload is capped and streamed, never read whole ---

def _upload(client, data: bytes, name: str = "big.csv"):
    form = {"course_code": "CS101", "file": SimpleUploadedFile(name, data), "text_col": "text",
            "schema": "sentiment", "schema_kind": "single"}
    return client.post(reverse("admin:classifiers_import_upload"), form, follow=True)


def test_an_upload_over_the_cap_is_refused_and_nothing_is_kept(client, superuser, course, settings, tmp_path):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "imports"
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    settings.IMPORT_INLINE_MAX_BYTES = 10  # would otherwise become a queued import job
    client.force_login(superuser)
    response = _upload(client, b"text\n" + b"Too much text\n" * 200)
    assert response.status_code == 200
    assert "Big.csv is larger than the upload limit of 1000 bytes" in response.content.decode()  # capfirst
    assert not ImportJob.objects.exists() and not Feedback.objects.exists()
    assert not any(settings.IMPORT_UPLOAD_DIR.glob("*"))


def test_an_upload_under_the_cap_still_imports_inline_and_leaves_no_file(client, superuser, course, settings,
                                                                         tmp_path):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "imports"
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    client.force_login(superuser)
    response = _upload(client, b"text\nGreat labs\nToo fast\n")
    assert "Imported 2 feedback items" in response.content.decode()
    assert Feedback.objects.filter(course=course).count() == 2
    assert not any(settings.IMPORT_UPLOAD_DIR.glob("*"))


def test_the_import_service_streams_and_stops_at_the_cap(superuser, course, settings, tmp_path):
    """An endless upload: a service that read it whole would never return."""
    settings.IMPORT_UPLOAD_DIR = tmp_path / "imports"
    settings.IMPORT_MAX_UPLOAD_BYTES = 5 * 1024 * 1024
    pulled = []

    def endless():
        yield b"text\n"
        while True:
            pulled.append(1)
            yield b"x" * 1024 * 1024

    with pytest.raises(UploadTooLarge, match="larger than the upload limit of 5 MB"):
        upload_feedback("CS101", endless(), filename="endless.csv", columns={"text_col": "text"},
                        schema_name="sentiment", create_labels=False, schema_kind="single", actor=superuser)
    assert len(pulled) == 5  # the sixth megabyte is over the cap: nothing after it was read
    assert not any(settings.IMPORT_UPLOAD_DIR.glob("*")) and not ImportJob.objects.exists()


# --- The thank-you page shows a survey's title only to the browser that answered it ---

def test_the_thank_you_page_is_a_404_without_an_answer_from_this_browser(course):
    survey = build_survey(course, title="Secret pilot survey on staff conduct")
    stranger = Client()
    refused = stranger.get(f"/surveys/{survey.pk}/thanks/")
    assert refused.status_code == 404 and "Secret pilot" not in refused.content.decode()
    respondent = Client()
    respondent.post(survey_url(survey), form_data(survey, invite=make_invitation(survey)))
    answered = respondent.get(f"/surveys/{survey.pk}/thanks/")
    assert answered.status_code == 200 and "Secret pilot" in answered.content.decode()
    other = build_survey(course, title="Another survey")  # the mark opens this survey's page only
    respondent.cookies[f"survey_thanks_{other.pk}"] = respondent.cookies[f"survey_thanks_{survey.pk}"].value
    assert respondent.get(f"/surveys/{other.pk}/thanks/").status_code == 404
    stranger.cookies[f"survey_thanks_{survey.pk}"] = "forged"
    assert stranger.get(f"/surveys/{survey.pk}/thanks/").status_code == 404


# --- An id of another course is a 404 in every filter, exactly like an id that exists nowhere ---

@pytest.mark.parametrize(("url", "param", "foreign"), [
    ("/api/courses/CS101/feedback/", "module", lambda other: ModuleFactory(course=other).pk),
    ("/api/courses/CS101/surveys/", "module", lambda other: ModuleFactory(course=other).pk),
    ("/api/courses/CS101/predictions/", "schema", lambda other: other.schemas.get(name="sentiment").pk),
    ("/api/courses/CS101/predictions/", "feedback", lambda other: FeedbackFactory(course=other).pk),
    ("/api/courses/CS101/annotations/", "schema", lambda other: other.schemas.get(name="sentiment").pk),
    ("/api/courses/CS101/labels/", "schema", lambda other: other.schemas.get(name="sentiment").pk),
    ("/api/courses/CS101/training-runs/", "schema", lambda other: other.schemas.get(name="sentiment").pk),
])
def test_filtering_by_another_courses_id_is_the_same_404_as_a_missing_id(instructor, course, other_course, url,
                                                                         param, foreign):
    client = token_client(instructor)
    other_id = foreign(other_course)
    elsewhere = client.get(url, {param: other_id})
    nowhere = client.get(url, {param: 10**9})
    assert (elsewhere.status_code, nowhere.status_code) == (404, 404), (elsewhere.content, nowhere.content)
    assert elsewhere.json()["detail"].replace(f"'{other_id}'", "ID") == nowhere.json()["detail"].replace(
        f"'{10**9}'", "ID")


def test_filtering_by_the_courses_own_module_still_works(instructor, course):
    mine = ModuleFactory(course=course)
    FeedbackFactory(course=course, module=mine)
    FeedbackFactory(course=course)
    response = token_client(instructor).get("/api/courses/CS101/feedback/", {"module": mine.pk})
    assert response.status_code == 200 and response.json()["count"] == 1


# --- The admin login is throttled: guessing stops after a few tries, even at the right password ---

@pytest.fixture
def login_counters(db):
    cache.clear()  # axes keeps its counters in the shared cache
    yield
    cache.clear()


def test_ten_wrong_passwords_lock_the_admin_login_even_for_the_right_one(login_counters, settings):
    UserFactory(username="dean", is_staff=True, is_superuser=True, password="right horse")
    client = Client()
    url = reverse("admin:login")
    statuses = [client.post(url, {"username": "dean", "password": "battery staple"}).status_code
                for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the last failure locks
    refused = client.post(url, {"username": "dean", "password": "right horse"})
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    other_address = Client(REMOTE_ADDR="10.9.8.7")  # the lockout is per address, not the account for everyone
    assert other_address.post(url, {"username": "dean", "password": "right horse"}).status_code == 302
    assert "_auth_user_id" in other_address.session


def test_a_correct_login_still_works_and_force_login_is_unaffected(login_counters, client, superuser):
    UserFactory(username="dean", is_staff=True, is_superuser=True, password="right horse")
    response = Client().post(reverse("admin:login"), {"username": "dean", "password": "right horse"})
    assert response.status_code == 302
    client.force_login(superuser)
    assert client.get(reverse("admin:index")).status_code == 200
    assert Client().login(username="dean", password="right horse")  # in-process login (no request) too
