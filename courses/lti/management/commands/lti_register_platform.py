"""Register (or update) an LMS platform: `manage.py lti_register_platform --issuer ... --client-id ...`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from courses.lti.registration import register_platform, tool_urls


class Command(BaseCommand):
    help = "Register an LTI 1.3 platform (Moodle, Canvas, ...) and print the URLs to enter on its side."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Display name, e.g. 'University Moodle'.")
        parser.add_argument("--issuer", required=True, help="Platform ID / issuer (iss).")
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--auth-url", required=True, help="Authentication request URL (OIDC auth endpoint).")
        parser.add_argument("--token-url", required=True, help="Access token URL.")
        parser.add_argument("--keyset-url", required=True, help="Public keyset URL (JWKS).")
        parser.add_argument("--deployment-id", action="append", default=[], dest="deployment_ids",
                            help="A deployment id to activate (repeatable).")
        parser.add_argument("--accept-new-deployments", action="store_true",
                            help="Activate unknown deployment ids of this client automatically (logged).")
        parser.add_argument("--frame-ancestors", default="",
                            help="Space-separated origins allowed to frame the tool (default: auth URL origin).")
        parser.add_argument("--base-url", default="https://eduplatform.example.edu",
                            help="This tool's public base URL, to print the URLs for the platform.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            registration = register_platform(
                name=options["name"], issuer=options["issuer"], client_id=options["client_id"],
                auth_url=options["auth_url"], token_url=options["token_url"], keyset_url=options["keyset_url"],
                deployment_ids=options["deployment_ids"], accept_new_deployments=options["accept_new_deployments"],
                frame_ancestors=options["frame_ancestors"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages), returncode=2) from exc
        self.stdout.write(self.style.SUCCESS(f"Registered {registration.name} ({registration.issuer}, "
                                             f"client {registration.client_id})"))
        for label, url in tool_urls(options["base_url"], registration).items():
            self.stdout.write(f"  {label:22} {url}")
