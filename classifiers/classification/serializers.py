"""Output serializer of the predictions API."""

from __future__ import annotations

from rest_framework import serializers

from classifiers.models import Prediction


class PredictionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = [
            "id", "feedback", "schema", "model_version", "label", "label_names", "scores", "confidence",
            "truncated", "created_at",
        ]
