"""Admin forms of the classifiers app."""

from __future__ import annotations

from django import forms
from django.conf import settings

from classifiers.models import SchemaKind
from courses.importers import ROW_NUMBER, LongTexts


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
    long_texts = forms.ChoiceField(
        label="Texts over the limit",
        choices=[(LongTexts.REFUSE.value, "refuse the file (nothing is imported)"),
                 (LongTexts.CUT.value, "cut them at the limit (the items are marked as cut)")],
        initial=LongTexts.REFUSE.value, widget=forms.RadioSelect, required=False,  # absent: refuse, as before
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Read per form, not at import: the limit is a setting.
        self.fields["long_texts"].help_text = (
            f"The limit is {settings.FEEDBACK_MAX_CHARS:,} characters (FEEDBACK_MAX_CHARS). A cut keeps whole "
            "words where it can and never splits an e-mail or phone number; redaction runs on what is kept."
        )

    def clean_long_texts(self) -> str:
        return self.cleaned_data["long_texts"] or LongTexts.REFUSE.value

    def column_options(self) -> dict:
        data = self.cleaned_data
        return {
            key: (data[key] or None)
            for key in ("text_col", "module_col", "submitted_col", "id_col", "label_col", "label_sep", "split_col")
        } | {"text_col": data["text_col"]}
