"""Input and output serializers of the training-run and model-version API."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from classifiers.labelling.serializers import CourseSchemaInput
from classifiers.models import ModelVersion, TrainingRun


class TrainingRunSerializer(serializers.ModelSerializer):
    model_version = serializers.SerializerMethodField(help_text="The version this run produced, once it succeeded.")
    warnings = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="Labels the run leaves out for having too few examples (its version never predicts them).",
    )

    class Meta:
        model = TrainingRun
        fields = [
            "id", "schema", "status", "progress", "error", "warnings", "cancel_requested", "config", "metrics",
            "data_summary", "model_version", "created_at", "started_at", "heartbeat_at", "finished_at",
        ]

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_model_version(self, run: TrainingRun) -> int | None:
        version = getattr(run, "model_version", None)  # reverse one-to-one: absent until the run succeeds
        return version.pk if version is not None else None


class TrainingRunInSerializer(CourseSchemaInput):
    """Start training: the schema to train and, optionally, overrides of the recipe."""

    institution = serializers.BooleanField(
        default=False, help_text="Train an institution-wide schema over every course sharing it (administrators)."
    )
    config = serializers.DictField(
        required=False, default=dict,
        help_text='Overrides of the training recipe, e.g. {"epochs": 3, "learning_rate": 5e-5}; unknown '
                  "options are refused. `base_model` must be one the server allows (API_TRAINING_BASE_MODELS).",
    )

    def validate_config(self, config: dict) -> dict:
        # The recipe validates every option (in the service); this only keeps worker paths off the API.
        if "base_model" in config and config["base_model"] not in settings.API_TRAINING_BASE_MODELS:
            raise serializers.ValidationError(
                f"base_model {config['base_model']!r} is not allowed here; leave it out for the server's default "
                "or ask an administrator to add it to API_TRAINING_BASE_MODELS"
            )
        return config


class ActivateVersionInSerializer(serializers.Serializer):
    override = serializers.BooleanField(
        default=False, help_text="Activate even though the version does not beat the majority-class baseline."
    )


class RollbackInSerializer(CourseSchemaInput):
    """The scope to roll back: the schema, in this course."""


class ModelVersionSerializer(serializers.ModelSerializer):
    not_learned = serializers.DictField(
        child=serializers.IntegerField(), read_only=True,
        help_text="Labels left out of its training for having too few examples (name → examples); it never "
                  "predicts them. `label_names` are the labels it can predict.",
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id", "schema", "number", "training_run", "base_model", "label_names", "not_learned", "max_length",
            "metrics",
            "beats_baseline", "use_int8", "is_active", "activated_at", "created_at",
        ]
