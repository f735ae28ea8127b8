"""The data migration that comes with membership sources: existing launch-made roles become LTI roles,
and django-lti's mirror of platform users (learners' names and e-mails) is emptied."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from lti_tool.models import LtiRegistration, LtiUser

from courses.lti.models import LtiIdentity
from courses.models import Course, CourseMembership, MembershipSource, Role

pytestmark = pytest.mark.django_db

migration = importlib.import_module("courses.lti.migrations.0002_lti_memberships_and_no_learner_mirror")


def test_launch_made_memberships_become_lti_and_the_user_mirror_is_emptied():
    course = Course.objects.create(code="cs1", title="CS 1")
    users = get_user_model().objects
    lti_user, hand_user = users.create_user("lti-ta"), users.create_user("hand-made")
    LtiIdentity.objects.create(issuer="https://lms.example", sub="u1", user=lti_user)
    CourseMembership.objects.create(user=lti_user, course=course, role=Role.TEACHING_ASSISTANT)
    CourseMembership.objects.create(user=hand_user, course=course, role=Role.VIEWER)
    registration = LtiRegistration.objects.create(
        name="LMS", issuer="https://lms.example", client_id="c", auth_url="https://lms.example/auth",
        token_url="https://lms.example/token", keyset_url="https://lms.example/jwks")
    LtiUser.objects.create(registration=registration, sub="learner-1", name="Lea Learner", email="lea@uni.example")

    migration.forwards(apps, None)

    assert CourseMembership.objects.get(user=lti_user).source == MembershipSource.LTI
    assert CourseMembership.objects.get(user=hand_user).source == MembershipSource.MANUAL
    assert not LtiUser.objects.exists()
