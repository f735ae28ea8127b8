"""Screening API shapes: held comments in the queue, a screener's decision, the administrators' report."""

from __future__ import annotations

from dataclasses import asdict

from rest_framework import serializers

from classifiers.ml.screening import REASONS
from classifiers.screening.models import Decision
from classifiers.screening.services import NOTE_MAX


class QueueItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField(help_text="The redacted text: shown to screeners only.")
    course = serializers.CharField()
    course_title = serializers.CharField()
    module = serializers.CharField(allow_null=True)
    date = serializers.DateField(help_text="The day it arrived.")
    source = serializers.CharField()
    verdict = serializers.ChoiceField(choices=["held", "urgent"])
    reasons = serializers.ListField(child=serializers.CharField())
    score = serializers.FloatField(allow_null=True)
    screen = serializers.CharField()


class QueueSerializer(serializers.Serializer):
    waiting = serializers.IntegerField(help_text="Held comments in your queue.")
    items = QueueItemSerializer(many=True)


class QueueQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class DecisionInSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=Decision.choices)
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=REASONS), default=list,
                                    help_text="Why (needed to remove or redact); they become training labels.")
    note = serializers.CharField(max_length=NOTE_MAX, allow_blank=True, default="")
    span = serializers.ListField(child=serializers.IntegerField(min_value=0), min_length=2, max_length=2,
                                 required=False, allow_null=True,
                                 help_text="release_redacted: [start, end) character offsets in the text to redact.")


class DecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    feedback = serializers.IntegerField(source="feedback_id")
    course = serializers.CharField(source="course_code")
    action = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField()
    span_start = serializers.IntegerField(allow_null=True)
    span_end = serializers.IntegerField(allow_null=True)
    verdict = serializers.CharField()
    screen = serializers.CharField()
    actor = serializers.CharField(source="actor.username")
    decided_at = serializers.DateTimeField()


class ReportQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)


class ScreeningReportSerializer(serializers.Serializer):
    """The report's dataclass as JSON (hidden cells carry a note and no numbers)."""

    def to_representation(self, instance: object) -> dict:
        data = asdict(instance)
        for key in ("since", "until"):
            data[key] = data[key].isoformat() if data[key] else None
        return data
