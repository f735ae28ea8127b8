"""REST API for label schemas, labels, annotations, predictions and report data (runs, versions: api_training).

Thin viewsets over classifiers' selectors and services, scoped to one course like courses.api.
"""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from courses.api import COURSE_CODE, CourseScopedMixin, CourseScopedViewSet
from courses.models import Course
from courses.permissions import ANNOTATE_ROLES, can_manage_institution

from .models import Annotation, AnnotationSource, Label, LabelSchema, Prediction
from .reports import module_report
from .selectors import schemas_for_course
from .serializers import (
    AnnotationInSerializer,
    AnnotationSerializer,
    LabelInSerializer,
    LabelSchemaInSerializer,
    LabelSchemaSerializer,
    LabelSerializer,
    ModuleReportSerializer,
    PredictionSerializer,
    ReportQuerySerializer,
)
from .services.annotations import record_annotation
from .services.schemas import add_labels, create_schema, delete_label, schema_for_course


def _refuse_institution_schema(request: Request, schema: LabelSchema) -> None:
    # Institution-wide schemas are shared by every course: a course role cannot change them.
    if schema.is_institution_wide and not can_manage_institution(request.user):
        raise PermissionDenied(f'schema "{schema.name}" is institution-wide; only an administrator can change it')


@extend_schema_view(create=extend_schema(request=LabelSchemaInSerializer, responses={201: LabelSchemaSerializer}))
class LabelSchemaViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """The course's own label schemas and the institution-wide ones, with their labels."""

    serializer_class = LabelSchemaSerializer
    queryset = LabelSchema.objects.all()

    def course_queryset(self, course: Course) -> QuerySet[LabelSchema]:
        return schemas_for_course(course).prefetch_related("labels")

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = LabelSchemaInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        schema = create_schema(course=self.course, **data.validated_data)
        return Response(LabelSchemaSerializer(schema).data, status=status.HTTP_201_CREATED)


class LabelFilter(django_filters.FilterSet):
    class Meta:
        model = Label
        fields = ["schema"]


@extend_schema_view(create=extend_schema(request=LabelInSerializer, responses={201: LabelSerializer}))
class LabelViewSet(
    mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet, CourseScopedViewSet
):
    """Labels of the course's schemas. A label in use cannot be deleted (rename it in the admin instead)."""

    serializer_class = LabelSerializer
    queryset = Label.objects.all()
    filterset_class = LabelFilter

    def course_queryset(self, course: Course) -> QuerySet[Label]:
        return Label.objects.filter(schema__in=schemas_for_course(course)).order_by("schema_id", "position")

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = LabelInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        _refuse_institution_schema(request, data.validated_data["schema"])
        (label,) = add_labels(data.validated_data["schema"], [data.validated_data["name"]])
        return Response(LabelSerializer(label).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Label) -> None:
        _refuse_institution_schema(self.request, instance.schema)
        delete_label(instance)


class AnnotationFilter(django_filters.FilterSet):
    annotator = django_filters.CharFilter(field_name="annotator__username")
    source = django_filters.ChoiceFilter(choices=AnnotationSource.choices)

    class Meta:
        model = Annotation
        fields = ["schema", "feedback", "is_current"]


@extend_schema_view(create=extend_schema(request=AnnotationInSerializer, responses={201: AnnotationSerializer}))
class AnnotationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """Annotations of the course's feedback, history included (`is_current=false`)."""

    serializer_class = AnnotationSerializer
    queryset = Annotation.objects.all()
    read_roles = ANNOTATE_ROLES
    write_roles = ANNOTATE_ROLES
    filterset_class = AnnotationFilter

    def course_queryset(self, course: Course) -> QuerySet[Annotation]:
        return (
            Annotation.objects.filter(feedback__course=course)
            .select_related("annotator")
            .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("position")))
            .order_by("-created_at", "-id")
        )

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = AnnotationInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        annotation = record_annotation(**data.validated_data, actor=request.user)
        return Response(AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)


class PredictionFilter(django_filters.FilterSet):
    min_confidence = django_filters.NumberFilter(field_name="confidence", lookup_expr="gte")
    max_confidence = django_filters.NumberFilter(field_name="confidence", lookup_expr="lte")

    class Meta:
        model = Prediction
        fields = ["schema", "model_version", "label", "feedback"]


class PredictionViewSet(viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """Model outputs for the course's feedback, each naming the version that made it."""

    serializer_class = PredictionSerializer
    queryset = Prediction.objects.all()
    read_roles = ANNOTATE_ROLES
    filterset_class = PredictionFilter

    def course_queryset(self, course: Course) -> QuerySet[Prediction]:
        return Prediction.objects.filter(feedback__course=course).order_by("-created_at", "-id")


class ModuleReportView(CourseScopedMixin, generics.GenericAPIView):
    """The numbers behind each chart of the per-module report, with the same privacy rules as the page."""

    queryset = LabelSchema.objects.all()
    serializer_class = ModuleReportSerializer
    pagination_class = None
    filter_backends: list = []

    def course_queryset(self, course: Course) -> QuerySet[LabelSchema]:
        return schemas_for_course(course)

    @extend_schema(parameters=[COURSE_CODE, ReportQuerySerializer], responses=ModuleReportSerializer)
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        schema = schema_for_course(self.course, query.validated_data["schema"])
        if schema is None:
            raise NotFound(f'Course {self.course.code} has no label schema "{query.validated_data["schema"]}".')
        report = module_report(
            self.course, schema, since=query.validated_data.get("since"), until=query.validated_data.get("until")
        )
        return Response(ModuleReportSerializer(report).data)
