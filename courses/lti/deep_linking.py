"""Deep linking: an instructor picks what the new LMS link opens; the platform gets a signed item.

The choice form carries a signed, short-lived token naming the launch instead of relying on the session
cookie, so it also works in frames where the browser blocks third-party cookies.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem

from courses.models import Course

from . import grades, selectors, services
from .tool import HardenedMessageLaunch, LaunchRejected, ToolConfig

SALT = "eduplatform.lti.deep-link"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"


def chooser(request: HttpRequest, message_launch: HardenedMessageLaunch, launch: services.Launch) -> HttpResponse:
    if launch.staff_role is None:
        raise LaunchRejected("Only instructors and teaching assistants can add EduPlatform links.", status=403)
    course = services.link_course(launch, create=True)
    modules, surveys = selectors.deep_link_choices(course)
    token = signing.dumps({"launch_id": message_launch.get_launch_id(), "course_id": course.pk}, salt=SALT)
    return render(request, "lti/deep_link.html", {
        "course": course, "modules": modules, "surveys": surveys, "token": token,
        "action": reverse("lti:deep_link_submit"),
    })


def content_item(request: HttpRequest, course: Course, choice: str, *, credit: bool = False) -> DeepLinkResource:
    """The LTI resource link for a choice: "course", "module:<id>" or "survey:<id>" (inside `course`); a survey
    with `credit` gives participation credit (a line item of maximum 1)."""
    kind, _, pk = choice.partition(":")
    resource = DeepLinkResource().set_url(request.build_absolute_uri(reverse("lti:launch")))
    if kind == "course":
        return resource.set_title(f"Feedback report: {course.title}").set_custom_params(
            {"eduplatform_target": "report"})
    if kind == "module" and pk.isdigit() and (module := course.modules.filter(pk=int(pk)).first()):
        return resource.set_title(f"Feedback report: {module.title}").set_custom_params(
            {"eduplatform_target": "report", "eduplatform_module": str(module.pk)})
    if kind == "survey" and pk.isdigit() and (survey := course.surveys.filter(pk=int(pk)).first()):
        custom = {"eduplatform_target": "survey", "survey_id": str(survey.pk)}
        if credit:
            # A gradebook column (score 1 = answered) the platform creates with the link (LTI-DL 2.0 lineItem);
            # the tool finds or creates it through AGS when a platform ignores this.
            resource.set_lineitem(LineItem().set_score_maximum(1).set_label(grades.line_item_label(survey))
                                  .set_resource_id(grades.resource_id(survey)).set_tag(grades.TAG))
            custom[grades.CREDIT_PARAM] = "1"
        return resource.set_title(survey.title).set_custom_params(custom)
    raise LaunchRejected(f"{choice!r} is not something this course offers; pick one of the listed items.")


def respond(request: HttpRequest) -> HttpResponse:
    """Sign the chosen content item and post it back to the platform (auto-submitting form)."""
    try:
        data = signing.loads(request.POST.get("token", ""), salt=SALT, max_age=settings.LTI_LAUNCH_DATA_TTL_S)
    except signing.BadSignature as exc:
        raise LaunchRejected("This deep-linking form expired or was tampered with; add the link again.",
                             status=403) from exc
    course = Course.objects.filter(pk=data["course_id"]).first()
    if course is None:
        raise LaunchRejected("The course of this deep-linking request no longer exists.", status=404)
    message_launch = HardenedMessageLaunch.from_cache(data["launch_id"], request, ToolConfig())
    resource = content_item(request, course, request.POST.get("choice", ""), credit=request.POST.get("credit") == "1")
    deep_link = message_launch.get_deep_link()
    # Our template, not pylti1p3's form: its inline script would need a CSP exception, and it does not
    # escape the return URL.
    return render(request, "lti/deep_link_return.html", {
        "action": message_launch.get_launch_data()[DL_SETTINGS]["deep_link_return_url"],
        "jwt": deep_link.get_response_jwt([resource]),
    })
