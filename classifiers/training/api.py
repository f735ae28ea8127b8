"""REST API for training runs (start, progress, cancel) and model versions (activate, roll back, export).

Thin callers of classifiers.training.services and .versions, the same services the admin actions and
`manage.py train` / `export_model` use. The services decide who may do what: their PermissionRefused is a
403 with the reason, other refusals are 400 JSON, a broker outage is 503. Another course is a 404 here.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from classifiers.models import ModelVersion, TrainingRun
from classifiers.selectors import schemas_for_course
from classifiers.training.serializers import (
    ActivateVersionInSerializer,
    ModelVersionSerializer,
    RollbackInSerializer,
    TrainingRunInSerializer,
    TrainingRunSerializer,
)
from classifiers.training.services import cancel_training_run, start_training_run
from classifiers.training.versions import activate_model_version, export_model_archive, rollback_model_version
from courses.models import Course
from courses.permissions import VIEW_ROLES, can_manage_institution
from courses.scoping import CourseScopedViewSet


class TrainingRunFilter(django_filters.FilterSet):
    class Meta:
        model = TrainingRun
        fields = ["schema", "status"]


@extend_schema_view(
    create=extend_schema(request=TrainingRunInSerializer, responses={201: TrainingRunSerializer}),
    cancel=extend_schema(request=None, responses={202: TrainingRunSerializer}),
)
class TrainingRunViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """Training runs of the course, with live progress (step, loss, eta) while running.

    Creating one starts training (queued for a worker); starting and cancelling need an instructor or TA,
    institution-wide training an administrator.
    """

    serializer_class = TrainingRunSerializer
    queryset = TrainingRun.objects.all()
    filterset_class = TrainingRunFilter
    write_roles = VIEW_ROLES  # who may start or cancel is the services' rule (403 with their reason)

    def course_queryset(self, course: Course) -> QuerySet[TrainingRun]:
        scope = Q(course=course)
        if can_manage_institution(self.request.user):
            # Administrators start institution-wide runs from a course's URL; they must see them there too.
            scope |= Q(course__isnull=True, schema__in=schemas_for_course(course))
        return TrainingRun.objects.filter(scope).select_related("model_version")

    def filter_choices(self, course: Course) -> dict[str, QuerySet]:
        return {"schema": schemas_for_course(course)}

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = TrainingRunInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        run = start_training_run(
            data.validated_data["schema"], course=None if data.validated_data["institution"] else self.course,
            config=data.validated_data["config"], actor=request.user,
        )
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args: object, **kwargs: object) -> Response:
        """A queued run is cancelled at once; a running one stops at its next step (hence 202)."""
        run = cancel_training_run(self.get_object(), actor=request.user)
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ModelVersionFilter(django_filters.FilterSet):
    class Meta:
        model = ModelVersion
        fields = ["schema", "is_active"]


@extend_schema_view(
    activate=extend_schema(request=ActivateVersionInSerializer, responses={200: ModelVersionSerializer}),
    rollback=extend_schema(request=RollbackInSerializer, responses={200: ModelVersionSerializer}),
    export=extend_schema(responses={
        (200, "application/zip"): OpenApiResponse(
            OpenApiTypes.BINARY, description="The Hugging Face directory and the ONNX files, as a zip."
        ),
    }),
)
class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """The course's trained model versions with their evaluation reports."""

    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.all()
    filterset_class = ModelVersionFilter
    write_roles = VIEW_ROLES  # who may activate, roll back or export is the services' rule (403 with their reason)

    def course_queryset(self, course: Course) -> QuerySet[ModelVersion]:
        return ModelVersion.objects.filter(course=course).select_related("schema", "course")

    def filter_choices(self, course: Course) -> dict[str, QuerySet]:
        return {"schema": schemas_for_course(course)}

    @action(detail=True, methods=["post"])
    def activate(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Serve this version; one that does not beat the baseline needs `"override": true`."""
        version = self.get_object()  # first: another course's id is a 404 whatever the body says
        data = ActivateVersionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = activate_model_version(version, actor=request.user, **data.validated_data)
        return Response(ModelVersionSerializer(version).data)

    @action(detail=False, methods=["post"])
    def rollback(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Re-activate the schema's previous served version in this course; returns the now active one."""
        data = RollbackInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        version = rollback_model_version(data.validated_data["schema"], course=self.course, actor=request.user)
        return Response(ModelVersionSerializer(version).data)

    # Weights trained on student comments can leak them: the export service lets managers only download.
    @action(detail=True, methods=["get"])
    def export(self, request: Request, *args: object, **kwargs: object) -> StreamingHttpResponse:
        """Download the version (loadable with `transformers.pipeline`, plus `model.onnx`) as a zip."""
        filename, chunks = export_model_archive(self.get_object(), actor=request.user)
        response = StreamingHttpResponse(chunks, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple:
        # The zip bypasses the renderers; a client asking for `Accept: application/zip` must not get a 406,
        # and errors on that path are still rendered as JSON.
        return super().perform_content_negotiation(request, force=force or self.action == "export")
