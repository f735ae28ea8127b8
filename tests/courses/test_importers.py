"""The pure parser: every bad input names its line and column."""

from datetime import UTC

import pytest

from courses.importers import ROW_NUMBER, ImportOptions, ImportRejected, LongTexts, TextTooLong, cut_text, parse_rows
from courses.redaction import redact_text

OPTS = ImportOptions(text_col="text", module_col="module", submitted_col="when", id_col="id", label_col="label")


def parse(data: str | bytes, fmt: str = "csv", options: ImportOptions = OPTS):
    raw = data.encode() if isinstance(data, str) else data
    return parse_rows(raw, fmt, options, tz=UTC)


def rejected(data, fmt="csv", options=OPTS) -> ImportRejected:
    with pytest.raises(ImportRejected) as info:
        parse(data, fmt, options)
    return info.value


def test_csv_with_bom_multiline_field_and_labels_parses():
    data = "\ufefftext,module,when,id,label\n\"two\nlines\",Week 1,2026-03-14,a1,positive\nok,,,a2,\n"
    rows = parse(data)
    assert [r.text for r in rows] == ["two\nlines", "ok"]
    assert rows[0].submitted_at.isoformat() == "2026-03-14T00:00:00+00:00"
    assert rows[0].labels == ["positive"] and rows[1].labels == []
    assert rows[1].module is None and rows[1].line == 4


def test_tsv_and_jsonl_parse_the_same_rows():
    tsv = "text\tmodule\twhen\tid\tlabel\nhello\tW1\t2026-03-14T10:00:00Z\t1\tneutral\n"
    jsonl = '{"text": "hello", "module": "W1", "when": "2026-03-14T10:00:00Z", "id": 1, "label": ["neutral"]}\n'
    a, b = parse(tsv, "tsv")[0], parse(jsonl, "jsonl")[0]
    assert (a.text, a.module, a.submitted_at, a.external_id, a.labels) == (
        b.text, b.module, b.submitted_at, b.external_id, b.labels)


def test_missing_text_names_line_and_column():
    err = rejected("text,module,when,id,label\nfine,,,1,\n   ,,,2,\n")
    assert (err.line, err.column) == (3, "text")
    assert "empty" in str(err)


def test_bad_date_names_line_and_column():
    err = rejected("text,module,when,id,label\nfine,,14/03/2026,1,\n")
    assert (err.line, err.column) == (2, "when")
    assert "ISO 8601" in str(err)


def test_over_long_text_is_rejected_by_default_naming_line_column_and_the_setting():
    options = ImportOptions(text_col="text", max_chars=10)
    err = rejected("text\nshort\nthis one is far too long\n", options=options)
    assert isinstance(err, TextTooLong) and (err.line, err.column) == (3, "text")
    assert str(err) == 'line 3, column "text": the text has 24 characters; the limit is 10 (FEEDBACK_MAX_CHARS)'
    assert err.advice("Re-run with --long-texts cut") == (
        "Re-run with --long-texts cut to cut such texts at the limit, or raise FEEDBACK_MAX_CHARS.")


def test_cut_keeps_every_row_and_marks_only_the_long_one():
    options = ImportOptions(text_col="text", max_chars=10, long_texts=LongTexts.CUT)
    rows = parse("text\nshort\nthis one is far too long\n", options=options)
    assert [(r.text, r.text_was_cut) for r in rows] == [("short", False), ("this one", True)]


def test_a_text_exactly_at_the_limit_is_not_cut():
    options = ImportOptions(text_col="text", max_chars=10, long_texts=LongTexts.CUT)
    (row,) = parse("text\n0123456789\n", options=options)
    assert (row.text, row.text_was_cut) == ("0123456789", False)


@pytest.mark.parametrize("limit", range(1, 60))
def test_a_cut_is_never_above_the_limit_and_keeps_a_prefix(limit):
    text = "The labs were great but https://uni.example/x?y=1 was down; call 020 7946 0958 or a.b@uni.edu thanks"
    kept = cut_text(text, limit)
    assert len(kept) <= limit and text.startswith(kept)


def test_a_cut_ends_at_a_word_boundary_just_below_the_limit():
    text = "alpha beta gamma delta"
    assert cut_text(text, 13) == "alpha beta"  # not "alpha beta ga"
    assert cut_text(text, 10) == "alpha beta"  # the limit falls on the space: the whole word fits
    assert cut_text("x" * 500, 300) == "x" * 300  # no space near the limit: cut inside the long token


@pytest.mark.parametrize("limit", range(16, 39))
def test_an_email_straddling_the_limit_is_left_out_whole_and_redaction_sees_no_half_of_it(limit):
    text = "please write to jane.doe@uni.example.edu today"  # the address spans characters 16-39
    kept = cut_text(text, limit)
    assert kept == "please write to"
    assert "jane" not in redact_text(kept)


def test_an_email_straddling_the_limit_far_from_any_space_is_not_cut_in_half():
    # No space within reach of the limit: a plain cut would keep "jane.doe@uni", which no detector recognises.
    prefix = "notes:" * 30
    text = prefix + "jane.doe@uni.example.edu;more:notes"
    for limit in range(len(prefix) + 1, len(prefix) + len("jane.doe@uni.example.edu")):
        kept = cut_text(text, limit)
        assert kept == prefix and "jane" not in redact_text(kept), limit


@pytest.mark.parametrize("limit", range(9, 21))
def test_a_phone_number_with_spaces_straddling_the_limit_is_not_split_at_one_of_its_spaces(limit):
    text = "call me 020 7946 0958 after six"  # a word-boundary cut could keep "call me 020 7946"
    kept = cut_text(text, limit)
    assert kept == "call me" and redact_text(kept) == "call me"


def test_a_text_that_is_one_piece_of_pii_up_to_the_limit_is_refused_rather_than_half_cut():
    options = ImportOptions(text_col="text", max_chars=10, long_texts=LongTexts.CUT)
    err = rejected("text\nreply-to-me-please@uni.example.edu\n", options=options)
    assert (err.line, err.column) == (2, "text") and "cannot be cut" in str(err)


def test_wrong_encoding_names_line_and_column():
    data = b"text,module,when,id,label\nfine,,,1,\n" + b"caf\xe9 latin-1,W1,,2,\n"
    err = rejected(data)
    assert (err.line, err.column) == (3, "text")
    assert "UTF-8" in str(err)


def test_missing_column_in_header_is_reported():
    err = rejected("body,module\nhello,W1\n")
    assert (err.line, err.column) == (1, "text")


def test_row_with_wrong_field_count_is_rejected():
    err = rejected("text,module,when,id,label\nhello,W1,,1\n")
    assert err.line == 2 and "expected 5 fields" in str(err)


def test_duplicate_ids_in_one_file_are_rejected():
    err = rejected("text,module,when,id,label\na,,,7,\nb,,,7,\n")
    assert (err.line, err.column) == (3, "id") and "repeats line 2" in str(err)


def test_invalid_jsonl_line_is_reported():
    err = rejected('{"text": "a"}\n{"text": \n', "jsonl", ImportOptions())
    assert err.line == 2 and "invalid JSON" in str(err)


def test_unknown_split_value_is_rejected():
    options = ImportOptions(split_col="split")
    err = rejected("text,split\na,train\nb,holdout\n", options=options)
    assert (err.line, err.column) == (3, "split")


def test_split_aliases_normalise():
    rows = parse("text,split\na,dev\nb,train\nc,test\n", options=ImportOptions(split_col="split"))
    assert [r.split for r in rows] == ["validation", "train", "test"]


def test_row_number_ids_when_the_file_has_no_id_column():
    rows = parse("text\na\nb\n", options=ImportOptions(id_col=ROW_NUMBER))
    assert [r.external_id for r in rows] == ["2", "3"]


def test_multi_labels_split_on_separator_and_repeats_are_rejected():
    options = ImportOptions(label_col="label", label_sep="|")
    assert parse("text,label\na,x|y\n", options=options)[0].labels == ["x", "y"]
    err = rejected("text,label\na,x|x\n", options=options)
    assert (err.line, err.column) == (2, "label")


def test_empty_file_is_rejected():
    assert "empty" in str(rejected(""))
    assert "no data rows" in str(rejected("text,module,when,id,label\n"))
