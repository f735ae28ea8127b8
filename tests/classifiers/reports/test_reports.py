"""Per-module reports: privacy on every way out, label precedence, the baseline gate, alerts, queries."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from classifiers.reports.models import Alert, BaselineOverride, ReportSnapshot
from classifiers.reports.selectors import module_report
from classifiers.reports.services import detect_alerts
from courses.models import Answer, Question, Survey, SurveyResponse
from tests.classifiers.reports.report_data import MONDAY, add_feedback, annotate, version
from tests.factories import ModuleFactory, UserFactory

pytestmark = pytest.mark.django_db
NEG, NEU, POS = "negative", "neutral", "positive"


@pytest.fixture
def small_and_big(course):
    """`Big` has 12 labelled comments; `Small` has 4 (below the default minimum of 5)."""
    model = version(course)
    big = ModuleFactory(course=course, title="Big module", position=1)
    small = ModuleFactory(course=course, title="Small module", position=2)
    add_feedback(course, big, [NEG] * 3 + [NEU] * 4 + [POS] * 5, model=model)
    add_feedback(course, small, [NEG] * 4, model=model, text="tiny group remark")
    return big, small


def _url(course, name="course_report", **params):
    url = reverse(f"reports:{name}", kwargs={"course_code": course.code})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# --- privacy -------------------------------------------------------------------------------------------


def test_selector_hides_breakdown_of_module_with_four_responses(course, sentiment, small_and_big):
    report = module_report(course, sentiment)
    small = next(m for m in report.modules if m.title == "Small module")
    assert (small.shown, small.responses, small.distribution, small.trend, small.comments) == (
        False, None, [], [], {})
    assert small.note == "fewer than 5 responses"
    assert "tiny group remark" not in json.dumps(report.as_dict())


@pytest.mark.parametrize("who", ["instructor", "superuser"])
def test_page_csv_and_admin_show_no_breakdown_of_small_module(client, course, small_and_big, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    page = client.get(_url(course)).content.decode()
    assert "Small module" in page and "fewer than 5 responses" in page
    assert "tiny group remark" not in page
    small_card = page.split('aria-label="Small module"')[1].split("</article>")[0]
    assert "<table" not in small_card and "%" not in small_card

    for chart in ("modules", "module-trends"):
        rows = [r for r in _csv(client.get(_url(course, "course_report_csv", chart=chart))) if "Small" in str(r)]
        assert rows and all(r["note"] == "fewer than 5 responses" for r in rows)
        assert all(r.get("count", "") == "" and r.get("share", "") == "" for r in rows)

    snapshot = ReportSnapshot.objects.get(course=course)
    admin_page = client.get(reverse("admin:reports_reportsnapshot_change", args=[snapshot.pk]))
    assert admin_page.status_code == 200
    row = admin_page.content.decode().split("Small module")[1].split("</tr>")[0]
    assert "fewer than 5 responses" in row and "4" not in row


def test_hidden_week_that_could_be_subtracted_hides_another_week(course, sentiment):
    """Weeks 0 and 1 have 6 each, week 2 has 2: hiding week 2 alone would let total - shown reveal it."""
    model = version(course)
    module = ModuleFactory(course=course, title="Labs")
    add_feedback(course, module, [POS] * 6, week=0, model=model)
    add_feedback(course, module, [NEG] * 5 + [POS] * 2, week=1, model=model)
    add_feedback(course, module, [NEG] * 2, week=2, model=model)
    row = module_report(course, sentiment).modules[0]
    assert row.shown and row.responses == 15
    hidden = [c.week for c in row.trend if not c.shown]
    assert len(hidden) == 2 and MONDAY.date() + timedelta(weeks=2) in hidden
    shown_total = sum(c.labelled for c in row.trend if c.shown)
    assert row.labelled - shown_total >= 5


def test_course_average_leaves_out_hidden_modules(course, sentiment, small_and_big):
    report = module_report(course, sentiment)
    average = {c.label: c.count for c in report.course_average}
    assert average == {NEG: 3, NEU: 4, POS: 5}  # the Small module's 4 negatives are not in it


def test_anonymous_respondents_cannot_be_identified(client, course, sentiment, instructor):
    model = version(course)
    module = ModuleFactory(course=course, title="Surveyed")
    student = UserFactory(username="student_zed", email="zed@uni.example")
    survey = Survey.objects.create(course=course, module=module, title="Mid-term", is_anonymous=True,
                                   opens_at=MONDAY, closes_at=MONDAY + timedelta(days=30))
    question = Question.objects.create(survey=survey, kind="text", prompt="Thoughts?")
    items = add_feedback(course, module, [NEG] * 5 + [POS], model=model, source="survey",
                         text="the pace felt rushed")
    for i, item in enumerate(items):
        item.original_text = f"I am student_zed, mail zed@uni.example {i}"
        item.save()
        response = SurveyResponse.objects.create(survey=survey, respondent_key=f"hmac-secret-{i}",
                                                 user=student if i == 0 else None)
        Answer.objects.create(response=response, question=question, feedback=item)
    client.force_login(instructor)
    outputs = [client.get(_url(course)).content.decode()]
    outputs += [client.get(_url(course, "course_report_csv", chart=c)).content.decode()
                for c in ("modules", "trend", "module-trends")]
    outputs.append(json.dumps(module_report(course, sentiment).as_dict()))
    assert "the pace felt rushed" in outputs[0]  # the redacted comment is there...
    for text in outputs:  # ...but nothing that ties it to a person, a key, an id or a time
        for secret in ("student_zed", "zed@uni.example", "hmac-secret", f"/{items[0].pk}", "10:00"):
            assert secret not in text
    assert "6 survey respondents" in outputs[0]


# --- labels, the gate ---------------------------------------------------------------------------------


def test_human_annotation_takes_precedence_over_prediction(course, sentiment, annotator):
    model = version(course)
    module = ModuleFactory(course=course, title="Week 1")
    items = add_feedback(course, module, [POS] * 10, model=model)
    module_report(course, sentiment)  # build a summary first: the annotation must invalidate it
    for item in items[:5]:
        annotate(item, NEG, annotator)
    report = module_report(course, sentiment)
    counts = {c.label: c.count for c in report.modules[0].distribution}
    assert counts == {NEG: 5, NEU: 0, POS: 5}
    assert report.labelled_by_humans == 5
    assert report.modules[0].comments[NEG][0].human


def test_comments_only_for_label_groups_of_minimum_size(course, sentiment):
    model = version(course)
    module = ModuleFactory(course=course, title="M")
    add_feedback(course, module, [POS] * 8, model=model, text="fine")
    add_feedback(course, module, [NEG] * 2, model=model, text="only two said this")
    row = module_report(course, sentiment).modules[0]
    assert row.shown and set(row.comments) == {POS}


def test_version_below_baseline_is_not_used_until_staff_override(client, course, sentiment, instructor, annotator):
    model = version(course, beats=False, f1=0.30, baseline=0.35)
    module = ModuleFactory(course=course, title="Week 1")
    add_feedback(course, module, [NEG] * 6, model=model)
    report = module_report(course, sentiment)
    assert not report.version.used and report.modules[0].labelled is None
    client.force_login(instructor)
    page = client.get(_url(course)).content.decode()
    assert "does not beat its majority baseline" in page and "0.300" in page and "0.350" in page

    client.force_login(annotator)  # annotators may not flip the gate
    assert client.post(_url(course, "override_gate"), {"reason": "x"}).status_code == 403
    client.force_login(instructor)
    client.post(_url(course, "override_gate"), {"reason": ""})
    assert not BaselineOverride.objects.exists()
    client.post(_url(course, "override_gate"), {"reason": "small validation set; spot-checked 50 items"})
    override = BaselineOverride.objects.get()
    assert (override.actor, override.model_version) == (instructor, model)
    report = module_report(course, sentiment)
    assert report.version.used and report.version.override_by == "ines"
    assert {c.label: c.count for c in report.modules[0].distribution}[NEG] == 6


def test_report_states_version_training_time_and_f1_beside_baseline(client, course, instructor):
    model = version(course, f1=0.812, baseline=0.331, number=3)
    add_feedback(course, ModuleFactory(course=course), [POS] * 5, model=model)
    client.force_login(instructor)
    page = client.get(_url(course)).content.decode()
    assert "sentiment v3 (CS101)" in page and "0.812" in page and "0.331" in page
    assert model.training_run.finished_at.strftime("%-d %b %Y") in page


# --- alerts ---------------------------------------------------------------------------------------------


def test_alert_fires_once_per_module_per_week(course, sentiment, settings):
    settings.REPORT_ALERT_RISE, settings.REPORT_ALERT_MIN_COUNT = 0.25, 10
    model = version(course)
    rising = ModuleFactory(course=course, title="Rising")
    steady = ModuleFactory(course=course, title="Steady")
    add_feedback(course, rising, [NEG] * 2 + [POS] * 10, week=0, model=model)
    add_feedback(course, rising, [NEG] * 8 + [POS] * 4, week=1, model=model)
    add_feedback(course, steady, [NEG] * 3 + [POS] * 9, week=0, model=model)
    add_feedback(course, steady, [NEG] * 4 + [POS] * 8, week=1, model=model)
    week = MONDAY.date() + timedelta(weeks=1)
    created = detect_alerts(course, sentiment, week=week)
    assert [a.module for a in created] == [rising]
    assert detect_alerts(course, sentiment, week=week) == []
    assert Alert.objects.count() == 1
    assert module_report(course, sentiment).alerts[0].module == "Rising"


def test_alert_does_not_fire_below_minimum_count(course, sentiment, settings):
    settings.REPORT_ALERT_RISE, settings.REPORT_ALERT_MIN_COUNT = 0.25, 10
    model = version(course)
    module = ModuleFactory(course=course, title="Few")
    add_feedback(course, module, [POS] * 9, week=0, model=model)
    add_feedback(course, module, [NEG] * 9, week=1, model=model)  # 0% → 100%, but only 9 a week
    assert detect_alerts(course, sentiment, week=MONDAY.date() + timedelta(weeks=1)) == []


# --- access, freshness, queries ------------------------------------------------------------------------


def test_outsider_gets_404_and_anonymous_is_sent_to_login(client, course, outsider, small_and_big):
    client.force_login(outsider)
    assert client.get(_url(course)).status_code == 404
    assert client.get(_url(course, "course_report_csv")).status_code == 404
    client.logout()
    assert client.get(_url(course)).status_code == 302


def test_bad_parameters_get_a_specific_400(client, course, instructor, small_and_big):
    client.force_login(instructor)
    response = client.get(_url(course, since="2026-13-01"))
    assert response.status_code == 400 and b'"since" must be a date' in response.content
    assert client.get(_url(course, "course_report_csv", chart="pie")).status_code == 400
    assert client.get(_url(course, schema="nope")).status_code == 404


def test_summary_follows_new_predictions(course, sentiment):
    model = version(course)
    module = ModuleFactory(course=course, title="M")
    add_feedback(course, module, [POS] * 5, model=model)
    assert module_report(course, sentiment).modules[0].labelled == 5
    add_feedback(course, module, [NEG] * 2, model=model)
    assert module_report(course, sentiment).modules[0].labelled == 7


def test_query_count_does_not_grow_with_modules(client, course, instructor):
    model = version(course)
    client.force_login(instructor)

    def queries_with(n_modules: int) -> int:
        for i in range(n_modules):
            add_feedback(course, ModuleFactory(course=course), [NEG, NEU, POS, POS, POS], week=i % 3, model=model)
        client.get(_url(course))  # warm: builds the summary
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(_url(course)).status_code == 200
        return len(ctx.captured_queries)

    assert queries_with(2) == queries_with(10)


def test_warm_page_is_served_from_cache_with_the_same_queries_for_3_and_40_modules(client, course, instructor):
    """The second view of an unchanged report reads neither cells nor comments, however many modules.

    Regression: the cache key held the snapshot's build time as a repr, whose tzinfo differs between the
    request that built the summary (datetime.timezone.utc) and later ones (loaded from Postgres), so the
    first warm request always missed and a benchmark counted a miss for one course and a hit for another.
    """
    model = version(course)
    client.force_login(instructor)

    def warm_queries(n_modules: int) -> list[str]:
        for i in range(n_modules):
            add_feedback(course, ModuleFactory(course=course), [NEG, NEU, POS, POS, POS], week=i % 3, model=model)
        client.get(_url(course))  # cold: builds the summary and caches the report
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(_url(course)).status_code == 200
        return [q["sql"] for q in ctx.captured_queries]

    three = warm_queries(3)
    forty = warm_queries(37)
    assert not any("classifiers_reportcell" in sql or "classifiers_reportcomment" in sql for sql in three + forty)
    assert len(three) == len(forty)


def test_since_and_until_keep_whole_weeks_for_cells_comments_alerts_and_respondents(course, sentiment):
    """A Wednesday `since` and a Tuesday `until` of the same week select that week (Monday to Sunday) only."""
    model = version(course)
    module = ModuleFactory(course=course, title="Weekly")
    survey = Survey.objects.create(course=course, module=module, title="Pulse", opens_at=MONDAY,
                                   closes_at=MONDAY + timedelta(days=30))
    for week, text in enumerate(("first week", "second week", "third week")):
        add_feedback(course, module, [POS] * 6, week=week, model=model, text=text)
        Alert.objects.create(course=course, module=module, schema=sentiment, share=0.5, previous_share=0.1,
                             count=6, previous_count=6, week=MONDAY.date() + timedelta(weeks=week))
        responses = [SurveyResponse.objects.create(survey=survey, respondent_key=f"{week}-{i}") for i in range(5)]
        SurveyResponse.objects.filter(pk__in=[r.pk for r in responses]).update(
            submitted_at=MONDAY + timedelta(weeks=week, days=6, hours=12))  # Sunday: still that week
    second = MONDAY.date() + timedelta(weeks=1)
    report = module_report(course, sentiment, since=second + timedelta(days=2),
                           until=second + timedelta(days=1))
    row = report.modules[0]
    assert report.weeks == [second] and row.labelled == 6
    assert {c.text.rsplit(" ", 1)[0] for c in row.comments[POS]} == {"second week"}
    assert [a.week for a in report.alerts] == [second]
    assert row.respondents == 5


def test_cold_page_reads_the_report_inputs_once(client, course, instructor, small_and_big):
    """The page needs the key before it knows whether to build; a miss builds from the same inputs."""
    client.force_login(instructor)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(_url(course)).status_code == 200
    reads = [q["sql"] for q in ctx.captured_queries if 'FROM "classifiers_reportsettings"' in q["sql"]]
    assert len(reads) == 1


def test_override_without_an_active_model_says_so_and_records_nothing(client, course, instructor):
    client.force_login(instructor)
    response = client.post(_url(course, "override_gate"), {"reason": "spot-checked"}, follow=True)
    assert "Schema sentiment has no active model in CS101." in response.content.decode()
    assert not BaselineOverride.objects.exists()
