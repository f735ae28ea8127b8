"""Embeddings of feedback: only missing or outdated vectors are computed, in committed chunks that resume."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.ml.embeddings import SentenceEncoder, from_bytes
from classifiers.themes.embeddings import current_spec, embed_course, embed_pending, pending_embeddings
from classifiers.themes.models import FeedbackEmbedding, ThemeRun
from courses.models import Feedback
from tests.factories import FeedbackFactory


@pytest.fixture
def torch_embeddings(settings):
    settings.EMBEDDING_BACKEND = "torch"  # the same model without the ONNX export: quicker to load in tests
    settings.EMBED_CHUNK_SIZE = 10


@pytest.fixture
def encoded(monkeypatch) -> list[str]:
    """Every text the encoder is asked to embed, in order."""
    seen: list[str] = []
    real = SentenceEncoder.encode

    def spy(self, texts):  # noqa: ANN001, ANN202
        seen.extend(texts)
        return real(self, texts)

    monkeypatch.setattr(SentenceEncoder, "encode", spy)
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_keeps_the_chunks_it_committed_and_the_next_pass_does_only_the_rest(
    course, torch_embeddings, encoded, monkeypatch
):
    items = [FeedbackFactory(course=course, original_text=f"comment number {i}", redacted_text=f"comment {i}")
             for i in range(25)]
    real = SentenceEncoder.encode  # the spy
    calls = {"n": 0}

    def dies_on_the_second_chunk(self, texts):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")
        return real(self, texts)

    monkeypatch.setattr(SentenceEncoder, "encode", dies_on_the_second_chunk)
    with pytest.raises(SystemExit):
        embed_course(course)
    done = set(FeedbackEmbedding.objects.values_list("feedback_id", flat=True))
    assert done == {f.pk for f in items[:10]}  # the first chunk was committed before the crash

    monkeypatch.setattr(SentenceEncoder, "encode", real)
    encoded.clear()
    assert embed_course(course) == 15
    assert len(encoded) == 15 and "comment 0" not in encoded
    assert FeedbackEmbedding.objects.count() == 25 and not pending_embeddings(course).exists()


@pytest.mark.django_db
def test_vectors_are_unit_length_and_name_the_model(course, torch_embeddings):
    FeedbackFactory(course=course, original_text="lab sessions are short", redacted_text="lab sessions are short")
    assert embed_pending(course).embedded == 1
    row = FeedbackEmbedding.objects.get()
    vector = from_bytes([row.vector])[0]
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
    assert row.model_key == current_spec().key and ":torch" in row.model_key


@pytest.mark.django_db
def test_a_changed_text_or_another_model_makes_a_vector_outdated(course, torch_embeddings, settings, encoded):
    a = FeedbackFactory(course=course, original_text="the exam was long", redacted_text="the exam was long")
    FeedbackFactory(course=course, original_text="slides were late", redacted_text="slides were late")
    embed_pending(course)
    assert not pending_embeddings(course).exists()
    # Texts change only outside the services (a data fix, a re-redaction with a new student-id pattern).
    Feedback.objects.filter(pk=a.pk).update(redacted_text="the exam was far too long")
    assert list(pending_embeddings(course)) == [Feedback.objects.get(pk=a.pk)]
    encoded.clear()
    embed_pending(course)
    assert encoded == ["the exam was far too long"]
    settings.EMBEDDING_MAX_LENGTH = 128  # another embedding model: everything is recomputed
    assert pending_embeddings(course).count() == 2


@pytest.mark.django_db
def test_identical_texts_are_embedded_once_per_chunk(course, torch_embeddings, encoded):
    for _ in range(4):
        FeedbackFactory(course=course, original_text="none", redacted_text="none")
    assert embed_pending(course).embedded == 4
    assert encoded == ["none"]


@pytest.mark.django_db
def test_only_courses_whose_themes_are_in_use_are_embedded_on_arrival(course, other_course, monkeypatch):
    from classifiers.themes import embeddings

    queued: list[tuple] = []
    monkeypatch.setattr("classifiers.tasks.embed_feedback_task.apply_async", lambda args, **_: queued.append(args))
    embeddings.embed_new_feedback(course.pk, [1, 2])
    assert queued == []
    ThemeRun.objects.create(course=course, status="succeeded")
    embeddings.embed_new_feedback(course.pk, [1, 2])
    embeddings.embed_new_feedback(other_course.pk, [3])
    assert queued == [(course.pk, [1, 2])]


@pytest.mark.django_db
def test_whether_a_course_uses_themes_is_read_once_per_cache_delay(course, settings, django_assert_num_queries):
    from classifiers.themes import embeddings

    settings.THEMES_IN_USE_CACHE_S = 60
    embeddings.themes_in_use(course.pk)
    with django_assert_num_queries(0):  # every survey submission asked: a query each at the peak
        assert embeddings.themes_in_use(course.pk) is False
    # A run saved elsewhere (no signal in this process) shows once the delay has passed (here: cache off).
    ThemeRun.objects.bulk_create([ThemeRun(course=course, status="succeeded")])
    assert embeddings.themes_in_use(course.pk) is False
    settings.THEMES_IN_USE_CACHE_S = 0
    with django_assert_num_queries(1):
        assert embeddings.themes_in_use(course.pk) is True


def test_each_chunk_of_a_pass_starts_after_the_last_id_of_the_one_before(course, torch_embeddings, monkeypatch):
    from classifiers.themes import embeddings

    items = [FeedbackFactory(course=course, original_text=f"text {i}", redacted_text=f"text {i}") for i in range(25)]
    real, starts = embeddings.embed_pending, []

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        starts.append(kwargs.get("after", 0))
        return real(*args, **kwargs)

    monkeypatch.setattr(embeddings, "embed_pending", spy)
    assert embed_course(course) == 25
    # No chunk re-reads the items done before it (quadratic work over a 100,000-item backlog otherwise).
    assert starts == [0, items[9].pk, items[19].pk]
    assert not pending_embeddings(course).exists()
