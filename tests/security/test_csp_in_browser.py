"""The Content-Security-Policy breaks nothing: headless Chromium opens every kind of page and reports no
CSP violation and no script error, and the scripts moved to static files still work."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from classifiers.models import LabelSchema
from courses.lti.registration import register_platform
from tests.browser import system_chromium
from tests.factories import FeedbackFactory, ModuleFactory, QuestionFactory, SurveyFactory, TrainingRunFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chromium(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with system_chromium() as browser:
        yield browser


def test_pages_run_under_the_policy_without_violations(chromium, live_server, course, superuser):
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    module = ModuleFactory(course=course, title="Week 1")
    for i in range(3):
        FeedbackFactory(course=course, module=module, original_text=f"Comment {i}")
    run = TrainingRunFactory(schema=schema)
    survey = SurveyFactory(course=course)
    QuestionFactory(survey=survey)
    register_platform(name="LMS", issuer="https://lms.example.edu", client_id="tool",
                      auth_url="https://lms.example.edu/auth", token_url="https://lms.example.edu/token",
                      keyset_url="https://lms.example.edu/jwks", deployment_ids=["dep-1"])
    problems: list[str] = []
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    # Redoc's "by Redocly" logo comes from its CDN and is meant to be refused (the docs call no third party).
    page.on("console", lambda m: problems.append(f"{page.url}: {m.text}")
            if "Content Security Policy" in m.text and "https://cdn.redoc.ly/" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(live_server.url)
               else route.abort())  # offline, as in production behind a firewall

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", superuser.username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    annotate = f"/admin/classifiers/labelschema/{schema.pk}/course/{course.pk}/"
    lti_login = "/lti/login/?" + urlencode({"iss": "https://lms.example.edu", "client_id": "tool", "login_hint": "u1",
                                            "target_link_uri": f"{live_server.url}/lti/launch/"})
    for path in ("/admin/", "/admin/courses/course/", f"/admin/courses/course/{course.pk}/change/",
                 f"/admin/classifiers/labelschema/{schema.pk}/change/", "/admin/classifiers/labelschema/add/",
                 annotate + "annotate/", annotate + "adjudicate/", f"/admin/classifiers/trainingrun/{run.pk}/change/",
                 "/admin/classifiers/importjob/upload/", f"/reports/{course.code}/", f"/surveys/{survey.pk}/",
                 "/api/redoc/", lti_login):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")

    # The annotate page's script (now a static file) runs: the queue-order select reloads the page.
    page.goto(live_server.url + annotate + "annotate/")
    page.wait_for_function("() => window.annotateState && window.annotateState().current !== null")
    with page.expect_navigation():
        page.select_option("select[name=order]", "random")
    assert "order=random" in page.url
    # The training run's progress script (a static file) polls: a succeeded run fills the bar.
    page.goto(f"{live_server.url}/admin/classifiers/trainingrun/{run.pk}/change/")
    page.wait_for_function("() => document.getElementById('run-bar').value === 100")
    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector(".redoc-wrap", timeout=30_000)
    # Swagger UI starts from the split view's script file.
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert problems == []
