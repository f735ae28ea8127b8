"""The platform side of LTI Dynamic Registration 1.0, for tests: an OpenID configuration and a registration
endpoint on the test platform's HTTP server, following the spec's messages.

https://www.imsglobal.org/spec/lti-dr/v1p0 — the platform opens the tool's registration URL with
`openid_configuration` and `registration_token`; the tool GETs the configuration and POSTs its client
registration to `registration_endpoint` with `Authorization: Bearer <registration_token>`; the platform
answers with the client id and (LTI tool configuration) the deployment id. After that the test platform
launches with exactly what the tool registered (login URL, redirect URI, keyset URL).
"""

from __future__ import annotations

import json
from typing import Any

from tests.lti.platform import Reply, TestPlatform, with_params

PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
       "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
       "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
       "https://purl.imsglobal.org/spec/lti-ags/scope/score"]
DELETE = object()  # an override value that removes the key


class DynamicRegistration:
    """GET /.well-known/openid-configuration and POST /register on `platform`.

    `overrides` change the configuration (DELETE removes a key); `fail_with` makes the registration
    endpoint answer that status; `requests` records every request the tool made (method, path)."""

    def __init__(self, platform: TestPlatform, *, product: str = "moodle",
                 registration_token: str = "reg-tok-1") -> None:  # noqa: S107 - a test platform's token
        self.platform = platform
        self.product = product
        self.registration_token = registration_token
        self.overrides: dict[str, Any] = {}
        self.config_document: Any = None  # when set, served as the configuration instead (fuzzing)
        self.fail_with: int | None = None
        self.requests: list[tuple[str, str]] = []
        self.registrations: list[dict[str, Any]] = []
        self.token_used = False
        platform.services.append(self)

    @property
    def config_url(self) -> str:
        return self.platform.url + "/.well-known/openid-configuration"

    def registration_url(self, tool_url: str) -> str:
        """What the platform opens when an administrator pastes `tool_url`."""
        return with_params(tool_url, openid_configuration=self.config_url, registration_token=self.registration_token)

    def configuration(self) -> dict[str, Any]:
        url = self.platform.url
        config: dict[str, Any] = {
            "issuer": url,
            "authorization_endpoint": url + "/auth",
            "token_endpoint": url + "/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": url + "/jwks",
            "registration_endpoint": url + "/register",
            "scopes_supported": ["openid", NRPS, *AGS],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIG: {
                "product_family_code": self.product,
                "version": "4.4",
                "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}],
                "variables": ["CourseSection.timeFrame.end"],
            },
        }
        for key, value in self.overrides.items():
            if value is DELETE:
                config.pop(key, None)
            else:
                config[key] = value
        return config

    def handle(self, method: str, path: str, params: dict[str, str], headers: Any, body: bytes) -> Reply | None:
        if path == "/.well-known/openid-configuration" and method == "GET":
            self.requests.append((method, path))
            document = self.config_document if self.config_document is not None else self.configuration()
            return Reply(200, document if isinstance(document, (str, bytes)) else json.dumps(document))
        if path == "/register" and method == "POST":
            self.requests.append((method, path))
            return self._register(headers, body)
        return None

    def _register(self, headers: Any, body: bytes) -> Reply:
        if self.fail_with:
            return Reply(self.fail_with, "<h1>Internal error</h1>", "text/html")
        if headers.get("Authorization") != f"Bearer {self.registration_token}" or self.token_used:
            return Reply.json({"error": "invalid_token"}, 401)
        if not headers.get("Content-Type", "").startswith("application/json"):
            return Reply.json({"error": "invalid_client_metadata", "error_description": "JSON expected"}, 400)
        message = json.loads(body)
        problems = registration_problems(message)
        if problems:
            return Reply.json({"error": "invalid_client_metadata", "error_description": "; ".join(problems)}, 400)
        self.token_used = True
        self.registrations.append(message)
        n = len(self.registrations)
        client_id, deployment_id = f"dr-client-{n}", f"dr-deployment-{n}"
        # From now on the platform launches the tool it registered, with what the tool sent.
        self.platform.client_id, self.platform.deployment_id = client_id, deployment_id
        self.platform.tool_login_url = message["initiate_login_uri"]
        self.platform.tool_launch_url = message["redirect_uris"][0]
        self.platform.tool_jwks_url = message["jwks_uri"]
        answer = {**message, "client_id": client_id, "registration_client_uri": f"{self.platform.url}/register/{n}",
                  TOOL_CONFIG: {**message[TOOL_CONFIG], "deployment_id": deployment_id}}
        return Reply.json(answer)


def registration_problems(message: Any) -> list[str]:
    """What LTI-DR 3.6 requires of the tool's registration request and this one lacks."""
    if not isinstance(message, dict):
        return ["not a JSON object"]
    problems = []
    expected = {"application_type": "web", "token_endpoint_auth_method": "private_key_jwt"}
    problems += [f"{k} must be {v}" for k, v in expected.items() if message.get(k) != v]
    if "id_token" not in (message.get("response_types") or []):
        problems.append("response_types must include id_token")
    if not {"implicit", "client_credentials"} <= set(message.get("grant_types") or []):
        problems.append("grant_types must include implicit and client_credentials")
    for key in ("initiate_login_uri", "jwks_uri", "client_name"):
        if not isinstance(message.get(key), str) or not message[key]:
            problems.append(f"{key} is required")
    if not isinstance(message.get("redirect_uris"), list) or not message["redirect_uris"]:
        problems.append("redirect_uris is required")
    tool = message.get(TOOL_CONFIG)
    if not isinstance(tool, dict):
        return [*problems, f"{TOOL_CONFIG} is required"]
    for key in ("domain", "target_link_uri"):
        if not isinstance(tool.get(key), str) or not tool[key]:
            problems.append(f"{TOOL_CONFIG}.{key} is required")
    if not isinstance(tool.get("claims"), list):
        problems.append(f"{TOOL_CONFIG}.claims must be a list")
    return problems
