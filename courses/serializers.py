"""Input and output serializers of the courses API: they validate and shape, services do the work."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .importers import LongTexts
from .models import Course, DatasetSplit, Feedback, Module, Question, Survey
from .services import MODULE_POSITION_MAX, NewFeedback

BULK_MAX_ITEMS = 1000  # one request stays well under a second and a few MB


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["code", "title", "term", "min_group_size", "created_at"]


class ModuleSerializer(serializers.ModelSerializer):
    position = serializers.IntegerField(required=False, min_value=0, max_value=MODULE_POSITION_MAX)

    class Meta:
        model = Module
        fields = ["id", "title", "position"]


class QuestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Question
        fields = ["id", "position", "kind", "prompt", "required", "max_length"]


class SurveySerializer(serializers.ModelSerializer):
    questions = QuestionSerializer(many=True, read_only=True)

    class Meta:
        model = Survey
        fields = [
            "id", "title", "intro", "module", "opens_at", "closes_at", "is_anonymous", "allow_edit",
            "min_group_size", "questions", "created_at",
        ]


class FeedbackSerializer(serializers.ModelSerializer):
    """Output: staff and integrators only ever see the redacted text."""

    text = serializers.CharField(source="redacted_text", read_only=True)

    class Meta:
        model = Feedback
        fields = ["id", "module", "source", "text", "language", "submitted_at", "external_id", "split", "created_at"]


class CourseModuleField(serializers.IntegerField):
    """A module id of the request's course, resolved from one query per request (not per item)."""

    def to_internal_value(self, data: Any) -> Module:
        pk = super().to_internal_value(data)
        module = self.context["modules"].get(pk)
        if module is None:
            raise serializers.ValidationError(f"module {pk} is not a module of this course")
        return module


class FeedbackItemsSerializer(serializers.ListSerializer):
    """Errors keyed by item index ({"3": {"text": [...]}}): DRF's default list of one entry per item,
    empty for good ones, is unreadable at 1,000 items."""

    def to_internal_value(self, data: Any) -> list[NewFeedback]:
        if not isinstance(data, list):
            raise serializers.ValidationError(f"expected a list of items, got {type(data).__name__}")
        if not data:
            raise serializers.ValidationError("send at least one item")
        if len(data) > BULK_MAX_ITEMS:
            raise serializers.ValidationError(f"{len(data)} items sent; at most {BULK_MAX_ITEMS} per request")
        errors: dict[str, Any] = {}
        result: list[NewFeedback] = []
        for index, item in enumerate(data):
            try:
                result.append(NewFeedback(**self.child.run_validation(item)))
            except serializers.ValidationError as exc:
                errors[str(index)] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        return result


class FeedbackInSerializer(serializers.Serializer):
    # No max_length here: the limit (FEEDBACK_MAX_CHARS) and what to do above it are the ingest service's rule.
    text = serializers.CharField(
        help_text="Raw text, at most FEEDBACK_MAX_CHARS characters (10,000 unless configured); "
                  "PII is redacted at ingest."
    )
    module = CourseModuleField(required=False, allow_null=True, help_text="Id of a module of the course.")
    submitted_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Defaults to now.")
    external_id = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True,
        help_text="Your id for the item; unique per course, so a retried request cannot store it twice.",
    )
    language = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")

    def to_new_feedback(self) -> NewFeedback:
        return NewFeedback(**self.validated_data)

    class Meta:
        list_serializer_class = FeedbackItemsSerializer


class FeedbackChangeSerializer(serializers.Serializer):
    """What may change on a stored item (PATCH): never its text or course."""

    module = CourseModuleField(required=False, allow_null=True, help_text="Id of a module of the course.")
    language = serializers.CharField(max_length=16, required=False, allow_blank=True)
    split = serializers.ChoiceField(choices=DatasetSplit.choices, required=False, allow_blank=True)


class BulkFeedbackInSerializer(serializers.Serializer):
    """All-or-nothing: one bad item rejects the request, and every bad item is reported by index."""

    items = FeedbackInSerializer(many=True, min_length=1, max_length=BULK_MAX_ITEMS)
    long_texts = serializers.ChoiceField(
        choices=[(c.value, c.value) for c in LongTexts], default=LongTexts.REFUSE.value,
        help_text='A text over FEEDBACK_MAX_CHARS: "refuse" rejects the request (nothing is stored); "cut" cuts it '
                  "at the limit (at a word boundary, never inside an e-mail or phone number, before redaction) "
                  "and marks the item.",
        error_messages={"invalid_choice": '"{input}" is not a choice: send "refuse" or "cut".'},
    )


class BulkFeedbackOutSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())
    long_texts = serializers.CharField(help_text="The request's choice for texts over the limit.")
    texts_cut = serializers.IntegerField(help_text="How many texts were cut at the limit.")
    cut_items = serializers.ListField(
        child=serializers.IntegerField(), help_text="Indexes (in `items`) of the texts that were cut."
    )
