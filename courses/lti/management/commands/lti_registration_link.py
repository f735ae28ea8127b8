"""Issue a one-time LTI Dynamic Registration link: `manage.py lti_registration_link --base-url https://...`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from courses.lti.dynamic_registration import issue_registration_token
from eduplatform.errors import PermissionRefused


class Command(BaseCommand):
    help = "Print a one-time registration link to paste into Moodle (Tool URL) or Canvas (LTI Registration)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", required=True, help="This tool's public base URL, e.g. https://edu.uni.example")
        parser.add_argument("--note", default="", help="Which platform the link is for.")
        parser.add_argument("--valid-days", type=int, default=7, help="Days until the link expires (1-90).")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                            help="issue it as this administrator (default: the system)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["valid_days"] <= 90:
            raise CommandError("--valid-days must be between 1 and 90", returncode=2)
        actor = None
        if options["as_user"]:
            actor = get_user_model().objects.filter(username=options["as_user"], is_active=True).first()
            if actor is None:
                raise CommandError(f"--as {options['as_user']}: no active user with that username", returncode=2)
        else:
            self.stderr.write("acting as the system (no --as USER given): no permission check applies")
        try:
            row, token = issue_registration_token(actor=actor, note=options["note"],
                                                  valid_for=timedelta(days=options["valid_days"]))
        except PermissionRefused as exc:
            raise CommandError(str(exc), returncode=2) from exc
        url = options["base_url"].rstrip("/") + reverse("lti:register_with_link", kwargs={"token": token})
        self.stdout.write(url)
        self.stderr.write(f"one-time link {row.pk}, valid until {row.expires_at:%Y-%m-%d %H:%M %Z}; shown once")
