"""Importing feedback files, with their labels, all-or-nothing.

Labels need schemas, which live here, so the label-aware import sits in classifiers and uses the
courses services for the feedback itself (imports point one way: classifiers → courses).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from classifiers.imports.uploads import store_upload
from classifiers.labelling.schemas import add_labels
from classifiers.models import Annotation, AnnotationLabel, AnnotationSource, Label, LabelSchema, SchemaKind
from classifiers.selectors import schema_named
from courses.importers import (
    ImportOptions,
    ImportRejected,
    ImportRow,
    LongTexts,
    TextTooLong,
    detect_format,
    parse_rows,
)
from courses.models import Course, ImportJob
from courses.permissions import Action, authorize
from courses.selectors import course_by_code, existing_external_ids
from courses.services import bulk_create_feedback, ensure_modules, get_or_create_course
from eduplatform.jobs import JobStatus, claim_job, finish_job

# How the upload page (and its import jobs) lets a person choose to cut long texts: said in the refusal.
UPLOAD_HOW_TO_CUT = 'Upload the file again with "Texts over the limit: cut them at the limit"'


@dataclass(frozen=True)
class ImportResult:
    course: Course
    rows: int
    created: int
    skipped_existing: int
    annotations: int
    schema: str | None
    long_texts: LongTexts = LongTexts.REFUSE
    max_chars: int = 0
    texts_cut: int = 0

    def as_dict(self) -> dict:
        return {
            "course": self.course.code, "rows": self.rows, "created": self.created,
            "skipped_existing": self.skipped_existing, "annotations": self.annotations, "schema": self.schema,
            "long_texts": str(self.long_texts), "max_chars": self.max_chars, "texts_cut": self.texts_cut,
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """One line for people (the command, the admin message, the job page), the choice included."""
        if self.long_texts == LongTexts.CUT:
            texts = "text" if self.texts_cut == 1 else "texts"
            long_texts = f"long texts: cut, {self.texts_cut:,} {texts} cut at {self.max_chars:,} characters"
        else:
            long_texts = f"long texts: refuse, none over {self.max_chars:,} characters"
        return (
            f"Imported {self.created:,} feedback items and {self.annotations:,} annotations into {self.course.code} "
            f"({self.skipped_existing:,} already present were skipped); {long_texts}."
        )


def authorize_import(
    course_code: str, *, actor: AbstractBaseUser | None, schema_name: str, with_labels: bool, create_labels: bool
) -> None:
    """Refuse, before anything is read or written, an import `actor` may not make: into an existing course
    its managers; a new course administrators; new labels whoever may add labels to the schema's scope
    (an institution-wide schema: administrators only, whichever course the file is for)."""
    course = course_by_code(course_code)
    authorize(actor, Action.IMPORT_FEEDBACK if course else Action.CREATE_COURSE, course)
    if with_labels and create_labels:
        schema = (schema_named(course, schema_name) if course
                  else LabelSchema.objects.filter(course__isnull=True, name=schema_name).first())
        authorize(actor, Action.CREATE_LABELS, schema.course if schema else course)


def upload_feedback(
    course_code: str, chunks: Iterable[bytes], *, filename: str, columns: dict, schema_name: str,
    create_labels: bool, schema_kind: str, actor: AbstractBaseUser | None,
    long_texts: LongTexts = LongTexts.REFUSE,
) -> ImportResult | ImportJob:
    """An uploaded file, streamed to the upload directory under IMPORT_MAX_UPLOAD_BYTES (UploadTooLarge past
    it, keeping nothing): small ones import at once (the result), larger ones become an import job that runs
    on the worker (the job), so a web request never parses a large file nor holds one in memory."""
    authorize_import(course_code, actor=actor, schema_name=schema_name, with_labels=bool(columns.get("label_col")),
                     create_labels=create_labels)
    long_texts = _long_texts(long_texts)
    path = store_upload(chunks, filename=filename)
    if path.stat().st_size > settings.IMPORT_INLINE_MAX_BYTES:
        options = {"columns": columns, "schema": schema_name, "create_labels": create_labels,
                   "schema_kind": schema_kind, "long_texts": str(long_texts)}
        try:
            return create_import_job(course_code, filename=filename, path=path, options=options, actor=actor)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    try:
        data = path.read_bytes()  # at most IMPORT_INLINE_MAX_BYTES
    finally:
        path.unlink(missing_ok=True)
    return import_feedback_file(
        course_code, data, filename=filename, options=ImportOptions(**columns), schema_name=schema_name,
        create_labels=create_labels, schema_kind=schema_kind, actor=actor, long_texts=long_texts,
    )


def _long_texts(value: str) -> LongTexts:
    try:
        return LongTexts(value)
    except ValueError:
        raise ImportRejected(
            None, None, f"{value!r} is not a choice for long texts; use {' or '.join(LongTexts)}"
        ) from None


def import_feedback_file(
    course_code: str,
    data: bytes,
    *,
    filename: str,
    options: ImportOptions,
    fmt: str | None = None,
    schema_name: str = "sentiment",
    create_labels: bool = False,
    schema_kind: str = SchemaKind.SINGLE,
    course_title: str | None = None,
    actor: AbstractBaseUser | None = None,
    import_job: ImportJob | None = None,
    long_texts: LongTexts = LongTexts.REFUSE,
) -> ImportResult:
    """Parse and import a whole file in one transaction; the first bad row aborts and nothing is written.

    Rows whose id already exists in the course are skipped, so importing the same file twice is safe.
    A text over FEEDBACK_MAX_CHARS is such a bad row (TextTooLong) unless `long_texts` is CUT: then it is
    cut at the limit before redaction (courses.importers.fit_text) and the item marked `text_was_cut`.
    `actor=None` is the system (an operator's command without --as, or the worker on an authorized job).
    """
    authorize_import(course_code, actor=actor, schema_name=schema_name, with_labels=bool(options.label_col),
                     create_labels=create_labels)
    options = dataclasses.replace(
        options, max_chars=settings.FEEDBACK_MAX_CHARS, long_texts=_long_texts(long_texts),
        student_id_pattern=settings.PII_STUDENT_ID_PATTERN,
    )
    rows = parse_rows(data, fmt or detect_format(filename), options, tz=timezone.get_current_timezone())
    if import_job is not None:
        ImportJob.objects.filter(pk=import_job.pk).update(
            progress={"phase": "writing to the database", "rows": len(rows)}
        )
    with transaction.atomic():
        course, _ = get_or_create_course(course_code, actor=actor, title=course_title)
        schema = None
        if options.label_col:
            schema = _schema_for_labels(course, schema_name, create_labels=create_labels, kind=schema_kind)
            labels = _labels_by_name(schema, rows, options, create_labels=create_labels)
        ids = [r.external_id for r in rows if r.external_id is not None]
        existing = existing_external_ids(course, ids) if ids else set()
        new_rows = [r for r in rows if r.external_id is None or r.external_id not in existing]
        modules = ensure_modules(course, (r.module for r in new_rows if r.module))
        feedback = bulk_create_feedback(course, new_rows, modules=modules, import_job=import_job)
        annotation_count = 0
        if schema is not None:
            annotation_count = _create_import_annotations(schema, new_rows, feedback, labels)
    return ImportResult(
        course=course, rows=len(rows), created=len(feedback), skipped_existing=len(rows) - len(new_rows),
        annotations=annotation_count, schema=schema.name if schema else None, long_texts=options.long_texts,
        max_chars=options.max_chars, texts_cut=sum(row.text_was_cut for row in new_rows),
    )


def _schema_for_labels(course: Course, name: str, *, create_labels: bool, kind: str) -> LabelSchema:
    schema = schema_named(course, name)
    if schema is not None:
        return schema
    if not create_labels:
        raise ImportRejected(
            None, None, f'course {course.code} has no label schema "{name}"; pass --create-labels to create it'
        )
    if kind not in SchemaKind.values:
        raise ImportRejected(None, None, f"{kind!r} is not a schema kind ({', '.join(SchemaKind.values)})")
    return LabelSchema.objects.create(course=course, name=name, kind=kind)


def _labels_by_name(
    schema: LabelSchema, rows: list[ImportRow], options: ImportOptions, *, create_labels: bool
) -> dict[str, Label]:
    labels = {label.name: label for label in schema.labels.all()}
    new_names: list[str] = []
    for row in rows:
        if len(row.labels) > 1 and schema.kind != SchemaKind.MULTI:
            raise ImportRejected(
                row.line, options.label_col,
                f'{len(row.labels)} labels given but schema "{schema.name}" is {schema.get_kind_display()}',
            )
        for name in row.labels:
            if name in labels or name in new_names:
                continue
            if not create_labels:
                known = ", ".join(labels) or "no labels yet"
                raise ImportRejected(
                    row.line, options.label_col,
                    f'"{name}" is not a label of schema "{schema.name}" ({known}); '
                    "fix the value or pass --create-labels",
                )
            new_names.append(name)
    # Already authorized (authorize_import) before anything was written; the import acts for `actor`.
    labels.update({label.name: label for label in add_labels(schema, new_names, actor=None)})
    return labels


def _create_import_annotations(
    schema: LabelSchema, rows: list[ImportRow], feedback: list, labels: dict[str, Label]
) -> int:
    labelled = [(row, fb) for row, fb in zip(rows, feedback, strict=True) if row.labels]
    annotations = Annotation.objects.bulk_create(
        [Annotation(feedback=fb, schema=schema, source=AnnotationSource.IMPORT) for _, fb in labelled],
        batch_size=2000,
    )
    AnnotationLabel.objects.bulk_create(
        [
            AnnotationLabel(annotation=annotation, label=labels[name])
            for annotation, (row, _) in zip(annotations, labelled, strict=True)
            for name in row.labels
        ],
        batch_size=5000,
    )
    return len(annotations)


# --- Import jobs (uploads that run on the worker) ---------------------------------------------------


def create_import_job(
    course_code: str, *, filename: str, path: Path, options: dict, actor: AbstractBaseUser | None
) -> ImportJob:
    """Queue the import of an upload stored at `path` (store_upload); the job row is the user's handle on
    progress and errors."""
    from classifiers.tasks import run_import_task

    authorize_import(
        course_code, actor=actor, schema_name=options.get("schema", "sentiment"),
        with_labels=bool(options.get("columns", {}).get("label_col")),
        create_labels=options.get("create_labels", False),
    )
    with transaction.atomic():
        job = ImportJob.objects.create(
            course_code=course_code, file_path=str(path), original_name=Path(filename).name,
            options=options, actor=actor,
        )
        transaction.on_commit(lambda: run_import_task.apply_async(args=[job.pk], task_id=f"import-{job.pk}"))
    return job


def run_import_job(job_id: int) -> ImportJob:
    """Worker side of an import job: claim, import, record the outcome (a rejection is a failed job)."""
    job = ImportJob.objects.get(pk=job_id)
    if not claim_job(ImportJob, job_id):
        return job
    opts = dict(job.options)
    # Progress is written outside the import's transaction, which commits only at the end.
    ImportJob.objects.filter(pk=job_id).update(progress={"phase": "reading and validating the file"})
    try:
        result = import_feedback_file(
            job.course_code,
            Path(job.file_path).read_bytes(),
            filename=job.original_name,
            options=ImportOptions(**opts.get("columns", {})),
            schema_name=opts.get("schema", "sentiment"),
            create_labels=opts.get("create_labels", False),
            schema_kind=opts.get("schema_kind", SchemaKind.SINGLE),
            actor=None,  # the system, on a job `job.actor` was allowed to start (create_import_job)
            import_job=job,
            long_texts=opts.get("long_texts", LongTexts.REFUSE),
        )
    except TextTooLong as exc:  # jobs come from the upload page: say how to choose "cut" there
        finish_job(ImportJob, job_id, JobStatus.FAILED, error=f"{exc}. {exc.advice(UPLOAD_HOW_TO_CUT)}")
    except ImportRejected as exc:
        finish_job(ImportJob, job_id, JobStatus.FAILED, error=str(exc))
    else:
        finish_job(
            ImportJob, job_id, JobStatus.SUCCEEDED, rows_imported=result.created,
            annotations_imported=result.annotations, texts_cut=result.texts_cut, progress=result.as_dict(),
        )
    job.refresh_from_db()
    return job
