"""Model versions through the API: activation behind the baseline gate, rollback, zip export."""

from __future__ import annotations

import io
import zipfile

import pytest

from classifiers import registry
from classifiers.models import ModelVersion
from courses.models import Role
from tests.classifiers.helpers import make_version
from tests.factories import MembershipFactory, UserFactory
from tests.support import token_client

URL = "/api/courses/CS101/model-versions/"


def test_a_version_below_the_baseline_needs_the_explicit_override(instructor, course, sentiment):
    strong = make_version(sentiment, course=course, number=1)
    weak = make_version(sentiment, course=course, number=2, beats=False)
    client = token_client(instructor)
    assert client.post(f"{URL}{strong.pk}/activate/").status_code == 200
    refused = client.post(f"{URL}{weak.pk}/activate/", {"override": False})
    assert refused.status_code == 400
    assert refused.json() == {"detail": (
        "sentiment v2 (CS101) does not beat the majority-class baseline (macro-F1 0.100 vs majority baseline "
        "0.200); activate it with the explicit override if you want it anyway"
    )}
    forced = client.post(f"{URL}{weak.pk}/activate/", {"override": True})
    assert forced.status_code == 200, forced.content
    assert forced.json()["is_active"] is True
    assert list(ModelVersion.objects.filter(is_active=True)) == [weak]
    assert ModelVersion.objects.get(pk=weak.pk).activated_by == instructor


def test_rollback_reactivates_the_previous_served_version(instructor, course, sentiment):
    client = token_client(instructor)
    v1, v2 = make_version(sentiment, course=course, number=1), make_version(sentiment, course=course, number=2)
    nothing = client.post(f"{URL}rollback/", {"schema": sentiment.pk})
    assert nothing.json() == {"detail": "no version is active in this scope, so there is nothing to roll back from"}
    for version in (v1, v2):
        client.post(f"{URL}{version.pk}/activate/")
    response = client.post(f"{URL}rollback/", {"schema": sentiment.pk})
    assert response.status_code == 200, response.content
    assert response.json()["id"] == v1.pk
    assert list(ModelVersion.objects.filter(is_active=True)) == [v1]


def test_export_streams_a_zip_of_the_model_directory(instructor, course, sentiment):
    version = make_version(sentiment, course=course, number=1)
    folder = registry.absolute(version.path)
    (folder / "model.onnx").write_bytes(b"onnx" * 1000)
    (folder / registry.COMPLETE_MARKER).write_text("ok\n")
    response = token_client(instructor).get(f"{URL}{version.pk}/export/", HTTP_ACCEPT="application/zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="sentiment-CS101-v1.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["sentiment-CS101-v1/model.onnx", "sentiment-CS101-v1/model.safetensors"]
    assert archive.read("sentiment-CS101-v1/model.onnx") == b"onnx" * 1000


def test_export_of_a_version_whose_files_are_gone_is_a_json_error(instructor, course, sentiment):
    version = make_version(sentiment, course=course, number=1)
    registry.delete_version_files(version.path)
    response = token_client(instructor).get(f"{URL}{version.pk}/export/", HTTP_ACCEPT="application/zip")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "the files of sentiment v1 (CS101) are missing from the model store; it cannot be exported"
    }


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.VIEWER])
def test_annotators_and_viewers_may_read_versions_but_not_act_on_them(course, sentiment, role):
    member = MembershipFactory(course=course, role=role, user=UserFactory()).user
    version = make_version(sentiment, course=course, number=1)
    client = token_client(member)
    assert client.get(f"{URL}{version.pk}/").status_code == 200
    assert client.post(f"{URL}{version.pk}/activate/").status_code == 403
    assert client.post(f"{URL}rollback/", {"schema": sentiment.pk}).status_code == 403
    export = client.get(f"{URL}{version.pk}/export/")
    assert export.status_code == 403
    assert export.json() == {"detail": f"{member.username} may not export a model version in CS101: "
                                       "only the course's instructors and teaching assistants may"}
    assert not ModelVersion.objects.filter(is_active=True).exists()
