"""The LTI test platform's fixtures, for launches that land on a course's "you said, we did"."""

from tests.lti.conftest import _lti_settings, browser, platform  # noqa: F401 - fixtures used by name
