"""REST API for label schemas, labels and annotations, scoped to one course like courses.api."""

from __future__ import annotations

from functools import cached_property

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classifiers.labelling.schemas import add_labels, create_schema, delete_label
from classifiers.labelling.serializers import (
    AnnotationInSerializer,
    AnnotationSerializer,
    LabelInSerializer,
    LabelSchemaInSerializer,
    LabelSchemaSerializer,
    LabelSerializer,
)
from classifiers.labelling.services import record_annotation
from classifiers.models import Annotation, AnnotationSource, Label, LabelSchema
from classifiers.selectors import schemas_for_course
from courses.models import Course
from courses.permissions import ANNOTATE_ROLES, can_manage_institution
from courses.scoping import CourseScopedViewSet
from courses.screening import shown_to_course_staff
from courses.selectors import feedback_for_course


class SchemaEditsByService(BasePermission):
    """Reads need the course (looked up inside the user's courses); whether a write is allowed is the
    schema services' decision (`authorize`), so the API answers exactly as the admin and the commands."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated) and view.course is not None


class AdministratorsReachEveryCourse:
    """Administrators change institution-wide schemas without holding a course role, so they reach any
    course's schema and label endpoints; what they may change there the services decide."""

    permission_classes = [SchemaEditsByService]

    @cached_property
    def course(self) -> Course:
        if can_manage_institution(self.request.user):
            course = Course.objects.filter(code=self.kwargs.get("course_code", "")).first()
            if course is None:
                raise NotFound("No such course.")
            return course
        return super().course


@extend_schema_view(create=extend_schema(request=LabelSchemaInSerializer, responses={201: LabelSchemaSerializer}))
class LabelSchemaViewSet(
    AdministratorsReachEveryCourse, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet, CourseScopedViewSet
):
    """The course's own label schemas and the institution-wide ones, with their labels."""

    serializer_class = LabelSchemaSerializer
    queryset = LabelSchema.objects.all()

    def course_queryset(self, course: Course) -> QuerySet[LabelSchema]:
        return schemas_for_course(course).prefetch_related("labels")

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = LabelSchemaInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        schema = create_schema(course=self.course, **data.validated_data, actor=request.user)
        return Response(LabelSchemaSerializer(schema).data, status=status.HTTP_201_CREATED)


class LabelFilter(django_filters.FilterSet):
    class Meta:
        model = Label
        fields = ["schema"]


@extend_schema_view(create=extend_schema(request=LabelInSerializer, responses={201: LabelSerializer}))
class LabelViewSet(
    AdministratorsReachEveryCourse, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet,
    CourseScopedViewSet,
):
    """Labels of the course's schemas. A label in use cannot be deleted (rename it in the admin instead)."""

    serializer_class = LabelSerializer
    queryset = Label.objects.all()
    filterset_class = LabelFilter

    def course_queryset(self, course: Course) -> QuerySet[Label]:
        return Label.objects.filter(schema__in=schemas_for_course(course)).order_by("schema_id", "position")

    def filter_choices(self, course: Course) -> dict[str, QuerySet]:
        return {"schema": schemas_for_course(course)}

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = LabelInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        (label,) = add_labels(data.validated_data["schema"], [data.validated_data["name"]], actor=request.user)
        return Response(LabelSerializer(label).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Label) -> None:
        delete_label(instance, actor=self.request.user)


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

    def filter_choices(self, course: Course) -> dict[str, QuerySet]:
        return {"schema": schemas_for_course(course), "feedback": feedback_for_course(course)}

    def course_queryset(self, course: Course) -> QuerySet[Annotation]:
        # Of comments staff may read, under the course's schemas (never the screening schema).
        return (
            shown_to_course_staff(Annotation.objects.filter(feedback__course=course), via="feedback")
            .filter(schema__in=schemas_for_course(course))
            .select_related("annotator")
            .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("position")))
            .order_by("-created_at", "-id")
        )

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = AnnotationInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        annotation = record_annotation(**data.validated_data, actor=request.user)
        return Response(AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)
