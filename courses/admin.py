"""Admin for courses and feedback; every queryset is scoped to the user's courses."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from eduplatform.errors import PermissionRefused

from .csv_safety import safe_writer
from .models import (
    Answer,
    Course,
    CourseMembership,
    Faculty,
    Feedback,
    ImportJob,
    Module,
    Question,
    Survey,
    SurveyResponse,
)
from .permissions import ANNOTATE_ROLES, MANAGE_ROLES, Action, can_manage_institution, courses_for_user, may
from .scoping import COURSE_FILTER, CourseScopedAdmin, CourseScopedInline
from .screening import text_for_course_staff
from .services import (
    COURSE_PRIVACY_FIELDS,
    create_course,
    delete_course,
    delete_faculty,
    save_faculty,
    update_course_settings,
)
from .surveys.services import (
    MAX_INVITATIONS,
    SURVEY_EDITABLE_FIELDS,
    SurveyRejected,
    issue_invitations,
    save_survey,
)


class ModuleInline(CourseScopedInline, admin.TabularInline):
    model = Module
    extra = 0
    fields = ("position", "title", "lti_resource_link_id")


class MembershipInline(CourseScopedInline, admin.TabularInline):
    model = CourseMembership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Faculty)
class FacultyAdmin(admin.ModelAdmin):
    """Administrators keep the institution's faculties: a course's faculty decides which faculty screeners
    review its held comments."""

    list_display = ("code", "name", "course_count")
    search_fields = ("code", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Faculty]:
        return super().get_queryset(request).annotate(course_count=Count("courses"))

    @admin.display(description="courses", ordering="course_count")
    def course_count(self, obj: Faculty) -> int:
        return obj.course_count  # type: ignore[attr-defined]

    def _administers(self, request: HttpRequest) -> bool:
        return may(request.user, Action.MANAGE_FACULTIES, None)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._administers(request)

    def has_view_permission(self, request: HttpRequest, obj: Faculty | None = None) -> bool:
        return self._administers(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._administers(request)

    def has_change_permission(self, request: HttpRequest, obj: Faculty | None = None) -> bool:
        return self._administers(request)

    def has_delete_permission(self, request: HttpRequest, obj: Faculty | None = None) -> bool:
        return self._administers(request)

    def save_model(self, request: HttpRequest, obj: Faculty, form: forms.ModelForm, change: bool) -> None:
        save_faculty(obj, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: Faculty) -> None:
        delete_faculty(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Faculty]) -> None:
        for faculty in queryset:
            delete_faculty(faculty, actor=request.user)


@admin.register(Course)
class CourseAdmin(CourseScopedAdmin):
    course_path = "pk"
    list_display = ("code", "title", "term", "faculty", "min_group_size", "lti_context_id")
    list_select_related = ("faculty",)
    search_fields = ("code", "title", "term")
    inlines = (ModuleInline, MembershipInline)

    privacy_fields = COURSE_PRIVACY_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser or self._administers(request):
            return qs
        return qs.filter(pk__in=courses_for_user(request.user, ANNOTATE_ROLES))

    def _course_of(self, obj: object) -> Course | None:
        return obj  # type: ignore[return-value]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may(request.user, Action.CREATE_COURSE, None)

    def has_delete_permission(self, request: HttpRequest, obj: Course | None = None) -> bool:
        return may(request.user, Action.DELETE_COURSE, obj)

    def delete_model(self, request: HttpRequest, obj: Course) -> None:
        delete_course(obj, actor=request.user)

    def get_deleted_objects(self, objs, request: HttpRequest):  # noqa: ANN001, ANN201 - Django's signature
        # DELETE_COURSE covers everything the course holds: an administrator needs no role on its rows.
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Course]) -> None:
        for course in queryset:
            delete_course(course, actor=request.user)

    def get_readonly_fields(self, request: HttpRequest, obj: Course | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        readonly = () if may(request.user, Action.EDIT_COURSE, obj) else ("code", "title", "term")
        privacy = () if may(request.user, Action.CHANGE_PRIVACY_SETTINGS, obj) else COURSE_PRIVACY_FIELDS
        return readonly + privacy

    def save_model(self, request: HttpRequest, obj: Course, form: forms.ModelForm, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if change:
            update_course_settings(obj, actor=request.user, **values)
        else:
            values = {name: value for name, value in form.cleaned_data.items() if name not in ("code", "title")}
            created = create_course(actor=request.user, code=obj.code, title=obj.title, **values)
            obj.pk, obj._state = created.pk, created._state


@admin.register(Module)
class ModuleAdmin(CourseScopedAdmin):
    list_display = ("title", "course", "position")
    list_filter = (COURSE_FILTER,)
    search_fields = ("title", "course__code")


@admin.register(CourseMembership)
class CourseMembershipAdmin(CourseScopedAdmin):
    list_display = ("user", "course", "role")
    list_filter = ("role", COURSE_FILTER)
    search_fields = ("user__username", "course__code")
    autocomplete_fields = ("user",)


class QuestionInline(CourseScopedInline, admin.TabularInline):
    model = Question
    extra = 1
    fields = ("position", "kind", "prompt", "required", "max_length")
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 60})}}


class InvitationForm(forms.Form):
    count = forms.IntegerField(min_value=0, max_value=MAX_INVITATIONS, initial=0, required=False,
                               help_text="Links not tied to anyone (for anonymous surveys, hand them out at random).")
    recipients = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), max_length=200 * MAX_INVITATIONS,
        help_text="Identified surveys only: one recipient per line (e.g. e-mail), one link each, for your "
                  "mail merge. Anonymous surveys take a number of links instead, so no list pairs a "
                  "student with a link.",
    )
    expires_at = forms.DateTimeField(required=False, help_text="Default: when the survey closes.")

    def clean(self) -> dict:
        data = super().clean()
        lines = [r.strip() for r in (data.get("recipients") or "").splitlines() if r.strip()]
        data["recipient_list"] = lines + [""] * (data.get("count") or 0)  # "": a link tied to nobody
        return data


@admin.register(Survey)
class SurveyAdmin(CourseScopedAdmin):
    list_display = ("title", "course", "module", "opens_at", "closes_at", "is_anonymous", "responses", "links")
    list_filter = (COURSE_FILTER, "is_anonymous")
    list_select_related = ("course", "module")
    inlines = (QuestionInline,)
    fieldsets = (
        (None, {"fields": ("course", "module", "title", "intro")}),
        ("When", {"fields": ("opens_at", "closes_at")}),
        ("Privacy and editing", {"fields": ("is_anonymous", "allow_edit", "min_group_size")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(response_count=Count("responses"))

    privacy_fields = ("min_group_size", "is_anonymous")

    def get_readonly_fields(self, request: HttpRequest, obj: Survey | None = None) -> tuple[str, ...]:
        # Who may change which field is decided by `save_survey`; here the form shows only what it accepts.
        if obj is None:
            return () if can_manage_institution(request.user) else ("min_group_size",)
        answered = obj.responses.exists()
        readonly = ["course"]  # a survey never moves to another course
        if not may(request.user, Action.EDIT_SURVEY, obj.course):  # administrators without a course role
            readonly += [f for f in SURVEY_EDITABLE_FIELDS if f not in ("course", *self.privacy_fields)]
            readonly += [] if answered else ["is_anonymous"]
        if not may(request.user, Action.CHANGE_PRIVACY_SETTINGS, obj.course):
            readonly += ["min_group_size", *(["is_anonymous"] if answered else [])]
        return tuple(dict.fromkeys(readonly))

    def save_model(self, request: HttpRequest, obj: Survey, form: forms.ModelForm, change: bool) -> None:
        save_survey(obj, actor=request.user, changed=form.changed_data if change else SURVEY_EDITABLE_FIELDS)

    @admin.display(description="Responses", ordering="response_count")
    def responses(self, obj: Survey) -> int:
        return obj.response_count

    @admin.display(description="Links")
    def links(self, obj: Survey) -> str:
        return format_html(
            '<a href="{}">student page</a> · <a href="{}">invitation links</a>',
            reverse("surveys:survey", kwargs={"survey_id": obj.pk}),
            reverse("admin:courses_survey_invitations", args=[obj.pk]),
        )

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.invitations_view)
        return [path("<int:survey_id>/invitations/", view, name="courses_survey_invitations"), *super().get_urls()]

    def invitations_view(self, request: HttpRequest, survey_id: int) -> HttpResponse:
        survey = self.get_queryset(request).select_related("course").filter(pk=survey_id).first()
        if survey is None or not may(request.user, Action.ISSUE_INVITATIONS, survey.course):
            raise PermissionDenied
        form = InvitationForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                issued = issue_invitations(survey, data["recipient_list"], actor=request.user,
                                           expires_at=data.get("expires_at"))
            except PermissionRefused as exc:
                raise PermissionDenied(str(exc)) from exc
            except SurveyRejected as exc:
                form.add_error(None, str(exc))
            else:
                return self._invitations_csv(request, survey, issued)
        context = {**self.admin_site.each_context(request), "title": f"Invitation links for {survey}",
                   "form": form, "survey": survey, "opts": self.model._meta}
        return TemplateResponse(request, "admin/courses/survey_invitations.html", context)

    @staticmethod
    def _invitations_csv(request: HttpRequest, survey: Survey, issued: list[tuple[str, str]]) -> HttpResponse:
        base = request.build_absolute_uri(reverse("surveys:survey", kwargs={"survey_id": survey.pk}))
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}-invitations.csv"'
        writer = safe_writer(response)  # a recipient such as =HYPERLINK(...) must stay text
        # Anonymous surveys: links only, no recipient column (issue_invitations took no names).
        named = not survey.is_anonymous
        writer.writerow(["recipient", "link"] if named else ["link"])
        for recipient, token in issued:
            link = f"{base}?{urlencode({'invite': token})}"
            writer.writerow([recipient, link] if named else [link])
        return response


class AnswerInline(admin.TabularInline):
    """Answers without anything that identifies who gave them; free text as redacted feedback."""

    model = Answer
    fields = ("question", "likert_value", "redacted_text")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="Free text (redacted)")
    def redacted_text(self, obj: Answer) -> str:
        return text_for_course_staff(obj.feedback) if obj.feedback_id else ""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# Nobody, superusers included, may filter or sort responses by who gave them (an oracle for "did X answer?").
RESPONDENT_FIELDS = ("respondent_key", "user", "respondent_label")


@admin.register(SurveyResponse)
class SurveyResponseAdmin(CourseScopedAdmin):
    """Responses show no identity: the respondent key is a keyed hash and is not displayed."""

    course_path = "survey__course"
    # Anonymous responses have random ids and day-only times (courses.surveys.anonymity): the default
    # order by id is no order of arrival, and the times show the day alone.
    list_display = ("id", "survey", "respondent", "submitted", "updated")
    list_filter = (("survey__course", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("survey", "user")
    fields = ("survey", "respondent", "submitted", "updated")
    readonly_fields = fields
    inlines = (AnswerInline,)

    @staticmethod
    def _when(obj: SurveyResponse, moment: object) -> object:
        return moment.date() if obj.survey.is_anonymous else moment  # type: ignore[attr-defined]

    @admin.display(description="Submitted", ordering="submitted_at")
    def submitted(self, obj: SurveyResponse) -> object:
        return self._when(obj, timezone.localtime(obj.submitted_at))

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, obj: SurveyResponse) -> object:
        return self._when(obj, timezone.localtime(obj.updated_at))

    @admin.display(description="Respondent")
    def respondent(self, obj: SurveyResponse) -> str:
        if obj.survey.is_anonymous:
            return "anonymous"
        return obj.respondent_label or (obj.user.get_username() if obj.user else "")

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if lookup.split("__")[0] in RESPONDENT_FIELDS:
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(CourseScopedAdmin):
    """Staff see only the redacted text; the original is kept for the record, never shown. Changes and
    deletions go through the feedback services (see CourseScopedAdmin): instructors and TAs only."""

    edit_roles = MANAGE_ROLES
    list_display = ("short_text", "course", "module", "source", "submitted_at", "text_was_cut")
    list_filter = ("source", COURSE_FILTER, ("module", admin.RelatedOnlyFieldListFilter), "split", "text_was_cut")
    search_fields = ("redacted_text", "external_id")
    date_hierarchy = "submitted_at"
    list_select_related = ("course", "module")
    fields = ("course", "module", "source", "redacted_text", "text_was_cut", "language", "submitted_at", "external_id",
              "split")
    readonly_fields = ("course", "source", "redacted_text", "text_was_cut", "submitted_at", "external_id")

    @admin.display(description="Text")
    def short_text(self, obj: Feedback) -> str:
        return obj.redacted_text[:120]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # feedback arrives through surveys, imports and the API (which redact it)


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("original_name", "course_code", "status", "rows_imported", "texts_cut", "created_at", "finished_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        codes = courses_for_user(request.user, MANAGE_ROLES).values_list("code", flat=True)
        return qs.filter(course_code__in=list(codes))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
