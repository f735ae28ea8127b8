"""Admin for import jobs, with the feedback upload page (which needs the label-aware import service)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from classifiers.imports.forms import ImportUploadForm
from classifiers.imports.services import UPLOAD_HOW_TO_CUT, upload_feedback
from classifiers.imports.uploads import CappedUploadHandler
from courses.admin import ImportJobAdmin
from courses.importers import TextTooLong
from courses.models import ImportJob
from eduplatform.errors import DomainError, PermissionRefused
from eduplatform.workers import start_worker_hint, workers_consuming


@csrf_exempt  # only so the upload handlers can be set before the body is read: _upload checks CSRF itself
def import_upload_view(request: HttpRequest) -> HttpResponse:
    """Upload a feedback file; the import service decides who may and whether it runs here or as a job."""
    cap = CappedUploadHandler(request)
    request.upload_handlers = [cap, *request.upload_handlers]
    return _upload(request, cap)


@csrf_protect
def _upload(request: HttpRequest, cap: CappedUploadHandler) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if cap.refused is not None:
        messages.error(request, f"{cap.refused}. Nothing was imported.")
        form = ImportUploadForm()
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            outcome = upload_feedback(
                form.cleaned_data["course_code"], upload.chunks(), filename=upload.name,
                columns=form.column_options(), schema_name=form.cleaned_data["schema"],
                create_labels=form.cleaned_data["create_labels"], schema_kind=form.cleaned_data["schema_kind"],
                long_texts=form.cleaned_data["long_texts"], actor=request.user,
            )
        except PermissionRefused as exc:
            raise PermissionDenied(str(exc)) from None
        except TextTooLong as exc:
            messages.error(request, f"{upload.name}: {exc}. Nothing was imported. {exc.advice(UPLOAD_HOW_TO_CUT)}")
        except DomainError as exc:
            messages.error(request, f"{upload.name}: {exc}. Nothing was imported.")
        else:
            if isinstance(outcome, ImportJob):
                return _queued(request, upload.name, outcome)
            messages.success(request, outcome.summary())
            changelist = reverse("admin:courses_feedback_changelist")
            return HttpResponseRedirect(f"{changelist}?course__id__exact={outcome.course.pk}")
    context = {**admin.site.each_context(request), "form": form, "title": "Import feedback",
               "inline_limit_mb": settings.IMPORT_INLINE_MAX_BYTES / 1024 / 1024}
    return TemplateResponse(request, "admin/classifiers/import_upload.html", context)


def _queued(request: HttpRequest, name: str, job: ImportJob) -> HttpResponse:
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
