"""Input and output serializers of the classifiers API: they validate and shape, services do the work."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from courses.models import Course, Feedback

from .models import Annotation, Label, LabelSchema, ModelVersion, Prediction, SchemaKind, TrainingRun
from .selectors import schemas_for_course


class CourseSchemaInput(serializers.Serializer):
    """An input whose `schema` may only be one of the course's schemas (or an institution-wide one)."""

    schema = serializers.PrimaryKeyRelatedField(queryset=LabelSchema.objects.none(), help_text="Label schema id.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        course: Course | None = self.context.get("course")
        if course is not None:
            self.fields["schema"].queryset = schemas_for_course(course)


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "schema", "name", "position", "color", "description"]
        read_only_fields = ["position", "color", "description"]


class LabelInSerializer(CourseSchemaInput):
    name = serializers.CharField(max_length=64)

    def validate(self, attrs: dict) -> dict:
        if attrs["schema"].labels.filter(name=attrs["name"]).exists():
            raise serializers.ValidationError({"name": f'schema "{attrs["schema"].name}" already has this label'})
        return attrs


class SchemaLabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name", "position", "color", "description"]


class LabelSchemaSerializer(serializers.ModelSerializer):
    labels = SchemaLabelSerializer(many=True, read_only=True)
    institution_wide = serializers.BooleanField(source="is_institution_wide", read_only=True)

    class Meta:
        model = LabelSchema
        fields = ["id", "name", "kind", "description", "training_policy", "institution_wide", "labels", "created_at"]


class LabelSchemaInSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64)
    kind = serializers.ChoiceField(choices=SchemaKind.choices, default=SchemaKind.SINGLE)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    labels = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=100, required=False, default=list,
        help_text="Label names in order (the scale order for ordinal schemas).",
    )

    def validate_name(self, name: str) -> str:
        if LabelSchema.objects.filter(course=self.context["course"], name=name).exists():
            raise serializers.ValidationError(f'the course already has a schema "{name}"')
        return name

    def validate_labels(self, labels: list[str]) -> list[str]:
        repeated = sorted({n for n in labels if labels.count(n) > 1})
        if repeated:
            raise serializers.ValidationError(f"label names repeat: {', '.join(repeated)}")
        return labels


class AnnotationSerializer(serializers.ModelSerializer):
    labels = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    label_ids = serializers.PrimaryKeyRelatedField(source="labels", many=True, read_only=True)
    annotator = serializers.SlugRelatedField(read_only=True, slug_field="username")

    class Meta:
        model = Annotation
        fields = [
            "id", "feedback", "schema", "labels", "label_ids", "annotator", "source", "is_current",
            "suggested_by", "created_at",
        ]


class AnnotationInSerializer(serializers.Serializer):
    feedback = serializers.PrimaryKeyRelatedField(queryset=Feedback.objects.none())
    schema = serializers.PrimaryKeyRelatedField(queryset=LabelSchema.objects.none())
    labels = serializers.PrimaryKeyRelatedField(
        queryset=Label.objects.none(), many=True, help_text="Label ids of the schema (one unless multi-label)."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        course: Course | None = self.context.get("course")
        if course is not None:
            schemas = schemas_for_course(course)
            self.fields["feedback"].queryset = course.feedback.all()
            self.fields["schema"].queryset = schemas
            self.fields["labels"].child_relation.queryset = Label.objects.filter(schema__in=schemas)


class TrainingRunSerializer(serializers.ModelSerializer):
    model_version = serializers.SerializerMethodField(help_text="The version this run produced, once it succeeded.")

    class Meta:
        model = TrainingRun
        fields = [
            "id", "schema", "status", "progress", "error", "cancel_requested", "config", "metrics",
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
    class Meta:
        model = ModelVersion
        fields = [
            "id", "schema", "number", "training_run", "base_model", "label_names", "max_length", "metrics",
            "beats_baseline", "use_int8", "is_active", "activated_at", "created_at",
        ]


class PredictionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = [
            "id", "feedback", "schema", "model_version", "label", "label_names", "scores", "confidence",
            "truncated", "created_at",
        ]


# --- Report data (the numbers behind each chart; privacy is applied by the selector) ----------------


class ReportQuerySerializer(serializers.Serializer):
    schema = serializers.SlugField(default="sentiment", help_text="Label schema name.")
    since = serializers.DateField(required=False, help_text="First day (weeks filter by their Monday).")
    until = serializers.DateField(required=False, help_text="Last day.")


class LabelShareSerializer(serializers.Serializer):
    label = serializers.CharField()
    count = serializers.IntegerField()
    share = serializers.FloatField()
    course_share = serializers.FloatField(allow_null=True)
    diff_points = serializers.FloatField(allow_null=True)


class WeekCellSerializer(serializers.Serializer):
    week = serializers.DateField()
    shown = serializers.BooleanField()
    labelled = serializers.IntegerField(allow_null=True, help_text="Null when hidden (a small group).")
    shares = serializers.DictField(child=serializers.FloatField())
    counts = serializers.DictField(child=serializers.IntegerField())


class ReportCommentSerializer(serializers.Serializer):
    label = serializers.CharField()
    text = serializers.CharField(help_text="Redacted; never with author, time or id.")
    confidence = serializers.FloatField()
    human = serializers.BooleanField()


class ModuleRowSerializer(serializers.Serializer):
    module_id = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    min_group_size = serializers.IntegerField()
    shown = serializers.BooleanField()
    note = serializers.CharField(
        allow_blank=True, help_text='Why the breakdown is hidden, e.g. "fewer than 5 responses".'
    )
    responses = serializers.IntegerField(allow_null=True)
    labelled = serializers.IntegerField(allow_null=True)
    distribution = LabelShareSerializer(many=True)
    trend = WeekCellSerializer(many=True)
    comments = serializers.DictField(child=ReportCommentSerializer(many=True))
    respondents = serializers.IntegerField(allow_null=True)
    response_rate = serializers.FloatField(allow_null=True)


class VersionInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    number = serializers.IntegerField()
    trained_at = serializers.DateTimeField(allow_null=True)
    f1_macro = serializers.FloatField(allow_null=True)
    baseline_f1_macro = serializers.FloatField(allow_null=True)
    beats_baseline = serializers.BooleanField()
    used = serializers.BooleanField()
    override_by = serializers.CharField(allow_null=True)
    override_reason = serializers.CharField(allow_null=True)
    override_at = serializers.DateTimeField(allow_null=True)


class AlertInfoSerializer(serializers.Serializer):
    module = serializers.CharField()
    week = serializers.DateField()
    share = serializers.FloatField()
    previous_share = serializers.FloatField()
    count = serializers.IntegerField()


class ReportLabelSerializer(serializers.Serializer):
    """A (name, colour) pair of the selector, as an object."""

    name = serializers.CharField()
    color = serializers.CharField()

    def to_representation(self, instance: tuple[str, str]) -> dict:
        name, color = instance
        return {"name": name, "color": color}


class ModuleReportSerializer(serializers.Serializer):
    course_code = serializers.CharField()
    course_title = serializers.CharField()
    schema = serializers.CharField()
    labels = ReportLabelSerializer(many=True)
    min_group_size = serializers.IntegerField()
    since = serializers.DateField(allow_null=True)
    until = serializers.DateField(allow_null=True)
    weeks = serializers.ListField(child=serializers.DateField())
    version = VersionInfoSerializer(allow_null=True)
    total_responses = serializers.IntegerField()
    labelled_by_humans = serializers.IntegerField()
    modules = ModuleRowSerializer(many=True)
    course_average = LabelShareSerializer(many=True)
    course_trend = WeekCellSerializer(many=True)
    alerts = AlertInfoSerializer(many=True)
    built_at = serializers.DateTimeField(allow_null=True)
