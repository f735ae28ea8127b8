"""A real LTI 1.3 platform for tests: lti1p3platform's core classes behind a loopback HTTP server.

The server publishes the platform keyset (the tool fetches it by URL), answers the OIDC auth request
with the auto-submitting launch form, hosts a course page that frames the tool, and receives deep-linking
responses. Key rotation: `rotate_key()` publishes a new key and signs with it from then on.
"""

from __future__ import annotations

import html
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from jwcrypto.jwk import JWK
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
TEACHING_ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


def new_key_pair() -> tuple[str, str]:
    key = JWK.generate(kty="RSA", size=2048)
    return key.export_to_pem(private_key=True, password=None).decode(), key.export_to_pem().decode()


class DictRequest(Request):
    def build_metadata(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"method": "GET", "form_data": {}, "get_data": request, "headers": {}, "content_type": None,
                "path": "/auth", "json": None}


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self.reg = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self.reg


class Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class TestPlatform:
    """One LMS with one registration of the tool. `launch_options` shape the next id_token."""

    __test__ = False  # not a test class, whatever pytest makes of its name

    def __init__(self, client_id: str = "eduplatform-client", deployment_id: str = "dep-1") -> None:
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.keys = [new_key_pair()]
        self.jwks_hits = 0
        self.deep_link_items: list[dict[str, Any]] = []
        self.launch_options: dict[str, Any] = {}
        # Further endpoints (Dynamic Registration, NRPS, AGS): objects with
        # handle(method, path, params, headers, body) -> Reply | None; see tests/lti/advantage.py.
        self.services: list[Any] = []
        # Where the tool said it lives (Dynamic Registration sets these from its registration message).
        self.tool_login_url = self.tool_launch_url = self.tool_jwks_url = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self, tool_base: str) -> TestPlatform:
        self.tool_base = tool_base.rstrip("/")
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def issuer(self) -> str:
        return self.url

    def register_with_tool(self, **kwargs: Any) -> Any:
        from courses.lti.registration import register_platform

        kwargs.setdefault("deployment_ids", [self.deployment_id])
        return register_platform(name="Test LMS", issuer=self.issuer, client_id=self.client_id,
                                 auth_url=self.url + "/auth", token_url=self.url + "/token",
                                 keyset_url=self.url + "/jwks", **kwargs)

    def rotate_key(self, keep_old: bool = True) -> None:
        self.keys = (self.keys if keep_old else []) + [new_key_pair()]  # the last key signs

    # --- lti1p3platform objects -------------------------------------------------------------------
    def registration(self, private_key: str | None = None, deployment_id: str | None = None) -> Registration:
        reg = Registration()
        reg.set_iss(self.issuer).set_client_id(self.client_id)
        reg.set_deployment_id(deployment_id or self.deployment_id)
        launch_url = self.tool_launch_url or self.tool_base + "/lti/launch/"
        reg.set_launch_url(launch_url).set_deeplink_launch_url(launch_url)
        reg.set_oidc_login_url(self.tool_login_url or self.tool_base + "/lti/login/")
        reg.set_platform_private_key(private_key or self.keys[-1][0]).set_platform_public_key(self.keys[-1][1])
        reg.set_tool_key_set_url(self.tool_jwks_url or self.tool_base + "/lti/jwks/")
        return reg

    def jwks(self) -> dict[str, Any]:
        return {"keys": [Registration.get_jwk(public) for _, public in self.keys]}

    def login_url(self, user_id: str = "user-1", hint: str = "link-1") -> str:
        login = Login(None, PlatformConf(registration=self.registration()))
        login.set_lti_message_hint(hint=hint)
        return login.initiate_login(user_id)

    def authorize(self, auth_params: dict[str, Any], *, sub: str = "user-1", roles: tuple[str, ...] = (INSTRUCTOR,),
                  context: tuple[str, str, str] = ("ctx-1", "Programming 1", "CS101-LTI"),
                  resource_link: tuple[str, str] | None = ("link-1", "Week 1 feedback"),
                  custom: dict[str, Any] | None = None, deep_link_return: str | None = None,
                  private_key: str | None = None, deployment_id: str | None = None, expiration: int = 300,
                  extra_claims: dict[str, Any] | None = None) -> dict[str, str]:
        """The platform's OIDC auth endpoint: the id_token and state the browser posts to the tool."""
        conf = PlatformConf(registration=self.registration(private_key, deployment_id))
        launch = Launch(DictRequest(dict(auth_params)), conf)
        launch.set_user_data(sub, list(roles), full_name="Ines Instructor", email_address=f"{sub}@uni.example")
        launch.set_launch_context_claim(context[0], context_title=context[1], context_label=context[2])
        if resource_link:
            launch.set_resource_link_claim(resource_link[0], title=resource_link[1])
        if custom:
            launch.set_custom_parameters_claim(custom)
        if deep_link_return:
            launch.set_dl(deep_link_return, title="Add EduPlatform")
        launch.set_id_token_expiration(expiration)
        if extra_claims:
            launch.set_extra_claims(extra_claims)
        data = launch.lti_launch()
        return {"id_token": data["id_token"], "state": data["state"], "launch_url": data["launch_url"]}

    def accept_deep_link_response(self, jwt_value: str) -> list[dict[str, Any]]:
        conf = PlatformConf(registration=self.registration())
        conf.get_registration()
        items = conf.validate_deeplinking_resp({"JWT": jwt_value})
        self.deep_link_items.extend(items)
        return items

    # --- HTTP ------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, body: str | bytes, content_type: str = "text/html; charset=utf-8", status: int = 200,
                      headers: dict[str, str] | None = None) -> None:
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _service(self, method: str, path: str, params: dict[str, str], body: bytes) -> bool:
                for service in platform.services:
                    reply = service.handle(method, path, params, self.headers, body)
                    if reply is not None:
                        self._send(reply.body, reply.content_type, reply.status, reply.headers)
                        return True
                return False

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                params = dict(parse_qsl(query))
                if self._service("GET", path, params, b""):
                    return None
                if path == "/jwks":
                    platform.jwks_hits += 1
                    return self._send(json.dumps(platform.jwks()), "application/json")
                if path == "/auth":
                    data = platform.authorize(params, **platform.launch_options)
                    return self._send(auto_post_form(data["launch_url"], data))
                if path == "/course":
                    login = platform.login_url(params.get("user", "user-1"))
                    return self._send(f"<!DOCTYPE html><html><body><h1>Test LMS · Programming 1</h1>"
                                      f'<iframe id="tool" src="{html.escape(login)}" width="900" height="600" '
                                      f'title="EduPlatform"></iframe></body></html>')
                return self._send("not found", "text/plain", 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                path, _, query = self.path.partition("?")
                if self._service("POST", path, dict(parse_qsl(query)), raw):
                    return None
                form = dict(parse_qsl(raw.decode()))
                if self.path.startswith("/deep-link-return"):
                    items = platform.accept_deep_link_response(form["JWT"])
                    return self._send("<p id='received'>" + html.escape(json.dumps(items)) + "</p>")
                return self._send("not found", "text/plain", 404)

        return Handler


@dataclass
class Reply:
    """What a platform service endpoint answers."""

    status: int = 200
    body: str | bytes = ""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(data), content_type, headers or {})


def auto_post_form(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items() if k != "launch_url")
    return (f'<!DOCTYPE html><html><body><form id="f" method="post" action="{html.escape(action)}">{inputs}</form>'
            "<script>document.getElementById('f').submit()</script></body></html>")


def query_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def with_params(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def form_fields(page: str) -> dict[str, str]:
    return {m.group(1): html.unescape(m.group(2))
            for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
