"""Report data serializers: the numbers behind each chart (privacy is applied by the selector)."""

from __future__ import annotations

from rest_framework import serializers


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
    not_learned = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Labels the model was not trained on (too few examples; name → examples): it never predicts them.",
    )


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


class ThemeWeekSerializer(serializers.Serializer):
    week = serializers.DateField()
    shown = serializers.BooleanField()
    count = serializers.IntegerField(allow_null=True, help_text="Null when hidden (a small group).")


class ThemeRowSerializer(serializers.Serializer):
    theme_id = serializers.IntegerField(help_text="Stable across recomputations while the theme stays.")
    name = serializers.CharField(help_text="The name staff gave it, else one made from its keywords.")
    keywords = serializers.ListField(child=serializers.CharField(), help_text="From redacted text only.")
    is_new = serializers.BooleanField(help_text="First seen in the latest recomputation (new this term).")
    count = serializers.IntegerField(help_text="Comments of the module in this theme (never below the minimum).")
    share = serializers.FloatField(help_text="Of the module's responses.")
    labelled = serializers.IntegerField()
    labels = serializers.DictField(child=serializers.IntegerField(), help_text="Label mix of its labelled comments.")
    mix = serializers.CharField(help_text='"mostly <label>", "mixed" or "not labelled yet".')
    trend = ThemeWeekSerializer(many=True)
    quotes = serializers.ListField(child=serializers.CharField(),
                                   help_text="Up to 3 redacted comments closest to its centre; no author, time or id.")


class ModuleThemesSerializer(serializers.Serializer):
    module_id = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    shown = serializers.BooleanField()
    note = serializers.CharField(allow_blank=True)
    themes = ThemeRowSerializer(many=True)
    other = serializers.IntegerField(
        allow_null=True, help_text="Comments in no theme shown here: themes below the minimum group size, hidden "
                                   "themes, comments that fit no theme or are not processed yet.")


class ThemesInfoSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    new_this_term = serializers.IntegerField()


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
    awaiting_review = serializers.IntegerField(
        help_text="Comments counted in these numbers but held for screening: nobody on the course reads them "
                  "until a screener releases them.")
    modules = ModuleRowSerializer(many=True)
    course_average = LabelShareSerializer(many=True)
    course_trend = WeekCellSerializer(many=True)
    alerts = AlertInfoSerializer(many=True)
    built_at = serializers.DateTimeField(allow_null=True)
    themes_info = ThemesInfoSerializer(allow_null=True, help_text="Null until the course's themes are computed.")
    themes = ModuleThemesSerializer(many=True, help_text="What students talk about, per module.")
