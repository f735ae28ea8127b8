"""REST API for courses, modules, surveys and feedback: thin viewsets over selectors and services.

Every resource lives under `/api/courses/{course_code}/`: the course is looked up *inside* the
user's courses (an outsider gets 404 and learns nothing), and every queryset is filtered to it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from .importers import TextTooLong
from .models import Course, Feedback, FeedbackSource, Module, Survey
from .permissions import ANNOTATE_ROLES, courses_for_user
from .scoping import CourseScopedViewSet
from .selectors import feedback_for_course
from .serializers import (
    BulkFeedbackInSerializer,
    BulkFeedbackOutSerializer,
    CourseSerializer,
    FeedbackChangeSerializer,
    FeedbackInSerializer,
    FeedbackSerializer,
    ModuleSerializer,
    SurveySerializer,
)
from .services import FeedbackRejected, create_module, delete_feedback, ingest_feedback, update_feedback

# How an API client chooses to cut long texts: said in the refusal of a long text.
BULK_HOW_TO_CUT = 'Send "long_texts": "cut" with the items'
SINGLE_HOW_TO_CUT = 'Send it to feedback/bulk/ with "long_texts": "cut"'


def _text_too_long(exc: TextTooLong, how_to_cut: str, *, index: int | None) -> FeedbackRejected:
    return FeedbackRejected(f"{exc}. Nothing was stored. {exc.advice(how_to_cut)}", field="text", index=index)


@extend_schema_view(retrieve=extend_schema(operation_id="courses_retrieve", tags=["courses"]))
class CourseViewSet(viewsets.ReadOnlyModelViewSet):
    """The courses where you hold a role (every course for a superuser)."""

    serializer_class = CourseSerializer
    permission_classes = [IsAuthenticated]
    lookup_field = "code"
    lookup_url_kwarg = "course_code"  # the same name as in every nested path
    lookup_value_regex = r"[-\w]+"
    queryset = Course.objects.none()
    filter_backends = [filters.SearchFilter, filters.OrderingFilter]
    search_fields = ["code", "title", "term"]
    ordering_fields = ["code", "title", "created_at"]

    def get_queryset(self) -> QuerySet[Course]:
        return courses_for_user(self.request.user).order_by("code")


class ModuleViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    serializer_class = ModuleSerializer
    queryset = Module.objects.all()

    def course_queryset(self, course: Course) -> QuerySet[Module]:
        return Module.objects.filter(course=course).order_by("position", "title")

    def perform_create(self, serializer: ModuleSerializer) -> None:
        serializer.instance = create_module(self.course, **serializer.validated_data)


class SurveyFilter(django_filters.FilterSet):
    class Meta:
        model = Survey
        fields = ["module", "is_anonymous"]


class SurveyViewSet(viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    serializer_class = SurveySerializer
    queryset = Survey.objects.all()
    filterset_class = SurveyFilter

    def course_queryset(self, course: Course) -> QuerySet[Survey]:
        return Survey.objects.filter(course=course).prefetch_related("questions")

    def filter_choices(self, course: Course) -> dict[str, QuerySet]:
        return {"module": Module.objects.filter(course=course)}


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 allows UTC offsets that PostgreSQL refuses (beyond ±15:59): compare in UTC instead."""

    def to_python(self, value: object) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("the date is out of range") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class FeedbackFilter(django_filters.FilterSet):
    submitted_after = UtcIsoDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = UtcIsoDateTimeFilter(field_name="submitted_at", lookup_expr="lt")
    source = django_filters.ChoiceFilter(choices=FeedbackSource.choices)

    class Meta:
        model = Feedback
        fields = ["module", "source", "split", "language", "external_id"]


@extend_schema_view(
    create=extend_schema(request=FeedbackInSerializer, responses={201: FeedbackSerializer}),
    partial_update=extend_schema(request=FeedbackChangeSerializer, responses={200: FeedbackSerializer}),
    bulk=extend_schema(request=BulkFeedbackInSerializer, responses={201: BulkFeedbackOutSerializer}),
)
class FeedbackViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """Student comments of the course (redacted text only). Writes need an instructor or TA role."""

    serializer_class = FeedbackSerializer
    queryset = Feedback.objects.all()
    read_roles = ANNOTATE_ROLES
    filterset_class = FeedbackFilter
    filter_backends = [*CourseScopedViewSet.filter_backends, filters.SearchFilter, filters.OrderingFilter]
    search_fields = ["redacted_text"]
    ordering_fields = ["submitted_at", "id"]
    throttle_scope = "feedback"

    def course_queryset(self, course: Course) -> QuerySet[Feedback]:
        return feedback_for_course(course)

    def filter_choices(self, course: Course) -> dict[str, QuerySet]:
        return {"module": Module.objects.filter(course=course)}

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if context["course"] is not None and self.request.method in ("POST", "PATCH"):
            context["modules"] = {m.pk: m for m in Module.objects.filter(course=context["course"])}
        return context

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = FeedbackInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        try:
            (feedback,) = ingest_feedback(self.course, [data.to_new_feedback()])
        except TextTooLong as exc:
            raise _text_too_long(exc, SINGLE_HOW_TO_CUT, index=None) from None
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Move an item to another module of the course, or set its language or split."""
        feedback = self.get_object()
        data = FeedbackChangeSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        update_feedback(feedback, actor=request.user, **data.validated_data)
        return Response(FeedbackSerializer(feedback).data)

    def destroy(self, request: Request, *args: object, **kwargs: object) -> Response:
        delete_feedback([self.get_object()], actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=False, methods=["post"])
    def bulk(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Store up to 1,000 items in one transaction; any bad item rejects all, reported by index.
        A text over FEEDBACK_MAX_CHARS rejects the request too, unless `long_texts` is "cut"."""
        data = BulkFeedbackInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        long_texts = data.validated_data["long_texts"]
        try:
            created = ingest_feedback(self.course, data.validated_data["items"], long_texts=long_texts)
        except TextTooLong as exc:
            raise _text_too_long(exc, BULK_HOW_TO_CUT, index=exc.index) from None
        cut = [index for index, feedback in enumerate(created) if feedback.text_was_cut]
        body = {"accepted": len(created), "ids": [f.pk for f in created], "long_texts": long_texts,
                "texts_cut": len(cut), "cut_items": cut}
        return Response(BulkFeedbackOutSerializer(body).data, status=status.HTTP_201_CREATED)
