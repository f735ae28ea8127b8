"""The admin upload page: inline for small files, an import job on a real worker for large ones."""

import time

import pytest
from django.urls import reverse

from courses.models import Course, Feedback, ImportJob
from eduplatform.jobs import JobStatus
from tests.factories import UserFactory

CSV = b"text,module,label\nGreat labs,Week 1,positive\nToo fast,Week 2,negative\n"


def _post(client, code="UP1", data=CSV, name="f.csv", **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    form = {"course_code": code, "file": SimpleUploadedFile(name, data), "text_col": "text",
            "module_col": "module", "label_col": "label", "schema": "sentiment", "schema_kind": "single", **extra}
    return client.post(reverse("admin:classifiers_import_upload"), form, follow=True)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.mark.django_db
def test_small_upload_imports_inline(client, superuser):
    client.force_login(superuser)
    response = _post(client)
    assert "Imported 2 feedback items and 2 annotations into UP1" in response.content.decode()
    assert Feedback.objects.filter(course__code="UP1").count() == 2


@pytest.mark.django_db
def test_bad_upload_names_line_and_column_and_writes_nothing(client, superuser):
    client.force_login(superuser)
    response = _post(client, data=CSV + b"Meh,Week 3,so-so\n")
    body = response.content.decode()
    assert 'line 4, column &quot;label&quot;' in body and "Nothing was imported" in body
    assert not Course.objects.filter(code="UP1").exists()


@pytest.mark.django_db
def test_staff_cannot_import_into_a_course_they_do_not_manage(client, course, outsider):
    client.force_login(outsider)
    response = _post(client, code=course.code)
    assert response.status_code == 403
    assert not Feedback.objects.filter(course=course).exists()


@pytest.mark.django_db
def test_large_upload_without_worker_says_so(client, superuser, settings):
    from eduplatform.celery import app

    settings.IMPORT_INLINE_MAX_BYTES = 10
    client.force_login(superuser)
    response = _post(client)
    body = response.content.decode()
    assert "no worker is running" in body
    job = ImportJob.objects.get()
    assert job.status == JobStatus.QUEUED and not Feedback.objects.exists()
    app.control.purge()


@pytest.mark.slow
def test_large_upload_runs_as_job_on_a_real_worker(client, celery_worker_process, settings):
    settings.IMPORT_INLINE_MAX_BYTES = 10
    user = UserFactory(username="root2", is_superuser=True)
    client.force_login(user)
    _post(client, code="UP2")
    job = ImportJob.objects.get()
    deadline = time.monotonic() + 60
    while job.status in (JobStatus.QUEUED, JobStatus.RUNNING) and time.monotonic() < deadline:
        time.sleep(0.5)
        job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error or celery_worker_process.log_path.read_text()[-2000:]
    assert (job.rows_imported, job.annotations_imported) == (2, 2)
    assert Feedback.objects.filter(course__code="UP2", import_job=job).count() == 2
    page = client.get(reverse("admin:courses_importjob_change", args=[job.pk])).content.decode()
    assert "Imported 2 feedback items and 2 annotations into UP2" in page and "long texts: refuse" in page


@pytest.mark.django_db
def test_course_staff_cannot_add_labels_to_an_institution_wide_schema_by_import(course, instructor, tmp_path):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from classifiers.labelling.schemas import create_schema
    from classifiers.models import Label

    shared = create_schema("workload", kind="single", labels=["light", "heavy"], actor=None)
    path = tmp_path / "f.csv"
    path.write_bytes(b"text,label\nSo much reading,extreme\n")
    with pytest.raises(CommandError) as refused:
        call_command("import_feedback", course.code, str(path), "--label-col", "label", "--schema", "workload",
                     "--create-labels", "--as", instructor.username, stdout=io.StringIO(), stderr=io.StringIO())
    assert refused.value.returncode == 2
    assert "ines may not add labels to a schema institution-wide: only administrators may" in str(refused.value)
    assert not Label.objects.filter(name="extreme").exists() and list(shared.labels.values_list("name", flat=True)) \
        == ["light", "heavy"]
    assert not Feedback.objects.filter(course=course).exists()


@pytest.mark.django_db
def test_import_command_without_as_says_it_acts_as_the_system(tmp_path):
    import io

    from django.core.management import call_command

    path = tmp_path / "f.csv"
    path.write_bytes(b"text\nGood\n")
    err = io.StringIO()
    call_command("import_feedback", "SYS1", str(path), stdout=io.StringIO(), stderr=err)
    assert "acting as the system" in err.getvalue()
    assert Feedback.objects.filter(course__code="SYS1").count() == 1


# --- Texts over FEEDBACK_MAX_CHARS: the upload form's choice ---

LONG_CSV = b"text\nfine\nthis answer is much longer than the limit\n"


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.django_db
def test_upload_refuses_a_long_text_by_default_saying_which_line_and_how_to_cut(client, superuser, settings):
    settings.FEEDBACK_MAX_CHARS = 20
    client.force_login(superuser)
    response = _post(client, data=LONG_CSV, module_col="", label_col="")
    assert _messages(response) == [
        'f.csv: line 3, column "text": the text has 41 characters; the limit is 20 (FEEDBACK_MAX_CHARS). Nothing was '
        'imported. Upload the file again with "Texts over the limit: cut them at the limit" to cut such texts at the '
        "limit, or raise FEEDBACK_MAX_CHARS."
    ]
    assert not Course.objects.filter(code="UP1").exists()


@pytest.mark.django_db
def test_upload_with_cut_imports_everything_and_the_message_counts_the_cut_text(client, superuser, settings):
    settings.FEEDBACK_MAX_CHARS = 20
    client.force_login(superuser)
    response = _post(client, data=LONG_CSV, module_col="", label_col="", long_texts="cut")
    assert _messages(response) == [
        "Imported 2 feedback items and 0 annotations into UP1 (0 already present were skipped); "
        "long texts: cut, 1 text cut at 20 characters."
    ]
    cut = Feedback.objects.get(text_was_cut=True)
    assert cut.original_text == "this answer is much" and Feedback.objects.filter(text_was_cut=False).count() == 1


@pytest.mark.django_db
def test_upload_form_offers_the_choice_and_refuses_an_unknown_one(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse("admin:classifiers_import_upload")).content.decode()
    assert 'name="long_texts" value="refuse"' in page and 'value="cut"' in page
    assert "The limit is 10,000 characters (FEEDBACK_MAX_CHARS)" in page
    response = _post(client, long_texts="chop")
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "long_texts": ["Select a valid choice. chop is not one of the available choices."]}
    assert not Course.objects.filter(code="UP1").exists()


@pytest.mark.django_db
def test_an_annotator_cannot_import_even_choosing_cut(client, course, annotator):
    client.force_login(annotator)
    response = _post(client, code=course.code, long_texts="cut")
    assert response.status_code == 403
    assert not Feedback.objects.filter(course=course).exists()


@pytest.mark.django_db
def test_feedback_admin_shows_and_filters_cut_texts_read_only(client, superuser, course):
    from tests.factories import FeedbackFactory

    cut = FeedbackFactory(course=course, text_was_cut=True, redacted_text="was cut")
    FeedbackFactory(course=course, redacted_text="kept whole")
    client.force_login(superuser)
    changelist = reverse("admin:courses_feedback_changelist")
    listed = client.get(changelist, {"text_was_cut__exact": "1"}).content.decode()
    assert "was cut" in listed and "kept whole" not in listed
    change = client.get(reverse("admin:courses_feedback_change", args=[cut.pk]))
    assert "text_was_cut" not in change.context["adminform"].form.fields  # read-only: not a form field
    assert "Text was cut" in change.content.decode()
