"""Input and output serializers of the label schema, label and annotation API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from classifiers.models import Annotation, Label, LabelSchema, RareLabels, SchemaKind
from classifiers.selectors import schemas_for_course
from courses.models import Course, Feedback
from courses.selectors import feedback_for_course


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
        fields = ["id", "name", "kind", "description", "training_policy", "rare_labels", "institution_wide", "labels",
                  "created_at"]


class LabelSchemaInSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64)
    kind = serializers.ChoiceField(choices=SchemaKind.choices, default=SchemaKind.SINGLE)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    rare_labels = serializers.ChoiceField(
        choices=RareLabels.choices, default=RareLabels.LEAVE_OUT,
        help_text="Labels with too few annotated examples when a model is trained: `leave_out` trains on the "
                  "others (the model never predicts them, and says so), `refuse` refuses to train.",
    )
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
            self.fields["feedback"].queryset = feedback_for_course(course)  # held comments are not labelled here
            self.fields["schema"].queryset = schemas
            self.fields["labels"].child_relation.queryset = Label.objects.filter(schema__in=schemas)
