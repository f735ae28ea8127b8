import pytest

from courses.redaction import find_pii, redact_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jane.doe+course@uni.example.edu please", "mail me at [EMAIL] please"),
        ("JANE.DOE@UNI.AC.UK wrote this", "[EMAIL] wrote this"),
        ("write to jane (at) uni (dot) edu", "write to [EMAIL]"),
        ("write to jane[at]uni.edu.", "write to [EMAIL]."),
        ("see https://example.edu/path?q=1&x=2.", "see [URL]."),
        ("(see www.example.org/notes)", "(see [URL])"),
        ("slides at drive.google.com/file/d/abc", "slides at [URL]"),
        ("call +44 20 7946 0958 now", "call [PHONE] now"),
        ("call (555) 123-4567 or 555.123.4567", "call [PHONE] or [PHONE]"),
        ("my id is 20231234, not yours", "my id is [STUDENT_ID], not yours"),
        ("ID s1234567 here", "ID [STUDENT_ID] here"),
        ("ping @prof_smith on the forum", "ping [HANDLE] on the forum"),
        ("the URL https://x.org/~a@b.com is one URL", "the URL [URL] is one URL"),
    ],
)
def test_redact_text_replaces_each_kind_with_its_placeholder(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "the exam on 2026-03-14 was hard",
        "I scored 85 out of 100 in week 3",
        "chapters 10 - 12 were long",
        "lecture at 9.30 in room 2.14",
        "C++ and C# are both used; version 3.11.7 of Python",
        "email is a great way to reach the tutor",
        "the ratio 3:2 and 1/2 of the class",
        # Bare domains are redacted, but not words joined by a missing space or file names.
        "The lecture was good.It was long",
        "we used Node.js and index.html",
        "e.g. this, i.e. that, at 10 a.m.",
        "U.K. and U.S. students",
    ],
)
def test_redact_text_leaves_ordinary_numbers_dates_and_words_alone(text):
    assert redact_text(text) == text


def test_email_is_not_also_reported_as_a_handle():
    kinds = [r.kind for r in find_pii("contact a.b@c.org")]
    assert kinds == ["EMAIL"]


def test_student_id_pattern_is_configurable():
    assert redact_text("student AB-12345", student_id_pattern=r"\bAB-\d{5}\b") == "student [STUDENT_ID]"
    assert redact_text("student AB-12345") == "student AB-12345"


def test_unicode_text_around_pii_is_kept():
    assert redact_text("Très bien 👍 — écrivez à élève@uni.fr") == "Très bien 👍 — écrivez à [EMAIL]"
