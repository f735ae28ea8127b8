"""API fixtures: token clients for the personas, and one object of every resource in each course."""

from __future__ import annotations

import pytest

from tests.api.course_objects import make_course_objects
from tests.support import token_client


@pytest.fixture
def api_as():
    return token_client


@pytest.fixture
def mine(course, instructor):
    return make_course_objects(course, instructor, "mine")


@pytest.fixture
def theirs(other_course, outsider):
    return make_course_objects(other_course, outsider, "theirs")
