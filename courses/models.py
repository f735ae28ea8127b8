"""Courses, modules, surveys, students' responses and the feedback items we classify."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from eduplatform.jobs import Job


class Faculty(models.Model):
    """A faculty (school, division) of the institution. A course belongs to at most one; a screener may be
    granted for one faculty instead of the whole institution, and the screening report counts per faculty."""

    code = models.SlugField(max_length=64, unique=True, help_text="Short unique code, e.g. ENG.")
    name = models.CharField(max_length=255)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "faculties"
        constraints = [models.CheckConstraint(condition=~Q(code=""), name="faculty_code_not_empty")]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Course(models.Model):
    code = models.SlugField(max_length=64, unique=True, help_text="Short unique code, e.g. CS101-2026S.")
    title = models.CharField(max_length=255)
    term = models.CharField(max_length=64, blank=True)
    # Decides who screens the course's held comments (faculty screeners): administrators set it, like the
    # privacy settings. PROTECT: a faculty with courses is not deleted by accident.
    faculty = models.ForeignKey(
        Faculty, null=True, blank=True, on_delete=models.PROTECT, related_name="courses",
        help_text="Screeners of this faculty review its held comments (institution-wide screeners too).",
    )
    lti_context_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    min_group_size = models.PositiveSmallIntegerField(
        default=5, help_text="Reports never break down groups smaller than this."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        # Administrators who are not superusers: institution-wide schemas and students' privacy settings.
        permissions = [("administer_institution", "Administer institution-wide schemas, models and privacy settings")]
        constraints = [
            models.CheckConstraint(condition=Q(min_group_size__gte=1), name="course_min_group_size_positive"),
            models.CheckConstraint(condition=~Q(code=""), name="course_code_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"


class Module(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    title = models.CharField(max_length=255)
    position = models.PositiveIntegerField(default=0)
    lti_resource_link_id = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        ordering = ["course", "position", "title"]
        constraints = [
            models.UniqueConstraint(fields=["course", "title"], name="module_title_unique_per_course"),
            models.UniqueConstraint(
                fields=["course", "lti_resource_link_id"], name="module_resource_link_unique_per_course"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="module_title_not_empty"),
        ]

    def __str__(self) -> str:
        return self.title


def check_module_of_course(obj: models.Model) -> None:
    """`clean()` of rows with a course and a module: the module must be one of that course's (forms call
    this; the services check it too, so no door attaches a row to another course's module)."""
    module_id, course_id = getattr(obj, "module_id", None), getattr(obj, "course_id", None)
    if module_id and course_id and not Module.objects.filter(pk=module_id, course_id=course_id).exists():
        raise ValidationError({"module": "Choose a module of this course."})


class Role(models.TextChoices):
    INSTRUCTOR = "instructor", "Instructor"
    TEACHING_ASSISTANT = "teaching_assistant", "Teaching assistant"
    ANNOTATOR = "annotator", "Annotator"
    VIEWER = "viewer", "Viewer"


class MembershipSource(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    LTI = "lti", "LTI launch"


class CourseMembership(models.Model):
    """A staff role in a course. `source` says who decides it: an LTI membership follows the latest
    launch in its context (a learner launch removes it); a manual one is only changed by hand."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    source = models.CharField(max_length=8, choices=MembershipSource.choices, default=MembershipSource.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "course"], name="membership_unique_per_user_course"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
            models.CheckConstraint(condition=Q(source__in=MembershipSource.values), name="membership_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.course.code} · {self.get_role_display()}"


class Screener(models.Model):
    """Someone administrators allowed to review held comments, institution-wide or of one faculty's courses.
    Never of a course where they hold a role (courses.permissions)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="screener")
    # PROTECT: deleting the faculty must not silently widen a faculty screener to the whole institution.
    faculty = models.ForeignKey(
        Faculty, null=True, blank=True, on_delete=models.PROTECT, related_name="screeners",
        help_text="Empty: institution-wide. Otherwise only the courses of this faculty.",
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=255, blank=True, help_text="Why, or on whose request.")

    def __str__(self) -> str:
        return f"{self.user} (screener)"


class Survey(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="surveys")
    module = models.ForeignKey(Module, null=True, blank=True, on_delete=models.SET_NULL, related_name="surveys")
    title = models.CharField(max_length=255)
    intro = models.TextField(blank=True)
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    is_anonymous = models.BooleanField(
        default=True, help_text="Respondents are linked to answers only through a keyed hash."
    )
    allow_edit = models.BooleanField(default=False, help_text="Students may edit their answers until close.")
    min_group_size = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Overrides the course's minimum group size for this survey."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["course", "-opens_at"]
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=models.F("opens_at")), name="survey_closes_after_opens"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        check_module_of_course(self)


def validate_within_feedback_limit(value: int) -> None:
    """At most FEEDBACK_MAX_CHARS, read when a form is validated: a MaxValueValidator would write the value of
    the day into the migrations, which would then differ wherever the setting does."""
    if value > settings.FEEDBACK_MAX_CHARS:
        raise ValidationError(
            f"at most {settings.FEEDBACK_MAX_CHARS:,} characters, the limit on any feedback text (FEEDBACK_MAX_CHARS)",
            code="max_value",
        )


class QuestionKind(models.TextChoices):
    LIKERT = "likert", "Likert (5-point)"
    TEXT = "text", "Free text"


class Question(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=QuestionKind.choices)
    prompt = models.TextField()
    required = models.BooleanField(default=False)
    max_length = models.PositiveIntegerField(
        default=2000,
        validators=[MinValueValidator(1), validate_within_feedback_limit],
        help_text="Free text only: longest answer accepted (characters).",
    )

    class Meta:
        ordering = ["survey", "position"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "position"], name="question_position_unique_per_survey"),
            models.CheckConstraint(condition=Q(kind__in=QuestionKind.values), name="question_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.prompt[:80]


class SurveyResponse(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    # A keyed hash (HMAC) of the respondent's identity: never the identity itself for anonymous surveys.
    respondent_key = models.CharField(max_length=128)
    # Only set for identified surveys.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Identified surveys only: who answered (LTI issuer and subject, or the invitation's recipient).
    # Always empty for anonymous surveys (the submission service never writes it there).
    respondent_label = models.CharField(max_length=255, blank=True, default="")
    # Anonymous surveys: the keyed hash of the respondent's edit code (courses.surveys.identity); the
    # invitation link alone never reopens an anonymous answer.
    edit_key_digest = models.CharField(max_length=64, blank=True, default="")
    # Set by the submission service: the day only for anonymous surveys (courses.surveys.anonymity).
    submitted_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "respondent_key"], name="one_response_per_respondent"),
        ]

    def __str__(self) -> str:
        return f"Response {self.pk} to {self.survey_id}"  # never the respondent


class Answer(models.Model):
    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    likert_value = models.PositiveSmallIntegerField(null=True, blank=True)
    feedback = models.OneToOneField(
        "Feedback", null=True, blank=True, on_delete=models.SET_NULL, related_name="answer"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "question"], name="one_answer_per_question"),
            models.CheckConstraint(
                condition=Q(likert_value__isnull=True) | Q(likert_value__gte=1, likert_value__lte=5),
                name="answer_likert_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"Answer {self.pk}"


class FeedbackSource(models.TextChoices):
    SURVEY = "survey", "Survey"
    IMPORT = "import", "Import"
    API = "api", "API"


class DatasetSplit(models.TextChoices):
    NONE = "", "Unassigned"
    TRAIN = "train", "Train"
    VALIDATION = "validation", "Validation"
    TEST = "test", "Test"


class ScreeningStatus(models.TextChoices):
    """Where a comment stands with screening (courses.screening): only `clear` and `released` text reaches
    course staff; every status but `removed` counts in reports."""

    PENDING = "pending", "Awaiting screening"
    CLEAR = "clear", "Clear"
    HELD = "held", "Held for review"
    URGENT = "urgent", "Urgent: held, sent to student support"
    RELEASED = "released", "Released by a screener"
    REMOVED = "removed", "Removed by a screener"


class Feedback(models.Model):
    """One student comment: the unit we classify. Staff and training only ever see `redacted_text`, and
    course staff only once screening let it through (`screening`, see courses.screening)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="feedback")
    module = models.ForeignKey(Module, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback")
    source = models.CharField(max_length=16, choices=FeedbackSource.choices)
    original_text = models.TextField()
    redacted_text = models.TextField()
    language = models.CharField(max_length=16, blank=True)
    submitted_at = models.DateTimeField(db_index=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    split = models.CharField(
        max_length=16, choices=DatasetSplit.choices, blank=True, default="",
        help_text="A suggested train/validation/test split from the import, used by training when present.",
    )
    import_job = models.ForeignKey(
        "ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    text_was_cut = models.BooleanField(
        default=False, help_text="The text was longer than FEEDBACK_MAX_CHARS and the import cut it at that limit.",
    )
    # A default, not auto_now_add: anonymous survey answers store the day only (courses.surveys.anonymity).
    created_at = models.DateTimeField(default=timezone.now)
    # The screen's verdict at ingest (build_feedback), then a screener's decision. Pending by default: a row
    # written past the screen shows nothing until the sweep has screened it.
    screening = models.CharField(max_length=16, choices=ScreeningStatus.choices, default=ScreeningStatus.PENDING)
    screening_reasons = models.JSONField(default=list, blank=True, help_text="Why it was held (screen's reasons).")
    screening_score = models.FloatField(null=True, blank=True, help_text="The deciding screen's highest score.")
    screened_with = models.CharField(max_length=128, blank=True, help_text="The screen (and version) that decided.")

    class Meta:
        verbose_name_plural = "feedback"
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["course", "submitted_at"], name="feedback_course_submitted"),
            # Reports: the newest feedback id per course is a freshness watermark of their summary.
            models.Index(fields=["course", "id"], name="feedback_course_id"),
            # The few rows course staff may not read (the review queue, "N awaiting review", the report
            # watermark): a small partial index, whatever the size of the table.
            models.Index(fields=["course", "screening"], name="feedback_not_shown",
                         condition=~Q(screening__in=["clear", "released"])),
        ]
        constraints = [
            models.UniqueConstraint(fields=["course", "external_id"], name="feedback_external_id_unique_per_course"),
            models.CheckConstraint(condition=Q(source__in=FeedbackSource.values), name="feedback_source_valid"),
            models.CheckConstraint(condition=Q(split__in=DatasetSplit.values), name="feedback_split_valid"),
            models.CheckConstraint(condition=Q(screening__in=ScreeningStatus.values), name="feedback_screening_valid"),
            models.CheckConstraint(
                condition=Q(original_text__regex=r"\S"), name="feedback_text_not_blank"
            ),
            models.CheckConstraint(
                # The fixed ceiling, not FEEDBACK_MAX_CHARS: the setting comes from the environment and may
                # be raised up to the ceiling without a migration (settings.py refuses a value above it).
                condition=LessThanOrEqual(Length("original_text"), settings.FEEDBACK_MAX_CHARS_CEILING),
                name="feedback_text_max_length",
            ),
        ]

    def __str__(self) -> str:
        return self.redacted_text[:80]

    def clean(self) -> None:
        check_module_of_course(self)


class ImportJob(Job):
    """An upload that runs on the worker; the import itself is all-or-nothing."""

    course_code = models.CharField(max_length=64)
    file_path = models.CharField(max_length=1024)
    original_name = models.CharField(max_length=255)
    options = models.JSONField(default=dict, blank=True)
    rows_imported = models.PositiveIntegerField(default=0)
    annotations_imported = models.PositiveIntegerField(default=0)
    # Texts over FEEDBACK_MAX_CHARS cut at the limit (options["long_texts"] == "cut"); always 0 under "refuse".
    texts_cut = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Import {self.original_name} into {self.course_code} ({self.status})"
