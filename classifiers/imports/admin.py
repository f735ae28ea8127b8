"""Admin for import jobs, with the feedback upload page (which needs the label-aware import service)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from classifiers.imports.forms import ImportUploadForm
from classifiers.imports.services import create_import_job, import_feedback_file
from courses.admin import ImportJobAdmin
from courses.importers import ImportOptions
from courses.models import ImportJob
from courses.permissions import can_manage_course
from courses.selectors import course_by_code
from eduplatform.errors import DomainError
from eduplatform.workers import start_worker_hint, workers_consuming


def import_upload_view(request: HttpRequest) -> HttpResponse:
    """Small files import inside the request; large ones run as an import job on the worker."""
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["course_code"]
        course = course_by_code(code)
        allowed = request.user.is_superuser if course is None else can_manage_course(request.user, course)
        if not allowed:
            raise PermissionDenied("You cannot import into this course.")
        upload = form.cleaned_data["file"]
        data = upload.read()
        columns = form.column_options()
        job_options = {
            "columns": columns, "schema": form.cleaned_data["schema"],
            "create_labels": form.cleaned_data["create_labels"], "schema_kind": form.cleaned_data["schema_kind"],
        }
        if len(data) > settings.IMPORT_INLINE_MAX_BYTES:
            return _queue_import(request, code, upload.name, data, job_options)
        try:
            result = import_feedback_file(
                code, data, filename=upload.name, options=ImportOptions(**columns),
                schema_name=job_options["schema"], create_labels=job_options["create_labels"],
                schema_kind=job_options["schema_kind"], actor=request.user,
            )
        except DomainError as exc:
            messages.error(request, f"{upload.name}: {exc}. Nothing was imported.")
        else:
            messages.success(
                request,
                f"Imported {result.created} feedback items and {result.annotations} annotations into "
                f"{result.course.code} ({result.skipped_existing} already present were skipped).",
            )
            changelist = reverse("admin:courses_feedback_changelist")
            return HttpResponseRedirect(f"{changelist}?course__id__exact={result.course.pk}")
    context = {**admin.site.each_context(request), "form": form, "title": "Import feedback",
               "inline_limit_mb": settings.IMPORT_INLINE_MAX_BYTES / 1024 / 1024}
    return TemplateResponse(request, "admin/classifiers/import_upload.html", context)


def _queue_import(request: HttpRequest, code: str, name: str, data: bytes, options: dict) -> HttpResponse:
    job = create_import_job(code, filename=name, data=data, options=options, actor=request.user)
    if workers_consuming("default"):
        messages.info(request, f"{name} is large: it is importing on the worker. This page shows its progress.")
    else:
        messages.warning(
            request,
            f"{name} is queued as import job {job.pk}, but no worker is running, so it will not start until one "
            f"does ({start_worker_hint('default')}).",
        )
    return HttpResponseRedirect(reverse("admin:courses_importjob_change", args=[job.pk]))


admin.site.unregister(ImportJob)


@admin.register(ImportJob)
class ImportJobUploadAdmin(ImportJobAdmin):
    """Import jobs plus the upload page (which needs the label-aware import service)."""

    change_list_template = "admin/classifiers/importjob_changelist.html"

    def get_urls(self):  # noqa: ANN201 - Django's signature
        upload = path("upload/", self.admin_site.admin_view(import_upload_view), name="classifiers_import_upload")
        return [upload, *super().get_urls()]
