"""Output serializers of the themes API (numbers per module are in the report API, privacy applied)."""

from __future__ import annotations

from rest_framework import serializers

from classifiers.themes.models import Theme, ThemeRun


class ThemeSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True, help_text="The staff-given name, else the keyword name.")

    class Meta:
        model = Theme
        fields = ["id", "display_name", "name", "name_by_staff", "keywords", "status", "hidden", "merged_into",
                  "first_seen_run", "last_seen_run"]


class ThemeRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ThemeRun
        fields = ["id", "status", "stats", "changes", "progress", "error", "created_at", "started_at", "finished_at"]


class LabelSchemaFromThemesIn(serializers.Serializer):
    """Input of "make a label schema from these themes": theme ids of the URL's course, and a schema name."""

    themes = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=50)
    name = serializers.SlugField(max_length=64, required=False, help_text='Default: "topics" (or "topics-2" …).')
