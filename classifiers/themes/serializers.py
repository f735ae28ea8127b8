"""Output serializers of the themes API (numbers per module are in the report API, privacy applied)."""

from __future__ import annotations

from rest_framework import serializers

from classifiers.themes.history import describe_edit
from classifiers.themes.models import Theme, ThemeEdit, ThemeRun


class ThemeSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True, help_text="The staff-given name, else the keyword name.")

    class Meta:
        model = Theme
        fields = ["id", "display_name", "name", "name_by_staff", "keywords", "status", "hidden", "merged_into",
                  "split_from", "first_seen_run", "last_seen_run"]


class ThemeRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ThemeRun
        fields = ["id", "status", "stats", "changes", "progress", "error", "created_at", "started_at", "finished_at"]


class RenameThemeSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                 help_text="The staff name (1–120 characters).")


class MergeThemesSerializer(serializers.Serializer):
    themes = serializers.ListField(child=serializers.IntegerField(), allow_empty=False,
                                   help_text="Ids of the themes merged into this one (of the same course).")


class SplitThemeSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True, trim_whitespace=False)
    keyword = serializers.CharField(required=False, allow_blank=True, default="",
                                    help_text="Split off the comments that contain this…")
    comments = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                     help_text="…or these comments of the theme (ids).")


class ThemeEditSerializer(serializers.Serializer):
    """An edit: the structured record (`detail`) and a sentence saying it (`summary`, seen from the theme whose
    history is asked: context `seen_from`)."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    theme = serializers.IntegerField(source="theme_id")
    actor = serializers.CharField(source="actor_name")
    at = serializers.DateTimeField()
    detail = serializers.JSONField()
    summary = serializers.SerializerMethodField(help_text="What the edit did, in words, e.g. renamed from “x” to “y”.")

    def get_summary(self, edit: ThemeEdit) -> str:
        return describe_edit(edit, seen_from=self.context.get("seen_from"))


class LabelSchemaFromThemesIn(serializers.Serializer):
    """Input of "make a label schema from these themes": theme ids of the URL's course, and a schema name."""

    themes = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=50)
    name = serializers.SlugField(max_length=64, required=False, help_text='Default: "topics" (or "topics-2" …).')
