"""Screening fixtures: a course whose report would quote held comments if they were shown (the `screener`
persona is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.classifiers.screening.held_data import build_held_course


@pytest.fixture
def held_course(course):
    return build_held_course(course)
