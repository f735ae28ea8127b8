"""Lets the LMS frame our pages after an LTI launch, and only then, and only from that platform.

Sessions started by a launch carry the platform's origins; for paths in settings.LTI_FRAMEABLE_PATHS
their responses get `Content-Security-Policy: frame-ancestors 'self' <origins>` instead of
`X-Frame-Options: DENY`, and the session/CSRF cookies become `SameSite=None` (when Secure: browsers
drop SameSite=None cookies that are not) so they are sent inside the cross-site iframe. Every other
page (admin, password logins) keeps DENY and the default SameSite.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

FRAME_SESSION_KEY = "lti_frame_ancestors"


class LtiFrameMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        origins = session.get(FRAME_SESSION_KEY) if session is not None else None
        if not origins or not request.path.startswith(tuple(settings.LTI_FRAMEABLE_PATHS)):
            return response
        response.headers.pop("X-Frame-Options", None)
        response["Content-Security-Policy"] = "frame-ancestors 'self' " + " ".join(origins)
        for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
            morsel = response.cookies.get(name)
            if morsel is not None and morsel["secure"]:
                morsel["samesite"] = "None"
        return response


SCOPE_SESSION_KEY = "lti_course_scope"


class LtiScopeMiddleware:
    """A session begun by an LTI launch grants the LTI roles of that launch's course only.

    The launch view stores the course in the session; here the signed-in user is marked with it
    (`user.lti_course_scope`), and `courses.permissions.courses_for_user` then ignores the user's
    LTI-given roles in every other course: an instructor launch in course C does not open course A,
    whatever A's launches once said. Roles added by hand in admin are not from a launch and still count.
    Must come after AuthenticationMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        scope = session.get(SCOPE_SESSION_KEY) if session is not None else None
        if scope is not None and request.user.is_authenticated:
            request.user.lti_course_scope = scope
        return self.get_response(request)
