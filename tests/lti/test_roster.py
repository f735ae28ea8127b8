"""Roster sync (NRPS 2.0) against the test platform's Names and Role service (lti1p3platform, real HTTP):
counts, staff roles created/changed/removed, manual roles untouched, paging, differences, platform errors,
and nothing of a learner stored but a keyed hash."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from lti_tool.models import Key

from classifiers.reports.models import ReportSettings
from classifiers.reports.selectors import report_inputs
from courses.lti import roster
from courses.lti.models import LtiIdentity, RosterMember, RosterSync, RosterSyncStatus
from courses.lti.selectors import context_key
from courses.lti.services import ensure_tool_key
from courses.models import CourseMembership, MembershipSource, Role
from tests.factories import CourseFactory, MembershipFactory, UserFactory
from tests.lti.advantage import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, Advantage, member
from tests.lti.platform import TestPlatform
from tests.support import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.LTI_ALLOW_HTTP_LOOPBACK = True


@pytest.fixture
def lms():
    platform = TestPlatform().start("http://tool.invalid")
    registration = platform.register_with_tool()
    ensure_tool_key()
    advantage = Advantage(platform, page_size=100)
    advantage.tool_jwks = Key.objects.as_jwks()  # no live tool here: the platform gets our keys directly
    advantage.registration = registration
    yield advantage
    platform.stop()


@pytest.fixture
def lms_course(lms):
    return CourseFactory(code="CS101", title="Programming 1", lti_context_id=context_key(lms.platform.issuer, "ctx-1"))


def launched_staff(lms, course, sub: str, role: str = Role.INSTRUCTOR):
    """Someone a staff launch signed in (identity + LTI membership), as courses.lti.services does."""
    user = UserFactory(username=f"lti-{sub}", is_staff=True)
    LtiIdentity.objects.create(issuer=lms.platform.issuer, sub=sub, user=user)
    MembershipFactory(user=user, course=course, role=role, source=MembershipSource.LTI)
    return user


def learners(n: int, start: int = 0) -> list[dict]:
    return [member(f"s{i:05d}") for i in range(start, start + n)]


def sync(lms, course) -> roster.SyncOutcome | None:
    state = RosterSync.objects.filter(course=course).first() or roster.note_launch(
        course, lms.registration, lms.nrps_claim())
    return roster.sync_roster(state.pk)


def test_sync_counts_learners_and_staff_over_several_pages(lms, lms_course):
    lms.set_roster("ctx-1", [*learners(250), member("t-1", INSTRUCTOR), member("t-2", TEACHING_ASSISTANT)])
    outcome = sync(lms, lms_course)
    assert (outcome.learners, outcome.staff, outcome.pages, outcome.full) == (250, 2, 3, True)
    state = RosterSync.objects.get(course=lms_course)
    assert (state.learner_count, state.staff_count, state.status) == (250, 2, RosterSyncStatus.OK)
    roles = {i.sub: CourseMembership.objects.get(user=i.user, course=lms_course).role
             for i in LtiIdentity.objects.all()}
    assert roles == {"t-1": Role.INSTRUCTOR, "t-2": Role.TEACHING_ASSISTANT}
    assert lms.token_requests == 1  # one access token for the whole sync


def test_nothing_of_a_learner_is_stored_but_a_keyed_hash(lms, lms_course):
    lms.set_roster("ctx-1", [*learners(30), member("t-1", INSTRUCTOR)])
    sync(lms, lms_course)
    secrets_ = [value for m in learners(30) for value in (m["user_id"], m["name"], m["email"], m["family_name"])]
    dump = database_text()
    assert not [s for s in secrets_ if s in dump]
    assert RosterMember.objects.filter(is_learner=True).count() == 30
    assert all(len(k) == 64 for k in RosterMember.objects.values_list("member_key", flat=True))
    assert "t-1@students.uni.example" in dump  # staff do get a user (alerts are e-mailed to them)


def database_text() -> str:
    """Every row of every table of the test database, as text."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the catalogue
            parts.extend(str(row) for row in cursor.fetchall())
    return "\n".join(parts)


def test_a_removed_instructor_loses_access_at_the_next_sync_at_every_door(lms, lms_course):
    teacher = launched_staff(lms, lms_course, "t-1")
    colleague = launched_staff(lms, lms_course, "t-2")
    lms.set_roster("ctx-1", [*learners(5), member("t-1", INSTRUCTOR), member("t-2", INSTRUCTOR)])
    sync(lms, lms_course)
    doors = {
        "report": reverse("reports:course_report", kwargs={"course_code": lms_course.code}),
        "admin": reverse("admin:courses_course_change", args=[lms_course.pk]),
    }
    web = Client()
    web.force_login(teacher)
    api = token_client(teacher)
    api_url = f"/api/courses/{lms_course.code}/feedback/"
    assert [web.get(u).status_code for u in doors.values()] == [200, 200]
    assert api.get(api_url).status_code == 200

    lms.set_roster("ctx-1", [*learners(5), member("t-2", INSTRUCTOR)])  # t-1 removed on the platform
    outcome = sync(lms, lms_course)

    assert outcome.removed == 1
    assert not CourseMembership.objects.filter(user=teacher, course=lms_course).exists()
    assert CourseMembership.objects.filter(user=colleague, course=lms_course).exists()
    assert web.get(doors["report"]).status_code == 404
    assert web.get(doors["admin"]).status_code in (302, 403, 404)
    assert api.get(api_url).status_code == 404


def test_roles_follow_the_roster_and_hand_made_roles_are_never_touched(lms, lms_course):
    assistant = launched_staff(lms, lms_course, "t-1", Role.INSTRUCTOR)
    by_hand = MembershipFactory(course=lms_course, role=Role.INSTRUCTOR, user=UserFactory(username="hand")).user
    LtiIdentity.objects.create(issuer=lms.platform.issuer, sub="s00001", user=by_hand)  # a learner on the roster
    annotator = MembershipFactory(course=lms_course, role=Role.ANNOTATOR, user=UserFactory(username="ann")).user
    lms.set_roster("ctx-1", [*learners(3), member("t-1", TEACHING_ASSISTANT)])
    outcome = sync(lms, lms_course)
    assert outcome.changed == 1 and outcome.removed == 0
    assert CourseMembership.objects.get(user=assistant, course=lms_course).role == Role.TEACHING_ASSISTANT
    assert CourseMembership.objects.get(user=by_hand, course=lms_course).role == Role.INSTRUCTOR
    assert CourseMembership.objects.get(user=annotator, course=lms_course).role == Role.ANNOTATOR


def test_membership_differences_are_applied_without_a_full_read(lms, lms_course):
    launched_staff(lms, lms_course, "t-1")
    lms.set_roster("ctx-1", [*learners(120), member("t-1", INSTRUCTOR)])
    assert sync(lms, lms_course).full
    lms.nrps_requests.clear()
    lms.set_roster("ctx-1", [*learners(119, start=1), member("s99999"), member("s99998")])  # t-1 and s00000 left

    outcome = sync(lms, lms_course)

    assert not outcome.full and outcome.pages == 1 and len(lms.nrps_requests) == 1
    state = RosterSync.objects.get(course=lms_course)
    assert (state.learner_count, state.staff_count) == (121, 0)
    assert not CourseMembership.objects.filter(course=lms_course, source=MembershipSource.LTI).exists()
    assert "since=" in state.differences_url


def test_a_platform_error_is_recorded_and_changes_nothing(lms, lms_course):
    teacher = launched_staff(lms, lms_course, "t-1")
    lms.set_roster("ctx-1", [*learners(10), member("t-1", INSTRUCTOR)])
    sync(lms, lms_course)
    lms.set_roster("ctx-1", learners(3))
    lms.fail_with = 500
    RosterSync.objects.update(differences_url="")  # force a full read
    assert sync(lms, lms_course) is None
    state = RosterSync.objects.get(course=lms_course)
    assert state.status == RosterSyncStatus.FAILED and "HTTP 500" in state.error and state.error_at
    assert state.learner_count == 10
    assert CourseMembership.objects.filter(user=teacher, course=lms_course).exists()


def test_a_next_link_to_another_site_is_not_followed(lms, lms_course):
    lms.set_roster("ctx-1", learners(10))
    lms.link_override = '<https://collector.example/steal>; rel="next"'
    assert sync(lms, lms_course) is None
    state = RosterSync.objects.get(course=lms_course)
    assert "points to another site" in state.error and state.learner_count is None


def test_a_roster_page_that_is_not_a_membership_container_is_refused(lms, lms_course):
    for page, reason in (({"members": [{"roles": [LEARNER], "status": "Active"}]}, "no user_id"),
                         ({"members": "everyone"}, "not a membership container"),
                         ({"members": [{"user_id": "u", "roles": "Learner"}]}, "roles are not a list")):
        lms.page_override = page
        assert sync(lms, lms_course) is None
        assert reason in RosterSync.objects.get(course=lms_course).error
    assert not RosterMember.objects.exists()


def test_an_unusable_roster_claim_is_recorded_and_never_raises(lms, lms_course):
    lms.set_roster("ctx-1", learners(2))
    sync(lms, lms_course)
    claim = {roster.NRPS_CLAIM + "namesroleservice": {"context_memberships_url": "http://evil.example/m"}}
    assert roster.note_launch(lms_course, lms.registration, claim) is not None
    state = RosterSync.objects.get(course=lms_course)
    assert state.status == RosterSyncStatus.FAILED and "HTTPS" in state.error
    assert state.memberships_url == lms.memberships_url("ctx-1")


def test_reports_take_the_synced_learner_count_over_the_typed_one(lms, lms_course):
    ReportSettings.objects.create(course=lms_course, enrolled_students=40)
    schema = lms_course.schemas.get(name="sentiment")
    assert report_inputs(lms_course, schema).enrolled == 40
    lms.set_roster("ctx-1", learners(130))
    sync(lms, lms_course)
    assert report_inputs(lms_course, schema).enrolled == 130


def test_the_beat_task_queues_rosters_not_synced_lately(lms, lms_course, django_capture_on_commit_callbacks):
    lms.set_roster("ctx-1", learners(2))
    sync(lms, lms_course)
    assert roster.due_rosters() == []
    RosterSync.objects.update(synced_at="2020-01-01T00:00Z", requested_at=None)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        from courses.lti.tasks import sync_due_rosters_task

        assert sync_due_rosters_task() == 1
    assert len(queued) == 1 and RosterSync.objects.get().requested_at is not None


def test_sync_now_is_for_the_course_managers(lms, lms_course, django_capture_on_commit_callbacks):
    from eduplatform.errors import PermissionRefused

    lms.set_roster("ctx-1", learners(2))
    sync(lms, lms_course)
    state = RosterSync.objects.get()
    annotator = MembershipFactory(course=lms_course, role=Role.ANNOTATOR).user
    with pytest.raises(PermissionRefused, match="may not sync the course roster"):
        roster.request_sync(state, actor=annotator)
    instructor = MembershipFactory(course=lms_course, role=Role.INSTRUCTOR).user
    with django_capture_on_commit_callbacks(execute=False) as queued:
        roster.request_sync(state, actor=instructor)
    assert len(queued) == 1


def test_the_admin_shows_rosters_of_ones_courses_and_sync_now_is_for_managers(
        lms, lms_course, other_course, django_capture_on_commit_callbacks):
    lms.set_roster("ctx-1", learners(2))
    sync(lms, lms_course)
    state = RosterSync.objects.get()
    url = reverse("admin:lti_rostersync_changelist")
    outsider = MembershipFactory(course=other_course, role=Role.INSTRUCTOR, user=UserFactory(is_staff=True)).user
    annotator = MembershipFactory(course=lms_course, role=Role.ANNOTATOR, user=UserFactory(is_staff=True)).user
    instructor = MembershipFactory(course=lms_course, role=Role.INSTRUCTOR, user=UserFactory(is_staff=True)).user
    for user, queued_expected in ((outsider, 0), (annotator, 0), (instructor, 1)):
        client = Client()
        client.force_login(user)
        listing = client.get(url)
        assert (lms_course.code in listing.content.decode()) == (user != outsider)
        with django_capture_on_commit_callbacks(execute=False) as queued:
            client.post(url, {"action": "sync_now", "_selected_action": [state.pk]})
        assert len(queued) == queued_expected
