"""Feedback ingestion and listing through the API: redaction, all-or-nothing bulk, errors by index."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from courses.models import Feedback, FeedbackSource, Role
from courses.signals import feedback_created
from tests.factories import FeedbackFactory, MembershipFactory, ModuleFactory, UserFactory
from tests.support import token_client

URL = "/api/courses/CS101/feedback/"


@pytest.fixture
def client(instructor) -> APIClient:
    return token_client(instructor)


def test_single_create_redacts_and_stores_the_item(client, course):
    module = ModuleFactory(course=course)
    response = client.post(URL, {"text": "  Mail me at jo@uni.edu please ", "module": module.pk, "external_id": "a1"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["text"] == "Mail me at [EMAIL] please"
    stored = Feedback.objects.get(pk=body["id"])
    assert (stored.course, stored.module, stored.source) == (course, module, FeedbackSource.API)
    assert stored.original_text == "Mail me at jo@uni.edu please"


def test_bulk_create_stores_every_item_and_announces_them_on_commit(client, course, django_capture_on_commit_callbacks):
    received = []

    def listener(sender, course_id, feedback_ids, **kwargs):
        received.append((course_id, feedback_ids))

    feedback_created.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(URL + "bulk/", {"items": [{"text": f"item {i}"} for i in range(300)]})
    finally:
        feedback_created.disconnect(listener)
    assert response.status_code == 201, response.content
    assert response.json()["accepted"] == 300
    assert Feedback.objects.filter(course=course).count() == 300
    assert received == [(course.pk, response.json()["ids"])]


def test_bulk_create_rejects_all_and_reports_each_bad_item_by_index(client, course, other_course):
    foreign_module = ModuleFactory(course=other_course)
    items = [{"text": "fine"}, {"text": "   "}, {"text": "ok", "module": foreign_module.pk},
             {"text": "x", "submitted_at": "yesterday"}, {"text": "fine too"}]
    response = client.post(URL + "bulk/", {"items": items})
    assert response.status_code == 400
    errors = response.json()["items"]
    assert set(errors) == {"1", "2", "3"}
    assert "blank" in errors["1"]["text"][0]
    assert errors["2"]["module"] == [f"module {foreign_module.pk} is not a module of this course"]
    assert "submitted_at" in errors["3"]
    assert Feedback.objects.count() == 0


def test_bulk_create_reports_an_existing_external_id_by_index_and_writes_nothing(client, course):
    FeedbackFactory(course=course, external_id="dup")
    items = [{"text": "a", "external_id": "new"}, {"text": "b", "external_id": "dup"}]
    response = client.post(URL + "bulk/", {"items": items})
    assert response.status_code == 400
    assert response.json() == {"items": {"1": {"external_id": ["external_id 'dup' already exists in course CS101"]}}}
    assert Feedback.objects.filter(course=course).count() == 1


def test_bulk_create_reports_an_id_repeated_inside_the_request(client, course):
    items = [{"text": "a", "external_id": "x"}, {"text": "b"}, {"text": "c", "external_id": "x"}]
    response = client.post(URL + "bulk/", {"items": items})
    assert response.json() == {"items": {"2": {"external_id": ["external_id 'x' repeats item 0"]}}}


def test_bulk_create_refuses_more_than_1000_items(client, course):
    response = client.post(URL + "bulk/", {"items": [{"text": "a"}] * 1001})
    assert response.status_code == 400
    assert response.json() == {"items": ["1001 items sent; at most 1000 per request"]}
    assert not Feedback.objects.exists()


def test_single_create_errors_are_json_per_field(client, course):
    response = client.post(URL, {"text": "fine", "module": "abc"})
    assert response.status_code == 400
    assert set(response.json()) == {"module"}
    response = client.post(URL, {"text": "x" * 10_001})
    assert response.status_code == 400
    assert response.json() == {"text": [
        "the text has 10,001 characters; the limit is 10,000 (FEEDBACK_MAX_CHARS). Nothing was stored. Send it to "
        'feedback/bulk/ with "long_texts": "cut" to cut such texts at the limit, or raise FEEDBACK_MAX_CHARS.'
    ]}
    assert not Feedback.objects.exists()


def test_an_annotator_may_read_but_not_ingest(annotator, course):
    client = token_client(annotator)
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"text": "hello"})
    assert response.status_code == 403
    assert not Feedback.objects.exists()


def test_a_viewer_is_told_their_role_does_not_reach_feedback(course):
    viewer = MembershipFactory(course=course, role=Role.VIEWER, user=UserFactory(username="vic")).user
    response = token_client(viewer).get(URL)
    assert response.status_code == 403
    assert "role" in response.json()["detail"]


def test_list_filters_searches_and_paginates(client, course):
    week1, week2 = ModuleFactory(course=course), ModuleFactory(course=course)
    FeedbackFactory.create_batch(3, course=course, module=week1, redacted_text="the labs were rushed")
    FeedbackFactory.create_batch(2, course=course, module=week2, redacted_text="great slides")
    assert client.get(URL, {"module": week1.pk}).json()["count"] == 3
    assert client.get(URL, {"search": "slides"}).json()["count"] == 2
    page = client.get(URL, {"page_size": 2, "ordering": "id"}).json()
    assert (page["count"], len(page["results"]), page["next"] is not None) == (5, 2, True)
    bad = client.get(URL, {"submitted_after": "not a date"})
    assert bad.status_code == 400
    assert "submitted_after" in bad.json()


def test_list_runs_a_fixed_number_of_queries(client, course, django_assert_max_num_queries):
    FeedbackFactory.create_batch(30, course=course, module=ModuleFactory(course=course))
    with django_assert_max_num_queries(8):
        assert len(client.get(URL).json()["results"]) == 30


def test_ingestion_is_throttled_per_user(client, course, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"feedback": "2/min"})
    assert client.post(URL, {"text": "one"}).status_code == 201
    assert client.post(URL, {"text": "two"}).status_code == 201
    response = client.post(URL, {"text": "three"})
    assert response.status_code == 429
    assert "throttled" in response.json()["detail"].lower()
    assert Feedback.objects.count() == 2


def test_session_auth_works_for_the_browser_and_needs_csrf(instructor, course):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(instructor)
    assert browser.get(URL).status_code == 200
    response = browser.post(URL, {"text": "no csrf token"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_module_create_refuses_a_position_past_the_database_limit(client, course):
    url = "/api/courses/CS101/modules/"
    assert client.post(url, {"title": "Last", "position": 2**31 - 1}).status_code == 201
    response = client.post(url, {"title": "After last"})
    assert response.status_code == 400
    assert response.json() == {"position": ["position must be between 0 and 2147483647"]}
    assert client.post(url, {"title": "Last"}).json() == {"title": ['course CS101 already has a module "Last"']}


def test_date_filters_accept_any_iso_offset_and_refuse_overflow(client, course):
    """Found by schemathesis: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows."""
    FeedbackFactory(course=course)
    assert client.get(URL, {"submitted_after": "2000-10-26T15:09:37-16:18"}).json()["count"] == 1
    bad = client.get(URL, {"submitted_before": "0001-01-01T00:00:00+10:00"})
    assert bad.status_code == 400
    assert bad.json() == {"submitted_before": ["the date is out of range"]}
    stored = client.post(URL, {"text": "late", "submitted_at": "2026-03-01T23:30:00-16:18"})
    assert stored.status_code == 201
    assert stored.json()["submitted_at"] == "2026-03-02T15:48:00Z"


# --- Texts over FEEDBACK_MAX_CHARS in a bulk request: "long_texts" refuse (default) or cut ---

LONG = "word " * 2000 + "tail"  # 10,004 characters


def test_bulk_refuses_a_long_text_by_default_by_index_with_the_way_forward(client, course):
    response = client.post(URL + "bulk/", {"items": [{"text": "fine"}, {"text": LONG}]})
    assert response.status_code == 400
    assert response.json() == {"items": {"1": {"text": [
        "the text has 10,004 characters; the limit is 10,000 (FEEDBACK_MAX_CHARS). Nothing was stored. "
        'Send "long_texts": "cut" with the items to cut such texts at the limit, or raise FEEDBACK_MAX_CHARS.'
    ]}}}
    assert not Feedback.objects.exists()


def test_bulk_with_cut_stores_everything_cuts_and_marks_the_long_text_and_counts_it(client, course):
    items = [{"text": "fine"}, {"text": "Mail a.b@uni.edu " + LONG}, {"text": "also fine"}]
    response = client.post(URL + "bulk/", {"items": items, "long_texts": "cut"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["accepted"], body["long_texts"], body["texts_cut"], body["cut_items"]) == (3, "cut", 1, [1])
    cut = Feedback.objects.get(pk=body["ids"][1])
    assert cut.text_was_cut and len(cut.original_text) <= 10_000 and cut.original_text.endswith("word")
    assert cut.redacted_text.startswith("Mail [EMAIL] word")  # redaction ran on the text that was kept
    assert Feedback.objects.filter(text_was_cut=False).count() == 2


def test_bulk_limit_follows_the_setting(client, course, settings):
    settings.FEEDBACK_MAX_CHARS = 5
    refused = client.post(URL + "bulk/", {"items": [{"text": "too long"}]}, format="json")
    assert "the limit is 5 (FEEDBACK_MAX_CHARS)" in refused.json()["items"]["0"]["text"][0]
    response = client.post(URL + "bulk/", {"items": [{"text": "too long"}], "long_texts": "cut"}, format="json")
    assert response.status_code == 201 and Feedback.objects.get().original_text == "too"


def test_bulk_refuses_an_unknown_choice_with_a_clear_400(client, course):
    response = client.post(URL + "bulk/", {"items": [{"text": LONG}], "long_texts": "chop"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"long_texts": ['"chop" is not a choice: send "refuse" or "cut".']}
    assert not Feedback.objects.exists()


def test_an_annotator_cannot_bulk_ingest_even_choosing_cut(annotator, course):
    response = token_client(annotator).post(URL + "bulk/", {"items": [{"text": LONG}], "long_texts": "cut"},
                                            format="json")
    assert response.status_code == 403
    assert not Feedback.objects.exists()
