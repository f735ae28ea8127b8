"""Staff control of a theme in headless Chromium: the admin control page, a split by ticked comments and a
rename; screenshots in artifacts/themes/ (looked at by a person)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from classifiers.themes.models import Theme, ThemeEdit, ThemeMember
from classifiers.themes.services import run_theme_run, start_theme_run
from tests.browser import system_chromium
from tests.classifiers.themes.helpers import add_comments

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "themes"


def test_an_instructor_splits_off_ticked_comments_and_renames_a_theme_in_admin(
    transactional_db, course, instructor, live_server, client, monkeypatch
):
    add_comments(course, "exam", 30)
    run = run_theme_run(start_theme_run(course, actor=None, dispatch=False).pk)
    assert run.status == "succeeded", run.error
    exam = Theme.objects.get(course=course)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    client.force_login(instructor)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with system_chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        page = context.new_page()
        page.goto(live_server.url + reverse("admin:classifiers_theme_control", args=[exam.pk]))
        page.screenshot(path=str(ARTIFACTS / "theme-control-1280px.png"), full_page=True)
        boxes = page.locator('#members input[name="comments"]')
        assert boxes.count() == 30
        for i in range(3):
            boxes.nth(i).check()
        page.fill("#split-name", "Three ticked")
        page.click('#split button[type="submit"]')
        page.wait_for_load_state()
        assert "split off into the new theme" in page.content()
        page.goto(live_server.url + reverse("admin:classifiers_theme_control", args=[exam.pk]))
        page.fill("#rename-name", "Exam <b>length</b>")
        page.click('#rename button[type="submit"]')
        page.wait_for_load_state()
        assert page.locator("#theme-summary b").first.text_content() == "Exam <b>length</b>"
        page.screenshot(path=str(ARTIFACTS / "theme-control-after-1280px.png"), full_page=True)
    part = Theme.objects.get(name_by_staff="Three ticked")
    assert ThemeMember.objects.filter(theme=part).count() == 3
    assert list(ThemeEdit.objects.order_by("pk").values_list("kind", "actor_name")) == [
        ("split", "ines"),
        ("rename", "ines"),
    ]
