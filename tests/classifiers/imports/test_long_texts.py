"""Texts over FEEDBACK_MAX_CHARS in file imports: refused by default (line and way forward), or cut at the
limit and marked, counted in the summary and the import job's record; redaction runs on what is kept."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from classifiers.imports.services import import_feedback_file, run_import_job, upload_feedback
from courses.importers import ImportOptions, ImportRejected, LongTexts, TextTooLong
from courses.models import Course, Feedback, ImportJob
from eduplatform.jobs import JobStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LONG = "word " * 2000 + "end of a very long forum post"  # 10,029 characters
FILE = f"text,id\nfirst,1\nsecond,2\n{LONG},3\nlast,4\n"


def _file(tmp_path: Path, data: str = FILE) -> Path:
    path = tmp_path / "forum.csv"
    path.write_text(data, encoding="utf-8")
    return path


def _command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_feedback", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_refuses_a_long_text_by_default_with_its_line_and_the_way_forward(tmp_path):
    with pytest.raises(CommandError) as refused:
        _command("MOOC1", str(_file(tmp_path)), "--id-col", "id")
    assert refused.value.returncode == 2
    assert str(refused.value) == (
        'forum.csv: line 4, column "text": the text has 10,029 characters; the limit is 10,000 (FEEDBACK_MAX_CHARS). '
        "Nothing was imported. Re-run with --long-texts cut to cut such texts at the limit, or raise "
        "FEEDBACK_MAX_CHARS."
    )
    assert not Course.objects.filter(code="MOOC1").exists() and not Feedback.objects.exists()


def test_the_command_with_cut_imports_every_row_cuts_and_marks_the_long_one_and_says_so(tmp_path):
    out, err = _command("MOOC1", str(_file(tmp_path)), "--id-col", "id", "--long-texts", "cut")
    stored = {f.external_id: f for f in Feedback.objects.filter(course__code="MOOC1")}
    assert sorted(stored) == ["1", "2", "3", "4"]
    long = stored["3"]
    assert long.text_was_cut and len(long.original_text) <= 10_000 and LONG.startswith(long.original_text)
    assert long.original_text.endswith("word") and len(long.original_text) > 9_900  # at a word, just below
    assert not any(stored[i].text_was_cut for i in ("1", "2", "4"))
    assert ("Imported 4 feedback items and 0 annotations into MOOC1 (0 already present were skipped); "
            "long texts: cut, 1 text cut at 10,000 characters.") in err
    result = json.loads(out.strip().splitlines()[-1])  # stdout stays one JSON line
    assert (result["created"], result["long_texts"], result["texts_cut"], result["max_chars"]) == (4, "cut", 1, 10_000)


def test_the_summary_of_a_refuse_import_names_the_choice(tmp_path):
    _, err = _command("MOOC2", str(_file(tmp_path, "text\nshort\n")))
    assert "Imported 1 feedback items" in err and "long texts: refuse, none over 10,000 characters" in err


def test_the_command_refuses_an_unknown_choice(tmp_path):
    with pytest.raises(CommandError, match="--long-texts: invalid choice: 'chop'"):
        _command("MOOC1", str(_file(tmp_path)), "--long-texts", "chop")
    assert not Feedback.objects.exists()


def test_an_annotator_still_cannot_import_whatever_the_choice(tmp_path, course, annotator):
    with pytest.raises(CommandError) as refused:
        _command(course.code, str(_file(tmp_path)), "--long-texts", "cut", "--as", annotator.username)
    assert refused.value.returncode == 2 and "may not import feedback" in str(refused.value)
    assert not Feedback.objects.filter(course=course).exists()


@override_settings(FEEDBACK_MAX_CHARS=20)
def test_the_setting_is_the_limit():
    data = b"text\nexactly twenty chars\nmore than twenty characters\n"
    with pytest.raises(TextTooLong) as refused:
        import_feedback_file("LIM1", data, filename="f.csv", options=ImportOptions())
    assert (refused.value.line, refused.value.limit) == (3, 20) and "the limit is 20 (FEEDBACK_MAX_CHARS)" in str(
        refused.value)
    result = import_feedback_file("LIM1", data, filename="f.csv", options=ImportOptions(), long_texts="cut")
    assert (result.texts_cut, result.max_chars) == (1, 20)
    stored = sorted(Feedback.objects.values_list("original_text", flat=True))
    assert stored == ["exactly twenty chars", "more than twenty"]


@override_settings(FEEDBACK_MAX_CHARS=20_000)
def test_a_raised_setting_lets_the_long_text_in_whole():
    result = import_feedback_file("LIM2", f"text\n{LONG}\n".encode(), filename="f.csv", options=ImportOptions())
    assert result.texts_cut == 0 and Feedback.objects.get().original_text == LONG.strip()


def test_redaction_runs_on_the_cut_text_and_no_half_of_an_email_at_the_limit_escapes_it(settings):
    prefix = "notes:" * 30  # no space near the limit, so only the PII rule keeps the address whole
    settings.FEEDBACK_MAX_CHARS = len(prefix) + len("jane.doe@uni")  # the limit falls inside the address
    data = f"text\nMail me at a.b@uni.edu {'x' * 200}\n{prefix}jane.doe@uni.example.edu;bye\n".encode()
    import_feedback_file("PII1", data, filename="f.csv", options=ImportOptions(), long_texts="cut")
    first, second = Feedback.objects.order_by("id")
    assert first.text_was_cut and first.redacted_text.startswith("Mail me at [EMAIL]")
    assert second.text_was_cut and second.original_text == prefix
    assert "jane" not in second.redacted_text and "@" not in second.redacted_text


def test_a_bad_choice_is_refused_by_the_service_before_anything_is_written():
    with pytest.raises(ImportRejected, match="'chop' is not a choice for long texts; use refuse or cut"):
        import_feedback_file("BAD1", b"text\nok\n", filename="f.csv", options=ImportOptions(), long_texts="chop")
    assert not Course.objects.filter(code="BAD1").exists()


# --- Import jobs (large uploads, run on the worker): the choice and the count are in the job's record ---


def _upload_as_job(settings, data: str, long_texts: str) -> ImportJob:
    settings.IMPORT_INLINE_MAX_BYTES = 10  # every upload becomes a job (queued on commit: never, in a test)
    job = upload_feedback(
        "JOB1", [data.encode()], filename="forum.csv", columns={"text_col": "text", "id_col": "id"},
        schema_name="sentiment", create_labels=False, schema_kind="single", actor=None, long_texts=long_texts,
    )
    assert isinstance(job, ImportJob)
    return job


def test_a_job_records_the_choice_and_how_many_texts_it_cut(settings, client):
    job = _upload_as_job(settings, FILE, "cut")
    assert job.options["long_texts"] == LongTexts.CUT
    job = run_import_job(job.pk)  # the worker's side, in this process
    assert (job.status, job.rows_imported, job.texts_cut) == (JobStatus.SUCCEEDED, 4, 1)
    assert job.options["long_texts"] == "cut" and job.progress["texts_cut"] == 1
    assert Feedback.objects.filter(import_job=job, text_was_cut=True).count() == 1
    client.force_login(UserFactory(username="root", is_superuser=True))
    page = client.get(reverse("admin:courses_importjob_change", args=[job.pk])).content.decode()
    assert "long texts: cut, 1 text cut at 10,000 characters." in page


def test_a_refusing_job_fails_saying_how_to_choose_cut_on_the_upload_page(settings):
    job = run_import_job(_upload_as_job(settings, FILE, "refuse").pk)
    assert job.status == JobStatus.FAILED and job.texts_cut == 0
    assert job.error == (
        'line 4, column "text": the text has 10,029 characters; the limit is 10,000 (FEEDBACK_MAX_CHARS). Upload '
        'the file again with "Texts over the limit: cut them at the limit" to cut such texts at the limit, or raise '
        "FEEDBACK_MAX_CHARS."
    )
    assert not Feedback.objects.exists()
