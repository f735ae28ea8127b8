"""python manage.py sweep_model_store [--grace-s S] [--base-parts-grace-s S] — what the daily beat task does, now."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from classifiers import registry
from classifiers.training.versions import SWEEP_GRACE_S, sweep_model_store


class Command(BaseCommand):
    help = ("Delete what the model store holds that no model version needs: leftovers of killed uploads and "
            "builds, and base-model parts no version uses any more (each after its grace period).")

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--grace-s", type=int, default=SWEEP_GRACE_S,
                            help=f"keep leftovers younger than this (default {SWEEP_GRACE_S})")
        parser.add_argument("--base-parts-grace-s", type=int, default=None,
                            help="keep unused base-model parts younger than this (default "
                                 "MODEL_STORE_BASE_PARTS_GRACE_S)")

    def handle(self, *args: object, **opts: object) -> None:
        try:
            result = sweep_model_store(grace_s=opts["grace_s"], base_parts_grace_s=opts["base_parts_grace_s"])
        except registry.StoreError as exc:
            raise CommandError(f"{exc}; nothing more was deleted", returncode=2) from exc
        self.stdout.write(json.dumps(result, sort_keys=True))
