"""python manage.py import_feedback COURSE_CODE FILE [options] — all-or-nothing import."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classifiers.imports.services import import_feedback_file
from classifiers.management.commands._cli import actor_or_exit, add_actor_argument
from classifiers.models import SchemaKind
from courses.importers import ROW_NUMBER, ImportOptions, LongTexts, TextTooLong
from eduplatform.errors import DomainError

KINDS = {"single": SchemaKind.SINGLE, "multi": SchemaKind.MULTI, "ordinal": SchemaKind.ORDINAL}


class Command(BaseCommand):
    help = "Import feedback (CSV, TSV or JSONL) into a course, creating it and its modules if needed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("course_code")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=["csv", "tsv", "jsonl"], help="default: from the file name")
        parser.add_argument("--title", help="course title when the course is created")
        parser.add_argument("--text-col", default="text")
        parser.add_argument("--module-col")
        parser.add_argument("--submitted-col")
        parser.add_argument(
            "--id-col", nargs="?", const=ROW_NUMBER,
            help="column holding a per-course unique id; without a name, the line number is the id",
        )
        parser.add_argument("--label-col")
        parser.add_argument("--schema", default="sentiment")
        parser.add_argument("--label-sep", help='separator of several labels in one cell, e.g. "|"')
        parser.add_argument("--split-col", help="column with train/dev/test")
        parser.add_argument("--create-labels", action="store_true", help="create unknown labels (and the schema)")
        parser.add_argument("--schema-kind", choices=list(KINDS), default="single")
        parser.add_argument(
            "--long-texts", choices=[c.value for c in LongTexts], default=LongTexts.REFUSE.value,
            help="a text over FEEDBACK_MAX_CHARS: refuse the file (default; nothing is imported) or cut it at the "
                 "limit (at a word boundary, never inside an e-mail or phone number; the item is marked as cut)",
        )
        add_actor_argument(parser)

    def handle(self, *args: object, **opts: object) -> None:
        actor = actor_or_exit(opts["as_user"], self.stderr)  # type: ignore[arg-type]
        path: Path = opts["file"]  # type: ignore[assignment]
        if not path.is_file():
            raise CommandError(f"{path}: no such file", returncode=2)
        options = ImportOptions(
            text_col=opts["text_col"], module_col=opts["module_col"], submitted_col=opts["submitted_col"],
            id_col=opts["id_col"], label_col=opts["label_col"], label_sep=opts["label_sep"],
            split_col=opts["split_col"],
        )
        try:
            result = import_feedback_file(
                opts["course_code"], path.read_bytes(), filename=path.name, options=options, fmt=opts["format"],
                schema_name=opts["schema"], create_labels=opts["create_labels"],
                schema_kind=KINDS[opts["schema_kind"]], course_title=opts["title"], actor=actor,
                long_texts=opts["long_texts"],
            )
        except TextTooLong as exc:
            raise CommandError(
                f"{path.name}: {exc}. Nothing was imported. {exc.advice('Re-run with --long-texts cut')}",
                returncode=2,
            ) from None
        except DomainError as exc:
            raise CommandError(f"{path.name}: {exc}. Nothing was imported.", returncode=2) from None
        self.stderr.write(result.summary())  # for people; stdout stays one JSON line for scripts
        self.stdout.write(json.dumps(result.as_dict()))
