"""Admin forms of the classifiers app."""

from __future__ import annotations

from django import forms

from classifiers.models import SchemaKind
from courses.importers import ROW_NUMBER


class ImportUploadForm(forms.Form):
    course_code = forms.SlugField(label="Course code", help_text="Created if missing (administrators only).")
    file = forms.FileField(help_text="CSV, TSV or JSONL, UTF-8 (with or without BOM).")
    text_col = forms.CharField(initial="text", label="Text column")
    module_col = forms.CharField(required=False, label="Module column")
    submitted_col = forms.CharField(required=False, label="Submitted-at column")
    id_col = forms.CharField(
        required=False, label="Id column", help_text=f'Leave empty for none; "{ROW_NUMBER}" uses the line number.'
    )
    label_col = forms.CharField(required=False, label="Label column")
    schema = forms.SlugField(initial="sentiment")
    label_sep = forms.CharField(required=False, label="Label separator", strip=False, help_text='e.g. "|"')
    split_col = forms.CharField(required=False, label="Split column")
    create_labels = forms.BooleanField(required=False, help_text="Create unknown labels (and the schema).")
    schema_kind = forms.ChoiceField(choices=SchemaKind.choices, initial=SchemaKind.SINGLE)

    def column_options(self) -> dict:
        data = self.cleaned_data
        return {
            key: (data[key] or None)
            for key in ("text_col", "module_col", "submitted_col", "id_col", "label_col", "label_sep", "split_col")
        } | {"text_col": data["text_col"]}
