"""Print what a platform administrator enters to register this tool (used by `make demo`)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from lti_tool.models import Key

from courses.lti.registration import tool_urls
from courses.lti.services import ensure_tool_key


class Command(BaseCommand):
    help = "Print every URL the LTI tool exposes and its public JWKS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_tool_key()
        self.stdout.write("LTI 1.3 tool registration (enter these on the platform):")
        for label, url in tool_urls(options["base_url"]).items():
            self.stdout.write(f"  {label:22} {url}")
        self.stdout.write("  public JWKS:")
        self.stdout.write(json.dumps(Key.objects.as_jwks(), indent=2))
        self.stdout.write("Then register the platform here: manage.py lti_register_platform --help")
