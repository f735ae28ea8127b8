"""Who reaches screening's doors: the queue (screeners), the report (administrators), the screener role and
the policy (administrators). Every other persona is refused with the reason, at every door, and nothing
changes; a student (no staff status, no role) never gets in."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from classifiers.screening.models import ScreeningDecision, ScreeningPolicy
from classifiers.screening.services import screening_policy
from courses.models import Screener, ScreeningStatus
from tests.classifiers.screening.held_data import build_held_course
from tests.factories import UserFactory
from tests.support import ROLES, token_client

pytestmark = pytest.mark.django_db

PERSONAS = (*ROLES, "screener", "student")


@pytest.fixture
def held_course(course):
    return build_held_course(course)


@pytest.fixture
def student(db):
    return UserFactory(username="stu", is_staff=False)


@pytest.fixture
def everyone(request, personas, screener, student) -> dict:
    return {**personas, "screener": screener, "student": student}


def _get(user, url: str) -> int:
    client = Client()
    client.force_login(user)
    return client.get(url).status_code


@pytest.mark.parametrize("role", PERSONAS)
def test_the_queue_is_for_screeners(everyone, held_course, role):
    user = everyone[role]
    allowed = role in ("screener", "superuser")
    page = _get(user, reverse("admin:screening_queue"))
    items = _get(user, reverse("admin:screening_queue_items"))
    api = token_client(user).get("/api/screening/queue/").status_code
    if role == "student":  # no staff status: admin sends them to its login page
        assert (page, items, api) == (302, 302, 403)
    else:
        assert (page, items, api) == ((200, 200, 200) if allowed else (403, 403, 403))


@pytest.mark.parametrize("role", PERSONAS)
def test_only_screeners_decide_at_every_door(everyone, held_course, role):
    user = everyone[role]
    item = held_course[ScreeningStatus.HELD]
    client = Client()
    client.force_login(user)
    client.post(reverse("admin:screening_queue_decide"), {"feedback": item.pk, "action": "release"},
                content_type="application/json")
    token_client(user).post(f"/api/screening/queue/{item.pk}/decision/", {"action": "release"}, format="json")
    item.refresh_from_db()
    decided = ScreeningDecision.objects.filter(feedback=item).count()
    assert (item.screening, decided) == (("released", 1) if role in ("screener", "superuser") else ("held", 0))


def test_anonymous_clients_get_401_from_the_screening_api(held_course):
    item = held_course[ScreeningStatus.HELD]
    for method, path in (("get", "/api/screening/queue/"), ("get", "/api/screening/report/"),
                         ("post", f"/api/screening/queue/{item.pk}/decision/")):
        assert getattr(APIClient(), method)(path).status_code == 401


@pytest.mark.parametrize("role", PERSONAS)
def test_the_screening_report_is_for_administrators(everyone, held_course, role):
    user = everyone[role]
    allowed = role in ("administrator", "superuser")
    page = _get(user, reverse("admin:screening_report"))
    resp = token_client(user).get("/api/screening/report/")
    if role == "student":
        assert (page, resp.status_code) == (302, 403)
    else:
        assert (page, resp.status_code) == ((200, 200) if allowed else (403, 403))
    if not allowed:
        assert "only administrators may" in resp.json()["detail"]


def test_a_refusal_says_who_may(client, instructor, held_course):
    client.force_login(instructor)
    resp = client.get(reverse("admin:screening_queue"))
    assert resp.status_code == 403
    assert resp.content.decode() == "ines may not screen held comments institution-wide: only screeners may"


@pytest.mark.parametrize("role", PERSONAS)
def test_only_administrators_grant_the_screener_role(everyone, role):
    user, candidate = everyone[role], UserFactory(username="cand", is_staff=False)
    client = Client()
    client.force_login(user)
    client.post(reverse("admin:courses_screener_add"), {"user": candidate.pk, "note": "faculty request"})
    granted = Screener.objects.filter(user=candidate).exists()
    assert granted is (role in ("administrator", "superuser"))
    if granted:
        candidate.refresh_from_db()
        assert candidate.is_staff  # the queue is in admin


@pytest.mark.parametrize("role", PERSONAS)
def test_only_administrators_change_the_thresholds(everyone, role):
    user = everyone[role]
    policy = screening_policy()
    client = Client()
    client.force_login(user)
    client.post(reverse("admin:screening_screeningpolicy_change", args=[policy.pk]),
                {"hold_threshold": "0.7", "trained_threshold": "0.5", "use_trained_screen": "on",
                 "support_email": "care@uni.example"})
    policy = ScreeningPolicy.objects.get()
    assert (policy.hold_threshold == 0.7) is (role in ("administrator", "superuser"))


def test_a_threshold_outside_0_to_1_is_refused_in_admin(administrator):
    client = Client()
    client.force_login(administrator)
    policy = screening_policy()
    resp = client.post(reverse("admin:screening_screeningpolicy_change", args=[policy.pk]),
                       {"hold_threshold": "1.5", "trained_threshold": "0.5", "support_email": ""})
    assert resp.status_code == 200 and "less than or equal to 1.0" in resp.content.decode()
    assert ScreeningPolicy.objects.get().hold_threshold == 0.9


def test_a_changed_threshold_applies_to_the_next_comment_in_this_process(administrator, course, instructor):
    from classifiers.screening.services import update_screening_policy
    from courses.models import Feedback

    text = "Boring like hell, the class was a waste of time too"  # the model's probability ~0.93
    api = token_client(instructor)
    api.post(f"/api/courses/{course.code}/feedback/", {"text": text}, format="json")
    update_screening_policy(actor=administrator, hold_threshold=0.99)
    api.post(f"/api/courses/{course.code}/feedback/", {"text": text + "!"}, format="json")
    assert list(Feedback.objects.order_by("pk").values_list("screening", flat=True)) == ["held", "clear"]
