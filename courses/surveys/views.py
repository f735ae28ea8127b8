"""Survey pages. Thin: identity, rate limits and size limits here, the rest in selectors and services."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_http_methods

from courses.loop.selectors import published_for_survey
from courses.lti import grades
from courses.models import Question, QuestionKind, Survey

from . import ratelimit
from .forms import SurveyForm, field_name, max_body_bytes
from .identity import (
    ExpiredInvitation,
    InvalidInvitation,
    Respondent,
    WrongCourse,
    edit_key_matches,
    respondent_from_invitation,
    respondent_from_lti,
)
from .selectors import answers_for_form, response_for, survey_with_questions
from .services import AlreadyResponded, SurveyNotOpen, submit_survey_response, survey_state

LTI_SESSION_KEY = "lti_identity"


# How long the thank-you page stays open to the browser that answered (it shows the survey's title, which
# only respondents may see; a refused or never-made submission gets a 404).
THANKS_COOKIE_S = 24 * 3600
_THANKS_SALT = "courses.surveys.thanks"


def _edit_cookie(survey: Survey) -> str:
    return f"survey_edit_{survey.pk}"


def _thanks_cookie(survey: Survey) -> str:
    return f"survey_thanks_{survey.pk}"


def _survey_cookie(response: HttpResponse, survey: Survey, name: str, value: str, **when: object) -> None:
    """A cookie for this survey's pages only, sent from the LMS iframe too (SameSite=None when Secure)."""
    secure = settings.SESSION_COOKIE_SECURE
    response.set_cookie(name, value, httponly=True, secure=secure, samesite="None" if secure else "Lax",
                        path=reverse("surveys:survey", kwargs={"survey_id": survey.pk}), **when)


def _remember_respondent(response: HttpResponse, survey: Survey) -> None:
    """A signed mark that this browser just answered `survey`: the thank-you page's only key. It names the
    survey and nothing else, and lives in the student's browser only (nothing stored server-side)."""
    _survey_cookie(response, survey, _thanks_cookie(survey), signing.dumps(survey.pk, salt=_THANKS_SALT),
                   max_age=THANKS_COOKIE_S)


def _answered_here(request: HttpRequest, survey: Survey) -> bool:
    try:
        value = signing.loads(request.COOKIES.get(_thanks_cookie(survey), ""), salt=_THANKS_SALT,
                              max_age=THANKS_COOKIE_S)
    except signing.BadSignature:
        return False
    return value == survey.pk


def _remember_edit_key(response: HttpResponse, survey: Survey, key: str) -> None:
    """The anonymous response's edit code, kept by the student's browser only (for this survey's pages)."""
    _survey_cookie(response, survey, _edit_cookie(survey), key, expires=survey.closes_at)


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    # Pages open inside the LMS iframe: framing is allowed for the configured origins only.
    response["Content-Security-Policy"] = "frame-ancestors " + " ".join(settings.SURVEY_FRAME_ANCESTORS)
    response["Cache-Control"] = "no-store"  # answers and invitation tokens must not sit in shared caches
    return response


def _notice(
    request: HttpRequest, survey: Survey | None, *, title: str, message: str, status: int,
    questions: list[Question] | None = None,
) -> HttpResponse:
    """A message page; after a refused POST it shows the student's own text so nothing typed is lost."""
    kept = []
    if request.method == "POST" and questions:
        for q in questions:
            text = request.POST.get(field_name(q), "").strip()
            if q.kind == QuestionKind.TEXT and text:
                kept.append((q.prompt, text[: settings.FEEDBACK_MAX_CHARS]))
    response = _page(request, "surveys/notice.html",
                     {"survey": survey, "title": title, "message": message, "kept": kept}, status=status)
    if status == 429:
        response["Retry-After"] = str(ratelimit.WINDOW_S)
    return response


def _too_many(request: HttpRequest, survey: Survey, questions: list[Question]) -> HttpResponse:
    return _notice(request, survey, title="Too many submissions", status=429, questions=questions,
                   message="Too many answers were sent from your device or network just now. "
                           "Wait a minute and send again.")


def _client_ip(request: HttpRequest) -> str:
    # Behind a reverse proxy, SURVEY_CLIENT_IP_META names the header it sets (e.g. HTTP_X_REAL_IP).
    return request.META.get(settings.SURVEY_CLIENT_IP_META) or request.META.get("REMOTE_ADDR", "")


def _respondent(request: HttpRequest, survey: Survey) -> Respondent | None:
    token = (request.POST if request.method == "POST" else request.GET).get("invite", "")
    if token:
        return respondent_from_invitation(token, survey)
    return respondent_from_lti(request.session.get(LTI_SESSION_KEY), survey)


@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def survey_page(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = survey_with_questions(survey_id)
    if survey is None:
        raise Http404("No such survey.")
    questions = list(survey.questions.all())
    posting = request.method == "POST"
    if posting and int(request.META.get("CONTENT_LENGTH") or 0) > max_body_bytes(questions):
        return _notice(request, survey, title="Answers too long", status=413,
                       message="What you sent is larger than this survey accepts. Shorten your answers.")
    # Dates first: past the close an invitation has expired too, and "closed" is the useful message.
    state = survey_state(survey)
    if state != "open":
        title = "This survey is not open yet" if state == "upcoming" else "This survey is closed"
        return _notice(request, survey, title=title, message=str(SurveyNotOpen(survey, state)),
                       status=409 if posting else 200, questions=questions)
    ip_limit = ("ip", _client_ip(request), settings.SURVEY_RATE_LIMIT_PER_IP)
    try:
        respondent = _respondent(request, survey)
    except (InvalidInvitation, ExpiredInvitation, WrongCourse) as exc:
        if posting and not ratelimit.allow(ip_limit):  # forged links count against the address too
            return _too_many(request, survey, questions)
        return _notice(request, survey, title="This link cannot be used", message=str(exc), status=403)
    if respondent is None:
        return _notice(request, survey, title="Open this survey from your course", status=403,
                       message="Open the survey from your course page in the learning platform, "
                               "or use the invitation link you were sent.")
    if posting:
        # One round trip for both limits: per address (a campus NAT is many students) and per student.
        respondent_limit = ("respondent", respondent.key, settings.SURVEY_RATE_LIMIT_PER_RESPONDENT)
        if not ratelimit.allow(ip_limit, respondent_limit):
            return _too_many(request, survey, questions)
        return _submit(request, survey, questions, respondent)
    return _show(request, survey, questions, respondent)


def _own_anonymous_response(request: HttpRequest, survey: Survey, respondent: Respondent):  # noqa: ANN202
    """The anonymous response this browser's edit code opens, else None. Without the code the page is the
    same whether the link was used or not: the link went through staff's hands."""
    key = request.COOKIES.get(_edit_cookie(survey), "")
    existing = response_for(survey, respondent.key) if key and survey.allow_edit else None
    if existing is not None and edit_key_matches(survey.pk, key, existing.edit_key_digest):
        return existing
    return None


def _show(request: HttpRequest, survey: Survey, questions: list[Question], respondent: Respondent) -> HttpResponse:
    if survey.is_anonymous:
        existing = _own_anonymous_response(request, survey, respondent)
    else:
        existing = response_for(survey, respondent.key)
    if existing is not None and not survey.allow_edit:
        return _notice(request, survey, title="You have already answered", status=200,
                       message="Thank you: your answers to this survey are already recorded.")
    initial = {"invite": respondent.invitation}
    if existing is not None:
        initial.update({f"q{qid}": value for qid, value in answers_for_form(existing).items()})
    form = SurveyForm(initial=initial, questions=questions, edit_code=_asks_edit_code(survey, existing is not None))
    return _render_form(request, survey, form, respondent, editing=existing is not None)


def _credit(request: HttpRequest, survey: Survey, respondent: Respondent) -> grades.Credit | None:
    """Participation credit of the LTI launch that opened this survey (never for invitation links)."""
    if respondent.via != "lti" or not respondent.is_learner:
        return None
    return grades.credit_for(request.session.get(LTI_SESSION_KEY), survey)


def _render_form(
    request: HttpRequest, survey: Survey, form: SurveyForm, respondent: Respondent, *, editing: bool, status: int = 200
) -> HttpResponse:
    return _page(request, "surveys/survey.html", {
        "survey": survey, "form": form, "rows": form.rows(), "editing": editing,
        "preview": not respondent.is_learner, "closes_at": survey.closes_at,
        "loop": published_for_survey(survey),  # "you said, we did" of this course (published only)
        "credit": _credit(request, survey, respondent) is not None,
    }, status=status)


def _asks_edit_code(survey: Survey, editing: bool) -> bool:
    return survey.is_anonymous and survey.allow_edit and not editing  # editing: the browser's code is in use


def _submit(request: HttpRequest, survey: Survey, questions: list[Question], respondent: Respondent) -> HttpResponse:
    if not respondent.is_learner:
        return _notice(request, survey, title="Preview only", status=403,
                       message="Staff see a preview of the survey; only students can submit answers.")
    form = SurveyForm(request.POST, questions=questions, edit_code=_asks_edit_code(survey, False))
    if not form.is_valid():
        return _render_form(request, survey, form, respondent, editing=False, status=400)
    user_id = None
    if not survey.is_anonymous and request.user.is_authenticated:
        user_id = request.user.pk
    edit_key = form.cleaned_data.get("edit_code") or request.COOKIES.get(_edit_cookie(survey), "")
    credit = _credit(request, survey, respondent)
    try:
        result = submit_survey_response(survey, respondent=respondent, answers=form.answers(), user_id=user_id,
                                        edit_key=edit_key if survey.is_anonymous else "",
                                        on_first_response=credit.record if credit else None)
    except AlreadyResponded as exc:
        return _notice(request, survey, title="You have already answered", message=str(exc), status=409,
                       questions=questions)
    except SurveyNotOpen as exc:  # it closed while the student was writing
        return _notice(request, survey, title="This survey is closed", message=str(exc), status=409,
                       questions=questions)
    url = reverse("surveys:thanks", kwargs={"survey_id": survey.pk})
    # 303: the browser follows with a GET, so reloading the thank-you page never re-sends the answers.
    redirect = HttpResponseRedirect(url if result.created else f"{url}?edited=1", status=303)
    _remember_respondent(redirect, survey)
    if result.edit_key:
        _remember_edit_key(redirect, survey, result.edit_key)
    return redirect


@xframe_options_exempt
@require_GET
def thanks_page(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = Survey.objects.filter(pk=survey_id).select_related("course").first()
    if survey is None or not _answered_here(request, survey):  # the same 404: no title without an answer
        raise Http404("No such survey.")
    return _page(request, "surveys/thanks.html", {
        "survey": survey, "edited": request.GET.get("edited") == "1",
        "can_edit": survey.allow_edit and survey_state(survey) == "open",
        # Anonymous surveys: the code that reopens the answers, from this browser's own cookie.
        "edit_code": request.COOKIES.get(_edit_cookie(survey), "")[:64] if survey.is_anonymous else "",
    })
