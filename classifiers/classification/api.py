"""REST API for predictions: model outputs of the course's feedback, each naming its version."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from rest_framework import viewsets

from classifiers.classification.serializers import PredictionSerializer
from classifiers.models import Prediction
from courses.models import Course
from courses.permissions import ANNOTATE_ROLES
from courses.scoping import CourseScopedViewSet


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
