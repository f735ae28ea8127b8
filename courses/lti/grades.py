"""Participation credit through LTI Assignment and Grade Services 2.0 (https://www.imsglobal.org/spec/lti-ags/v2p0).

An instructor who links a survey with "give participation credit" (deep linking) sends the platform a line
item (score maximum 1) with the link, and the link carries `eduplatform_credit=1`. A learner launch of such
a link with the AGS claim records the line item (ParticipationLineItem) and marks the session; the student's
first completed response then adds, in the same transaction, a pending ScorePost (their platform id and a
fixed timestamp). A Celery task posts score 1 ("Completed", "FullyGraded"): retried with backoff on errors
that can heal, idempotent (one row per student and line item; a re-post carries the same timestamp, which
the platform answers as already recorded), and a beat sweep posts what a killed worker left.

Anonymous surveys: the score says that a student answered, never what. Nothing ties a score to a response
(no foreign key, no id, no time finer than the day), the platform id is blanked once posted, and scores are
posted in batches of at least the survey's minimum group size (or all at the close), so the gradebook's
times cannot single out one response of a day either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from lti_tool.models import LtiRegistration

from courses.models import Survey
from courses.surveys.anonymity import day_of

from . import outbound, platform_services, selectors
from .claims import AGS_CLAIM
from .models import ParticipationLineItem, ScorePost, ScoreStatus
from .outbound import PlatformError, check_platform_url

logger = logging.getLogger(__name__)

CREDIT_PARAM = "eduplatform_credit"
SESSION_KEY = "credit"  # in session["lti_identity"]: the ParticipationLineItem id of this launch
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_READONLY_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SUBJECT_SALT = "courses.lti.score-subject"
TAG = "eduplatform-participation"
# Errors worth another try: the platform or the network may recover; a 400/403/404 will not.
HEALABLE_STATUSES = {None, 408, 425, 429, 500, 502, 503, 504}


def resource_id(survey: Survey) -> str:
    return f"eduplatform-survey-{survey.pk}"


def line_item_label(survey: Survey) -> str:
    return f"Participation: {survey.title}"[:255]


# --- At launch --------------------------------------------------------------------------------------------


def note_launch(survey: Survey, registration: LtiRegistration, claims: dict[str, Any]) -> ParticipationLineItem | None:
    """The line item a learner's launch of a credit link points at; None (logged) when the link gives no
    credit or the platform offers no score service. Never raises for the platform's sake."""
    custom = claims.get("https://purl.imsglobal.org/spec/lti/claim/custom") or {}
    if str(custom.get(CREDIT_PARAM, "")).strip() not in ("1", "true", "True"):
        return None
    endpoint = claims.get(AGS_CLAIM + "endpoint")
    scopes = endpoint.get("scope") if isinstance(endpoint, dict) else None
    if not isinstance(scopes, list) or SCORE_SCOPE not in scopes:
        logger.warning("LTI grades: survey %s is linked with credit but the launch offers no score service", survey.pk)
        return None
    urls = {}
    for key in ("lineitem", "lineitems"):
        value = endpoint.get(key)
        if value:
            try:
                urls[key] = check_platform_url(value, what=f"AGS {key} URL")
            except PlatformError as exc:
                logger.warning("LTI grades: survey %s: %s", survey.pk, exc)
    if "lineitem" not in urls and not ("lineitems" in urls and LINEITEM_SCOPE in scopes):
        logger.warning("LTI grades: survey %s: the launch names no line item and may not create one", survey.pk)
        return None
    context = claims.get("https://purl.imsglobal.org/spec/lti/claim/context") or {}
    link = claims.get("https://purl.imsglobal.org/spec/lti/claim/resource_link") or {}
    where = {"survey": survey, "registration": registration, "resource_link_id": link.get("id", ""),
             "context_key": selectors.context_key(claims["iss"], context.get("id", ""))}
    try:
        with transaction.atomic():
            item, _ = ParticipationLineItem.objects.get_or_create(**where, defaults={
                "lineitem_url": urls.get("lineitem", ""), "lineitems_url": urls.get("lineitems", "")})
    except IntegrityError:  # two students' first launches at once
        item = ParticipationLineItem.objects.get(**where)
    if urls.get("lineitem") and item.lineitem_url != urls["lineitem"]:
        ParticipationLineItem.objects.filter(pk=item.pk).update(lineitem_url=urls["lineitem"])
    return item


# --- When a student's response is first stored ---------------------------------------------------------


@dataclass(frozen=True)
class Credit:
    """What a survey page needs to give participation credit: the line item and who launched."""

    line_item_id: int
    issuer: str
    sub: str
    anonymous: bool

    def record(self) -> None:
        """Called inside the response's transaction (so a stored response always has its pending score);
        knows nothing of the response itself."""
        record_participation(self)


def credit_for(identity: Any, survey: Survey) -> Credit | None:
    """The credit a learner's LTI session carries for `survey` (its own line item, same course); else None."""
    if not isinstance(identity, dict) or not isinstance(identity.get(SESSION_KEY), int):
        return None
    item = ParticipationLineItem.objects.filter(pk=identity[SESSION_KEY], survey=survey).first()
    iss, sub = identity.get("iss"), identity.get("sub")
    if item is None or not isinstance(iss, str) or not isinstance(sub, str) or not sub:
        return None
    return Credit(item.pk, iss, sub, survey.is_anonymous)


def subject_key(line_item_id: int, issuer: str, sub: str) -> str:
    secret = settings.SURVEY_RESPONDENT_SECRET
    return salted_hmac(SUBJECT_SALT, f"{line_item_id}|{issuer}|{sub}", secret=secret, algorithm="sha256").hexdigest()


def record_participation(credit: Credit) -> None:
    now = timezone.now()
    stamp = day_of(now) if credit.anonymous else now
    try:
        with transaction.atomic():  # a savepoint: a duplicate leaves the caller's transaction usable
            ScorePost.objects.create(line_item_id=credit.line_item_id,
                                     subject_key=subject_key(credit.line_item_id, credit.issuer, credit.sub),
                                     user_id_on_platform=credit.sub[:255], timestamp=stamp)
    except IntegrityError:
        return  # this student's score is already on its way (one per student and line item)
    transaction.on_commit(lambda: queue_posting(credit.line_item_id))


def queue_posting(line_item_id: int) -> None:
    """Enqueue the posting; a broker that is down leaves the score pending for the beat sweep."""
    from .tasks import post_scores_task

    try:
        post_scores_task.delay(line_item_id)
    except Exception as exc:  # kombu/redis errors differ by transport; the sweep posts it later
        logger.warning("LTI grades: could not queue the scores of line item %s (%s); the sweep will post them",
                       line_item_id, type(exc).__name__)


# --- Posting -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostingOutcome:
    posted: int
    waiting: int  # anonymous surveys: held until a batch is large enough
    retry: bool  # an error that can heal: try again later


def _batch_minimum(survey: Survey) -> int:
    return max(survey.course.min_group_size, survey.min_group_size or 0, settings.MIN_GROUP_SIZE_FLOOR)


def _due(item: ParticipationLineItem, now: Any) -> list[int]:
    pending = ScorePost.objects.filter(line_item=item, status=ScoreStatus.PENDING).exclude(claimed_until__gt=now)
    ids = list(pending.order_by("?").values_list("pk", flat=True))
    survey = item.survey
    if survey.is_anonymous and survey.closes_at > now and len(ids) < _batch_minimum(survey):
        return []
    return ids


def post_scores(line_item_id: int) -> PostingOutcome:
    """Post every due score of the line item; each row is claimed first (a lease), so two workers never
    post the same row at once, and a row whose worker died is claimable again once its lease ends."""
    item = ParticipationLineItem.objects.select_related("survey__course", "registration").filter(
        pk=line_item_id).first()
    if item is None:
        return PostingOutcome(0, 0, False)
    now = timezone.now()
    lease = now + timedelta(seconds=settings.LTI_SCORE_CLAIM_S)
    # One conditional UPDATE claims the rows: a concurrent claimer's UPDATE waits for this one and then no
    # longer matches them (PostgreSQL re-checks the WHERE clause), so each row has one poster at a time.
    ScorePost.objects.filter(pk__in=_due(item, now), status=ScoreStatus.PENDING).exclude(
        claimed_until__gt=now).update(claimed_until=lease)
    claimed = list(ScorePost.objects.filter(line_item=item, claimed_until=lease, status=ScoreStatus.PENDING)
                   .values_list("pk", flat=True))
    waiting = ScorePost.objects.filter(line_item=item, status=ScoreStatus.PENDING).count() - len(claimed)
    if not claimed:
        return PostingOutcome(0, waiting, False)
    try:
        url = _line_item_url(item)
    except PlatformError as exc:
        return _failed(claimed, exc, waiting)
    posted = 0
    for score in ScorePost.objects.filter(pk__in=claimed):
        try:
            _post_one(item, url, score)
        except PlatformError as exc:
            return _failed(claimed, exc, waiting, posted)  # the rows still pending among them
        posted += 1
    logger.info("LTI grades: %d participation score(s) posted for survey %s", posted, item.survey_id)
    return PostingOutcome(posted, waiting, False)


def _post_one(item: ParticipationLineItem, url: str, score: ScorePost) -> None:
    body = {"userId": score.user_id_on_platform, "scoreGiven": 1, "scoreMaximum": 1,
            "activityProgress": "Completed", "gradingProgress": "FullyGraded",
            "timestamp": score.timestamp.isoformat(timespec="milliseconds")}
    try:
        platform_services.request(item.registration, "POST", _service_url(url, "scores"), scopes=[SCORE_SCOPE],
                                  what="score", accept="application/json", content_type=SCORE_MEDIA_TYPE,
                                  body=body, origin=url)
    except PlatformError as exc:
        if exc.status != 409:  # 409: a score with this timestamp is already recorded (a re-post after a crash)
            raise
    day = score.timestamp if item.survey.is_anonymous else timezone.now()
    ScorePost.objects.filter(pk=score.pk).update(status=ScoreStatus.POSTED, user_id_on_platform="", posted_at=day,
                                                 claimed_until=None, last_error="")


def _failed(ids: list[int], exc: PlatformError, waiting: int, posted: int = 0) -> PostingOutcome:
    healable = exc.status in HEALABLE_STATUSES
    ids = list(ScorePost.objects.filter(pk__in=ids, status=ScoreStatus.PENDING).values_list("pk", flat=True))
    for score in ScorePost.objects.filter(pk__in=ids):
        attempts = score.attempts + 1
        give_up = not healable or attempts >= settings.LTI_SCORE_MAX_ATTEMPTS
        ScorePost.objects.filter(pk=score.pk).update(
            attempts=attempts, last_error=str(exc)[:2000], claimed_until=None,
            status=ScoreStatus.FAILED if give_up else ScoreStatus.PENDING,
            user_id_on_platform="" if give_up else score.user_id_on_platform,
        )
    logger.warning("LTI grades: posting %d score(s) failed (%s): %s", len(ids), "will retry" if healable else
                   "gave up", exc)
    return PostingOutcome(posted, waiting + len(ids), healable)


def _service_url(url: str, suffix: str) -> str:
    """The line item URL with /scores appended to its path (AGS 2.0: the query string stays)."""
    path, sep, query = url.partition("?")
    return f"{path.rstrip('/')}/{suffix}{sep}{query}"


def _line_item_url(item: ParticipationLineItem) -> str:
    """The line item's URL: from the launch, or found by resourceId, or created (once) through lineitems."""
    if item.lineitem_url:
        return item.lineitem_url
    lock = f"lti-lineitem-{item.pk}"
    if not cache.add(lock, 1, 60):
        raise PlatformError("Another worker is creating this line item; trying again shortly.")
    try:
        item.refresh_from_db(fields=["lineitem_url"])
        if item.lineitem_url:
            return item.lineitem_url
        url = _find_or_create(item)
        ParticipationLineItem.objects.filter(pk=item.pk).update(lineitem_url=url)
        return url
    finally:
        cache.delete(lock)


def _find_or_create(item: ParticipationLineItem) -> str:
    reg, base = item.registration, item.lineitems_url
    query = f"resource_id={resource_id(item.survey)}&resource_link_id={item.resource_link_id}"
    reply = platform_services.request(reg, "GET", f"{base}{'&' if '?' in base else '?'}{query}",
                                      scopes=[LINEITEM_SCOPE], what="line items", accept=LINEITEMS_MEDIA_TYPE,
                                      origin=base)
    for existing in reply.body if isinstance(reply.body, list) else []:
        if isinstance(existing, dict) and existing.get("resourceId") == resource_id(item.survey) and isinstance(
                existing.get("id"), str):
            return _on_site(check_platform_url(existing["id"], what="line item id"), base)
    created = platform_services.request(
        reg, "POST", base, scopes=[LINEITEM_SCOPE], what="line item", accept=LINEITEM_MEDIA_TYPE,
        content_type=LINEITEM_MEDIA_TYPE, origin=base,
        body={"scoreMaximum": 1, "label": line_item_label(item.survey), "resourceId": resource_id(item.survey),
              "resourceLinkId": item.resource_link_id, "tag": TAG})
    new_id = created.body.get("id") if isinstance(created.body, dict) else None
    url = _on_site(check_platform_url(new_id, what="new line item's id"), base)
    logger.info("LTI grades: created line item %s for survey %s", url, item.survey_id)
    return url


def _on_site(url: str, base: str) -> str:
    """A line item must live where the platform's lineitems service does: our bearer token goes there."""
    if not outbound.same_origin(url, base):
        raise PlatformError(f"The platform's line item {url[:200]} lives on another site; not used.")
    return url


def due_line_items() -> list[int]:
    """Line items with scores a worker should (re)try now: pending, unclaimed or whose claim ran out."""
    now = timezone.now()
    return list(ScorePost.objects.filter(status=ScoreStatus.PENDING).exclude(claimed_until__gt=now)
                .values_list("line_item_id", flat=True).distinct())
