"""python manage.py create_api_client USERNAME [--name NAME] [--course CODE:ROLE ...] — OAuth2 credentials."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eduplatform.errors import DomainError

from ...api_clients import create_api_client
from ...selectors import course_by_code


class Command(BaseCommand):
    help = "Create an OAuth2 client-credentials application for a service account and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the service account (created if missing, without a password)")
        parser.add_argument("--name", help="the application's name (default: USERNAME)")
        parser.add_argument("--course", action="append", default=[], metavar="CODE:ROLE",
                            help="give the account a role in a course, e.g. CS101:instructor (repeatable)")

    def handle(self, *args: object, **opts: object) -> None:
        roles = []
        for spec in opts["course"]:  # type: ignore[union-attr]
            code, _, role = spec.partition(":")
            course = course_by_code(code)
            if course is None or not role:
                raise CommandError(f"--course {spec!r}: expected CODE:ROLE with an existing course", returncode=2)
            roles.append((course, role))
        try:
            client = create_api_client(opts["username"], name=opts["name"] or opts["username"], roles=roles)
        except DomainError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(f"client_id={client.application.client_id}")
        self.stdout.write(f"client_secret={client.client_secret}")
        self.stdout.write("Store the secret now: only its hash is kept.")
