"""LTI entry points: login initiation, launch, JWKS, deep-linking choice, Canvas config, landing page.

Thin callers of tool.py (validation), services.py (what a launch means) and deep_linking.py. Every
launch failure becomes a 4xx error page and a log line; a user never sees a stack trace, and a refused
launch leaves nobody signed in (a login this request made is undone).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import jwt
from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from lti_tool.models import Key, LtiLaunch
from pylti1p3.exception import LtiException, OIDCException

from courses.loop.selectors import published_for_course
from courses.models import Course
from courses.permissions import can_view_course
from eduplatform.security import allow_inline_scripts

from . import deep_linking, grades, roster, selectors, services
from .middleware import SCOPE_SESSION_KEY
from .models import PlatformPolicy, origin_of
from .registration import tool_urls
from .tool import HardenedMessageLaunch, LaunchRejected, LoginInitiation, ToolConfig

logger = logging.getLogger(__name__)

FRAME_SESSION_KEY = "lti_frame_ancestors"
LOGGED_IN_HERE = "_lti_logged_in"  # request attribute: this request signed a user in


def _params(request: HttpRequest) -> Any:
    """The request's form (POST) or query (GET); a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a rejection
    like any other instead of Django's RequestDataTooBig page."""
    if request.method != "POST":
        return request.GET
    try:
        return request.POST
    except RequestDataTooBig as exc:
        raise LaunchRejected(
            f"The request is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024} KiB EduPlatform "
            "accepts; start again from the course.", status=413,
        ) from exc
    except TooManyFieldsSent as exc:
        raise LaunchRejected(
            f"The request has more than the {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields EduPlatform "
            "accepts; start again from the course.", status=413,
        ) from exc


def _safe_params(request: HttpRequest) -> Any:
    try:
        return _params(request)
    except LaunchRejected:
        return {}


def error_page(request: HttpRequest, reason: str, status: int, **context: Any) -> HttpResponse:
    return render(request, "lti/error.html", {"reason": reason, **context}, status=status)


@csrf_exempt
@xframe_options_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def login_initiation(request: HttpRequest, registration_uuid: str | None = None) -> HttpResponse:
    """OIDC third-party initiated login (GET or POST), with a new-window fallback for blocked cookies."""
    params = _safe_params(request)
    try:
        params = _params(request)
        if not params.get("target_link_uri"):
            raise LaunchRejected("The login request has no target_link_uri.")
        oidc = LoginInitiation(request, ToolConfig(registration_uuid))
        oidc.enable_check_cookies(
            main_msg="Your browser blocks cookies inside the course page, so EduPlatform must open in its own "
            "window.", click_msg="Open EduPlatform in a new window", loading_msg="Loading EduPlatform…",
        )
        response = oidc.redirect(request.build_absolute_uri(reverse("lti:launch")))
        # pylti1p3's cookie-check page is an inline script (request values JSON-encoded, HTML-escaped).
        return allow_inline_scripts(response) if response.status_code == 200 else response
    except LaunchRejected as exc:
        return _rejected(request, exc.reason, exc.status, params)
    except (LtiException, OIDCException) as exc:
        return _rejected(request, f"Login initiation refused: {exc}", 400, params)
    except Exception:
        logger.exception("LTI: unexpected error in login initiation")
        return _rejected(request, "The login could not be started; the error was logged.", 400, params)


def _rejected(request: HttpRequest, reason: str, status: int, params: Any) -> HttpResponse:
    hint = _unverified_claims(params.get("id_token", ""))
    logger.warning("LTI rejected (%s): %s [iss=%r client_id=%r deployment=%r path=%s]", status, reason,
                   params.get("iss") or hint.get("iss"), params.get("client_id") or hint.get("aud"),
                   hint.get(services.CLAIM + "deployment_id"), request.path)
    return error_page(request, reason, status)


def _unverified_claims(id_token: str) -> dict[str, Any]:
    """Claims of a token we rejected, for the log line only (never trusted)."""
    try:
        claims = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


@csrf_exempt
@xframe_options_exempt
@never_cache
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    """The redirect URI: validate the id_token, then sign the user in and send them on."""
    try:
        _params(request)
        message_launch = HardenedMessageLaunch(request, ToolConfig())
        message_launch.validate()
        return _dispatch(request, message_launch)
    except LaunchRejected as exc:
        return _refused_launch(request, exc.reason, exc.status)
    except services.NotLinked as exc:
        return _refused_launch(request, str(exc), 404)
    except LtiException as exc:
        return _refused_launch(request, f"The launch is not valid: {exc}", 400)
    except Exception:
        # Contract: never a 500 for a launch. Logged with the traceback so nothing is swallowed.
        logger.exception("LTI: unexpected error during launch")
        return _refused_launch(request, "The launch could not be processed; the error was logged.", 400)


def _refused_launch(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    if getattr(request, LOGGED_IN_HERE, False):
        logout(request)  # a refused launch never leaves the session it began signed in
    return _rejected(request, reason, status, _safe_params(request))


def _dispatch(request: HttpRequest, message_launch: HardenedMessageLaunch) -> HttpResponse:
    lti_launch = LtiLaunch(message_launch)
    deployment = lti_launch.deployment
    if not deployment.is_active:
        raise LaunchRejected(
            f"Deployment {deployment.deployment_id!r} of {deployment.registration} is not active in EduPlatform. "
            "An administrator must activate it (admin → LTI deployments) before this link works.", status=403,
        )
    services.mirror_launch(lti_launch)  # django-lti's mirror of contexts and links, without people
    claims = message_launch.get_launch_data()
    launch_info = services.Launch.from_claims(claims)
    frame_origins = _frame_origins(lti_launch.registration)
    if message_launch.is_deep_link_launch():
        return deep_linking.chooser(request, message_launch, launch_info)
    role = launch_info.staff_role
    if role is not None:
        return _staff_landing(request, launch_info, role, frame_origins, lti_launch)
    return _learner_landing(request, launch_info, frame_origins, lti_launch)


def _frame_origins(registration: Any) -> list[str]:
    policy = PlatformPolicy.objects.filter(registration=registration).first()
    return policy.allowed_frame_origins() if policy else [origin_of(registration.auth_url)]


def _staff_landing(request: HttpRequest, launch: services.Launch, role: str, origins: list[str],
                   lti_launch: LtiLaunch) -> HttpResponse:
    course = services.link_course(launch, create=True)
    module = services.link_module(course, launch)
    target = launch.custom.get("eduplatform_module") or (module.pk if module else "")
    try:
        url = reverse("reports:course_report", kwargs={"course_code": course.code})
        landing = f"{url}?{urlencode({'module': target})}" if target else url
    except NoReverseMatch:
        landing = reverse("lti:course", kwargs={"course_code": course.code})
    user = services.staff_user_for(launch, course, role)
    roster.note_launch(course, lti_launch.registration, lti_launch.get_launch_data())  # queued; never refuses
    # Everything that can refuse the launch ran above; signing in is the last step.
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    setattr(request, LOGGED_IN_HERE, True)
    request.session[FRAME_SESSION_KEY] = origins
    # This session opens this launch's course only: LTI roles from other contexts need their own launch.
    request.session[SCOPE_SESSION_KEY] = course.pk
    request.session.set_expiry(settings.LTI_SESSION_TTL_S)
    logger.info("LTI: %s launched %s as %s", user, course.code, role)
    return HttpResponseRedirect(landing)


def _learner_landing(request: HttpRequest, launch: services.Launch, origins: list[str],
                     lti_launch: LtiLaunch) -> HttpResponse:
    course = services.link_course(launch, create=False)
    if course is None:
        raise services.NotLinked(
            "This course is not set up in EduPlatform yet. Your instructor needs to open the EduPlatform link "
            "once; then try again."
        )
    # The platform says this person is not staff here (any more): an LTI staff role in this course ends,
    # so their staff sessions in other browsers lose the course too, and this browser's is closed.
    services.end_staff_roles(launch, course)
    roster.note_launch(course, lti_launch.registration, lti_launch.get_launch_data())  # queued; never refuses
    logout(request)
    survey = selectors.survey_for_launch(
        course, resource_link_id=launch.resource_link_id, survey_id=str(launch.custom.get("survey_id") or ""),
    )
    identity = services.learner_identity(launch, course)
    line_item = grades.note_launch(survey, lti_launch.registration, lti_launch.get_launch_data()) if survey else None
    if line_item is not None:  # a link with participation credit: the survey page records the score
        identity[grades.SESSION_KEY] = line_item.pk
    request.session["lti_identity"] = identity
    request.session[FRAME_SESSION_KEY] = origins
    request.session.set_expiry(settings.LTI_SESSION_TTL_S)
    if survey is None:  # the learner's landing page: what changed because of students' feedback
        return render(request, "lti/no_survey.html", {"course": course, "loop": published_for_course(course)},
                      status=200)
    try:
        return HttpResponseRedirect(reverse("surveys:survey", kwargs={"survey_id": survey.pk}))
    except NoReverseMatch:
        return render(request, "lti/no_survey.html", {"course": course, "survey": survey}, status=200)


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The tool's public keys (all active ones, so platforms can verify during a rotation)."""
    services.ensure_tool_key()
    response = JsonResponse(Key.objects.as_jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def canvas_config(request: HttpRequest) -> JsonResponse:
    """Canvas developer key JSON ("Enter URL" configuration method)."""
    urls = tool_urls(request.build_absolute_uri("/"))
    placement = {"message_type": "LtiDeepLinkingRequest", "target_link_uri": urls["launch_url"]}
    return JsonResponse({
        "title": "EduPlatform",
        "description": "Course feedback reports and surveys.",
        "oidc_initiation_url": urls["login_initiation_url"],
        "target_link_uri": urls["launch_url"],
        "public_jwk_url": urls["jwks_url"],
        "scopes": ["https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"],
        "extensions": [{
            "platform": "canvas.instructure.com",
            "privacy_level": "public",
            "settings": {"placements": [
                {"placement": "link_selection", **placement},
                {"placement": "assignment_selection", **placement},
                {"placement": "course_navigation", "message_type": "LtiResourceLinkRequest",
                 "target_link_uri": urls["launch_url"]},
            ]},
        }],
        "custom_fields": {},
    })


@login_required
@require_GET
def course_landing(request: HttpRequest, course_code: str) -> HttpResponse:
    """Where staff land until the reports page exists."""
    course = Course.objects.filter(code=course_code).first()
    if course is None:
        raise Http404("No such course")
    if not can_view_course(request.user, course):
        raise PermissionDenied
    return render(request, "lti/course.html", {"course": course, "modules": course.modules.all()})


@csrf_exempt  # the signed launch token in the form is the CSRF defence (works without cookies)
@xframe_options_exempt
@never_cache
@require_POST
def deep_link_submit(request: HttpRequest) -> HttpResponse:
    try:
        _params(request)
        return deep_linking.respond(request)
    except LaunchRejected as exc:
        return _rejected(request, exc.reason, exc.status, _safe_params(request))
    except LtiException as exc:
        return _rejected(request, f"The deep-linking request is not valid: {exc}", 400, _safe_params(request))
    except Exception:
        logger.exception("LTI: unexpected error in deep linking")
        return _rejected(request, "The link could not be created; the error was logged.", 400, _safe_params(request))
