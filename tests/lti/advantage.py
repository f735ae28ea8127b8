"""The test platform's LTI Advantage services on lti1p3platform: token endpoint, NRPS and AGS.

- POST /token: the client-credentials grant with a JWT assertion, validated by lti1p3platform against the
  tool's keyset (fetched from the tool's JWKS URL, or `tool_jwks` when a test has no live tool); we also
  check `aud` is this endpoint (1EdTech Security Framework 4.1), which lti1p3platform leaves out.
- GET /nrps/<context>/memberships: lti1p3platform's NamesRoleProvisioningService with our roster, paged
  (`limit`, default `page_size`) with `Link: <…>; rel="next"` as NRPS 2.0 says, and on the last page of a
  full read `Link: <…?since=N>; rel="differences"`; `?since=N` answers members changed after version N.
- AGS under /ags/<context>/lineitems (see AgsService below).
Bearer tokens are checked by lti1p3platform's `authenticate` (signature, issuer, expiry) and, here, for the
scope the service needs. `fail_with` makes a service answer that status.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlencode

import jwt
from lti1p3platform.exceptions import LineItemNotFoundException
from lti1p3platform.membership import Context
from lti1p3platform.request import Request
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService

from tests.lti.platform import PlatformConf, Reply, TestPlatform

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
AGS_SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
              "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
              "https://purl.imsglobal.org/spec/lti-ags/scope/score"]
SCORE_SCOPE = AGS_SCOPES[2]
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = f"{MEMBERSHIP}#Learner"
INSTRUCTOR = f"{MEMBERSHIP}#Instructor"
TEACHING_ASSISTANT = f"{MEMBERSHIP}/Instructor#TeachingAssistant"


class ShimRequest(Request):
    """An lti1p3platform request built from the test server's parts."""

    def build_metadata(self, request: dict[str, Any]) -> dict[str, Any]:
        return request


def member(user_id: str, role: str = LEARNER, status: str = "Active") -> dict[str, Any]:
    """A roster entry as platforms send it, names and e-mails included (the tool must not keep a learner's)."""
    first = f"Given{user_id}"
    return {"user_id": user_id, "roles": [role], "status": status, "name": f"{first} Family{user_id}",
            "given_name": first, "family_name": f"Family{user_id}", "email": f"{user_id}@students.uni.example"}


class Advantage:
    """Token endpoint + NRPS on `platform`; `rosters[context_id]` is each context's member list."""

    def __init__(self, platform: TestPlatform, *, page_size: int = 100) -> None:
        self.platform = platform
        self.page_size = page_size
        self.rosters: dict[str, list[dict[str, Any]]] = {}
        self.versions: dict[str, dict[str, int]] = {}  # context -> user_id -> version it last changed
        self.version = 0
        self.tool_jwks: dict[str, Any] | None = None
        self.fail_with: int | None = None
        self.link_override: str | None = None  # replaces the Link header (hostile platforms)
        self.page_override: Any = None  # served instead of the roster page (hostile platforms)
        self.token_requests = 0
        self.nrps_requests: list[str] = []
        self.lock = threading.Lock()
        # AGS: line items by id, the gradebook (one result per line item and user), every score POST received
        self.line_items: dict[str, dict[str, Any]] = {}
        self.line_item_context: dict[str, str] = {}  # line item key -> its context
        self.results: dict[tuple[str, str], dict[str, Any]] = {}
        self.score_posts: list[dict[str, Any]] = []
        self.score_gate: threading.Event | None = None  # when set, a score POST waits for it (crash tests)
        self.score_arrived = threading.Event()
        self.fail_scores_with: int | None = None
        platform.services.append(self)

    # --- what tests set up -----------------------------------------------------------------------------
    def memberships_url(self, context_id: str) -> str:
        return f"{self.platform.url}/nrps/{context_id}/memberships"

    def nrps_claim(self, context_id: str = "ctx-1") -> dict[str, Any]:
        return {NRPS_CLAIM: {"context_memberships_url": self.memberships_url(context_id), "service_versions": ["2.0"]}}

    def set_roster(self, context_id: str, members: list[dict[str, Any]]) -> None:
        """Replace the roster; members that changed (or left: then listed as Deleted) get a new version."""
        with self.lock:
            self.version += 1
            old = {m["user_id"]: m for m in self.rosters.get(context_id, [])}
            new = {m["user_id"]: m for m in members}
            versions = self.versions.setdefault(context_id, {})
            for user_id in set(old) | set(new):
                if old.get(user_id) != new.get(user_id):
                    versions[user_id] = self.version
            self.rosters[context_id] = [*members, *({**m, "status": "Deleted"} for u, m in old.items() if u not in new)]

    def lineitems_url(self, context_id: str = "ctx-1") -> str:
        return f"{self.platform.url}/ags/{context_id}/lineitems"

    def ags_claim(self, context_id: str = "ctx-1", lineitem: str | None = None) -> dict[str, Any]:
        claim: dict[str, Any] = {"scope": list(AGS_SCOPES), "lineitems": self.lineitems_url(context_id)}
        if lineitem:
            claim["lineitem"] = lineitem
        return {AGS_CLAIM: claim}

    def create_line_item(self, context_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """What the platform does with a deep-linking content item's lineItem (or a tool's POST)."""
        with self.lock:
            line_id = f"{self.lineitems_url(context_id)}/{len(self.line_items) + 1}"
            item = {**data, "id": line_id}
            self.line_items[line_id] = item
            self.line_item_context[line_id] = context_id
            return item

    def scores_of(self, line_id: str) -> dict[str, dict[str, Any]]:
        return {user: score for (line, user), score in self.results.items() if line == line_id}

    # --- HTTP --------------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, params: dict[str, str], headers: Any, body: bytes) -> Reply | None:
        if path == "/token" and method == "POST":
            return self._token(body)
        if path.startswith("/nrps/") and path.endswith("/memberships") and method == "GET":
            return self._memberships(path.split("/")[2], params, headers)
        if path.startswith("/ags/"):
            return self._ags(method, path, params, headers, body)
        return None

    def _ags(self, method: str, path: str, params: dict[str, str], headers: Any, body: bytes) -> Reply:
        parts = path.strip("/").split("/")  # ags, <context>, lineitems[, <n>[, scores]]
        context_id = parts[1]
        request = ShimRequest({"method": method, "form_data": {}, "get_data": dict(params), "headers": dict(headers),
                               "content_type": headers.get("Content-Type"), "path": path,
                               "json": json.loads(body) if body else None})
        service = GradebookService(request, self._conf(), self.lineitems_url(context_id), self)
        if len(parts) == 3:
            if not self.token_allows(headers, AGS_SCOPES[0]):
                return Reply.json({"error": "insufficient_scope"}, 403)
            handler = service.handle_get_lineitems if method == "GET" else service.handle_create_lineitem
            resp = service.handle_resp(handler)
            result = resp.result["content"] if method == "GET" and resp.code == 200 else resp.result
            return Reply.json(result, resp.code, resp.media_type)
        line_id = f"{self.lineitems_url(context_id)}/{parts[3]}"
        if len(parts) == 5 and parts[4] == "scores" and method == "POST":
            if not self.token_allows(headers, SCORE_SCOPE):
                return Reply.json({"error": "insufficient_scope"}, 403)
            if headers.get("Content-Type") != SCORE_MEDIA_TYPE:
                return Reply.json({"error": f"Content-Type must be {SCORE_MEDIA_TYPE}"}, 415)
            self.score_arrived.set()
            if self.score_gate is not None:
                self.score_gate.wait(timeout=60)
            if self.fail_scores_with:
                return Reply(self.fail_scores_with, "gradebook unavailable", "text/plain")
            resp = service.handle_resp(service.handle_update_score, line_item_id=line_id)
            return Reply.json({"status": resp.message}, resp.code)
        return Reply.json({"error": "not found"}, 404)

    def _conf(self) -> PlatformConf:
        registration = self.platform.registration()
        if self.tool_jwks is not None:
            registration.set_tool_key_set(self.tool_jwks)
        conf = PlatformConf(registration=registration)
        conf.get_registration()
        return conf

    def _token(self, body: bytes) -> Reply:
        from urllib.parse import parse_qsl

        self.token_requests += 1
        form = dict(parse_qsl(body.decode()))
        try:
            claims = jwt.decode(form.get("client_assertion", ""), options={"verify_signature": False})
        except jwt.PyJWTError:
            return Reply.json({"error": "invalid_client"}, 401)
        if claims.get("aud") not in (self.platform.url + "/token", [self.platform.url + "/token"]):
            return Reply.json({"error": "invalid_client", "error_description": "aud must be the token URL"}, 401)
        try:
            return Reply.json(self._conf().get_access_token(form))
        except Exception as exc:  # lti1p3platform's refusals are several exception types
            return Reply.json({"error": "invalid_client", "error_description": str(exc)}, 401)

    def token_allows(self, headers: Any, scope: str) -> bool:
        """lti1p3platform checks a token's signature and issuer, not its scopes: we do."""
        auth = (headers.get("Authorization") or "").split()
        try:
            claims = jwt.decode(auth[1], options={"verify_signature": False})
        except (IndexError, jwt.PyJWTError):
            return False
        return scope in str(claims.get("scopes", "")).split()

    def _memberships(self, context_id: str, params: dict[str, str], headers: Any) -> Reply:
        self.nrps_requests.append(context_id)
        if self.fail_with:
            return Reply(self.fail_with, "platform error", "text/plain")
        if not self.token_allows(headers, NRPS_SCOPE):
            return Reply.json({"error": "insufficient_scope"}, 403)
        if self.page_override is not None:
            return Reply.json(self.page_override, content_type=NRPS_MEDIA_TYPE)
        query: dict[str, Any] = dict(params)
        query["page"] = int(query.get("page", 1))
        query["limit"] = int(query.get("limit", self.page_size))
        service = RosterService(ShimRequest({
            "method": "GET", "form_data": {}, "get_data": query, "headers": dict(headers), "content_type": None,
            "path": "", "json": None}), self._conf(), self.memberships_url(context_id), self, context_id)
        resp = service.handle_resp(service.handle_get_members)
        if resp.code != 200:
            return Reply.json({"error": resp.message}, resp.code)
        links = []
        if resp.result.get("next"):
            links.append(f'<{resp.result.pop("next")}>; rel="next"')
        else:  # the last page says where to ask for what changes from now on
            since = urlencode({"since": self.version})
            links.append(f'<{self.memberships_url(context_id)}?{since}>; rel="differences"')
        if self.link_override is not None:
            links = [self.link_override]
        return Reply(200, json.dumps(resp.result), NRPS_MEDIA_TYPE,
                     {"Link": ", ".join(links)} if links else {})


class RosterService(NamesRoleProvisioningService):
    def __init__(self, request: Request, conf: PlatformConf, url: str, advantage: Advantage, context_id: str) -> None:
        super().__init__(request, conf, url)
        self.advantage = advantage
        self.context_id = context_id

    def get_member_data_page(self, page: int = 1, limit: int | None = None, role: str | None = None,
                             since: str | None = None, **_: Any) -> dict[str, Any]:
        members = self.advantage.rosters.get(self.context_id, [])
        if since is None:
            members = [m for m in members if m["status"] != "Deleted"]
        else:
            versions = self.advantage.versions.get(self.context_id, {})
            members = [m for m in members if versions.get(m["user_id"], 0) > int(since)]
        if role:
            members = [m for m in members if role in m["roles"]]
        limit = limit or len(members) or 1
        start = (page - 1) * limit
        return {"content": [dict(m) for m in members[start:start + limit]], "has_next": start + limit < len(members)}

    def get_context_by_id(self) -> Context:
        return Context(id=self.context_id, label="CS101-LTI", title="Programming 1")

    def is_resource_link_valid(self, context_id: str, resource_link_id: str) -> bool:
        return True


REQUIRED_SCORE_FIELDS = ("userId", "scoreGiven", "scoreMaximum", "activityProgress", "gradingProgress", "timestamp")


class GradebookService(AssignmentsGradesService):
    """lti1p3platform's AGS endpoints over the Advantage object's line items and results."""

    def __init__(self, request: Request, conf: PlatformConf, lineitems_url: str, advantage: Advantage) -> None:
        super().__init__(request, conf, lineitems_url)
        self.advantage = advantage
        self.context_url = lineitems_url

    def find_lineitems(self, page: int = 1, limit: int | None = None, line_item_id: str | None = None,
                       resource_link_id: str | None = None, resource_id: str | None = None, tag: str | None = None,
                       **_: Any) -> dict[str, Any]:
        context_id = self.context_url.split("/")[-2]
        items = [i for key, i in self.advantage.line_items.items()
                 if self.advantage.line_item_context.get(key) == context_id]
        if resource_link_id:
            items = [i for i in items if i.get("resourceLinkId") == resource_link_id]
        if resource_id:
            items = [i for i in items if i.get("resourceId") == resource_id]
        return {"content": items, "has_next": False}

    def find_lineitem(self, line_item_id: str) -> dict[str, Any]:
        if line_item_id not in self.advantage.line_items:
            raise LineItemNotFoundException()
        return self.advantage.line_items[line_item_id]

    def create_lineitem(self, creation_data: dict[str, Any]) -> dict[str, Any]:
        return self.advantage.create_line_item(self.context_url.split("/")[-2], creation_data)

    def update_lineitem(self, update_data: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def delete_lineitem(self, line_item_id: str) -> None:
        raise NotImplementedError

    def update_score(self, line_item_id: str, score: dict[str, Any]) -> UpdateScoreStatus:
        self.find_lineitem(line_item_id)
        if not isinstance(score, dict) or any(k not in score for k in REQUIRED_SCORE_FIELDS):
            return UpdateScoreStatus.NOTAPPLIED
        with self.advantage.lock:
            self.advantage.score_posts.append({"line_item": line_item_id, **score})
            key = (line_item_id, score["userId"])
            old = self.advantage.results.get(key)
            if old is not None and old["timestamp"] >= score["timestamp"]:
                return UpdateScoreStatus.OLD_TIMESTAMP  # AGS 2.0: a score not newer than the last is not applied
            self.advantage.results[key] = score
            return UpdateScoreStatus.SUCCESS if old else UpdateScoreStatus.CREATED

    def get_results(self, line_item_id: str, page: int = 1, limit: int | None = None,
                    user_id: str | None = None) -> dict[str, Any]:
        return {"content": list(self.advantage.scores_of(line_item_id).values()), "has_next": False}
