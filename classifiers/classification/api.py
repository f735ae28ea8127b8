"""REST API for predictions: model outputs of the course's feedback, each naming its version."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from rest_framework import viewsets

from classifiers.classification.serializers import PredictionSerializer
from classifiers.models import Label, ModelVersion, Prediction
from classifiers.selectors import schemas_for_course
from courses.models import Course
from courses.permissions import ANNOTATE_ROLES
from courses.scoping import CourseScopedViewSet
from courses.screening import shown_to_course_staff
from courses.selectors import feedback_for_course


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
        # Of comments staff may read, under the course's schemas (never the screening schema's scores).
        rows = shown_to_course_staff(Prediction.objects.filter(feedback__course=course), via="feedback")
        return rows.filter(schema__in=schemas_for_course(course)).order_by("-created_at", "-id")

    def filter_choices(self, course: Course) -> dict[str, QuerySet]:
        schemas = schemas_for_course(course)
        return {
            "schema": schemas, "label": Label.objects.filter(schema__in=schemas),
            "model_version": ModelVersion.objects.filter(Q(course=course) | Q(course__isnull=True,
                                                                               schema__in=schemas)),
            "feedback": feedback_for_course(course),
        }
