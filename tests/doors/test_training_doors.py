"""Door matrix for training, model versions, classification, export and report overrides.

Every persona × action × door that offers it (admin action, API, `manage.py … --as USER`): the services
decide, so each door allows or refuses alike, and a refusal changes nothing in the database or on disk.
No model is trained: a run is a queued row (its task is enqueued on commit, which a test transaction never
reaches), and a version is a directory of stand-in files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from classifiers.labelling.schemas import create_schema
from classifiers.models import ClassificationRun, ModelVersion, TrainingRun
from classifiers.reports.models import BaselineOverride
from tests.classifiers.helpers import label_feedback, make_version
from tests.support import ROLES

pytestmark = pytest.mark.django_db

API = "/api/courses/CS101"
COURSE_MANAGERS = {"teaching_assistant", "instructor", "superuser"}
ADMINISTRATORS = {"administrator", "superuser"}


@dataclass
class World:
    """What one action needs: `target` is the object it acts on, `tmp` a scratch directory."""

    course: object
    schema: object
    instructor: object
    tmp: Path
    target: object = None
    response: object = None  # the API door's answer


# --- Setups: the state each action starts from -------------------------------------------------------


def _trainable(w: World) -> None:
    label_feedback(w.course, w.schema, {"positive": 8, "negative": 8})
    w.target = w.schema


def _trainable_institution(w: World) -> None:
    w.target = create_schema("topic", kind="single", labels=["a", "b"], actor=None)
    label_feedback(w.course, w.target, {"a": 8, "b": 8})


def _queued_run(w: World) -> None:
    w.target = TrainingRun.objects.create(schema=w.schema, course=w.course)


def _versions(w: World) -> dict[str, ModelVersion]:
    """v1 served before, v2 active, v3 below the baseline, v4 never served."""
    v = {f"v{n}": make_version(w.schema, course=w.course, number=n, beats=n != 3) for n in (1, 2, 3, 4)}
    ModelVersion.objects.filter(pk=v["v1"].pk).update(activated_at=timezone.now() - timezone.timedelta(days=1))
    ModelVersion.objects.filter(pk=v["v2"].pk).update(is_active=True, activated_at=timezone.now())
    return {name: ModelVersion.objects.get(pk=version.pk) for name, version in v.items()}


def _pick(name: str) -> Callable[[World], None]:
    def setup(w: World) -> None:
        w.target = _versions(w)[name]

    return setup


def _override(w: World) -> None:
    weak = _versions(w)["v3"]
    w.target = BaselineOverride.objects.create(course=w.course, schema=w.schema, model_version=weak,
                                               actor=w.instructor, reason="spot-checked 50 items")


# --- Doors --------------------------------------------------------------------------------------------


def _admin(model: str, action: str, data: dict | None = None):  # noqa: ANN202
    def door(client, user, w: World) -> None:  # noqa: ANN001
        client.force_login(user)
        client.post(reverse(f"admin:{model}_changelist"),
                    {"action": action, "_selected_action": [w.target.pk], **(data or {})})

    return door


def _api(method: str, url: Callable[[World], str], body: Callable[[World], dict] = lambda w: {}):  # noqa: ANN202
    def door(client, user, w: World) -> None:  # noqa: ANN001
        api = APIClient()
        api.force_authenticate(user)
        w.response = response = getattr(api, method)(url(w), body(w), format="json")
        assert response.status_code in (200, 201, 202, 403, 404), response.content
        if response.status_code == 403:  # the service's reason, not a generic one
            assert "may not" in response.json()["detail"]

    return door


def _command(*args: Callable[[World], str]):  # noqa: ANN202
    def door(client, user, w: World) -> None:  # noqa: ANN001
        try:
            call_command(*[a(w) if callable(a) else a for a in args], "--as", user.username,
                         stdout=_Sink(), stderr=_Sink())
        except CommandError as exc:
            assert exc.returncode == 2 and "may not" in str(exc), str(exc)

    return door


class _Sink:
    def write(self, *_: object, **__: object) -> None:
        pass

    def flush(self) -> None:
        pass


# --- Actions: setup, doors, and what "done" looks like -----------------------------------------------


@dataclass(frozen=True)
class Case:
    setup: Callable[[World], None]
    doors: dict[str, Callable]
    done: Callable[[World], bool]
    institution: bool = False


def _status(w: World) -> str:
    return TrainingRun.objects.get(pk=w.target.pk).status


def _downloaded(response) -> bool:  # noqa: ANN001
    """A download changes nothing: its answer is the response (a zip holding the version's files)."""
    if response is None or response.status_code != 200:
        return False
    return b"model.safetensors" in b"".join(response.streaming_content)


def _is_active(w: World) -> bool:
    return ModelVersion.objects.get(pk=w.target.pk).is_active


CASES = {
    "train course": Case(_trainable, {
        "admin": _admin("classifiers_labelschema", "train_schemas"),
        "api": _api("post", lambda w: f"{API}/training-runs/", lambda w: {"schema": w.target.pk}),
        "command": _command("train", "CS101", "--schema", "sentiment"),
    }, lambda w: TrainingRun.objects.filter(schema=w.target, course=w.course).exists()),
    "train institution": Case(_trainable_institution, {
        "admin": _admin("classifiers_labelschema", "train_schemas"),
        "api": _api("post", lambda w: f"{API}/training-runs/", lambda w: {"schema": w.target.pk, "institution": True}),
        "command": _command("train", "CS101", "--schema", "topic", "--institution"),
    }, lambda w: TrainingRun.objects.filter(schema=w.target, course=None).exists(), institution=True),
    "cancel": Case(_queued_run, {
        "admin": _admin("classifiers_trainingrun", "cancel_runs"),
        "api": _api("post", lambda w: f"{API}/training-runs/{w.target.pk}/cancel/"),
    }, lambda w: _status(w) == "cancelled"),
    "activate": Case(_pick("v4"), {
        "admin": _admin("classifiers_modelversion", "activate"),
        "api": _api("post", lambda w: f"{API}/model-versions/{w.target.pk}/activate/"),
    }, _is_active),
    "activate with override": Case(_pick("v3"), {
        "admin": _admin("classifiers_modelversion", "activate_override"),
        "api": _api("post", lambda w: f"{API}/model-versions/{w.target.pk}/activate/", lambda w: {"override": True}),
    }, _is_active),
    "rollback": Case(_pick("v2"), {
        "admin": _admin("classifiers_modelversion", "rollback"),
        "api": _api("post", lambda w: f"{API}/model-versions/rollback/", lambda w: {"schema": w.schema.pk}),
    }, lambda w: ModelVersion.objects.get(schema=w.schema, course=w.course, is_active=True).number == 1),
    "delete version": Case(_pick("v4"), {
        "admin": _admin("classifiers_modelversion", "delete_versions"),
    }, lambda w: not ModelVersion.objects.filter(pk=w.target.pk).exists()),
    "classify": Case(_pick("v2"), {
        "admin": _admin("classifiers_modelversion", "classify_backlog"),
        "command": _command("classify", "CS101"),
    }, lambda w: ClassificationRun.objects.filter(model_version=w.target).exists()),
    "export": Case(_pick("v1"), {
        "api": _api("get", lambda w: f"{API}/model-versions/{w.target.pk}/export/"),
        "command": _command("export_model", lambda w: str(w.target.pk), lambda w: str(w.tmp / "export")),
    }, lambda w: (w.tmp / "export" / "model.safetensors").exists() or _downloaded(w.response)),
    "revoke override": Case(_override, {
        "admin": _admin("reports_baselineoverride", "revoke"),
    }, lambda w: BaselineOverride.objects.get(pk=w.target.pk).revoked_at is not None),
}

MATRIX = [(action, door, role) for action, case in CASES.items() for door in case.doors for role in ROLES]


def expected(action: str, door: str, role: str) -> bool:
    """The policy (courses.permissions): course actions are for the course's managers (and superusers),
    institution-wide ones for administrators.

    The API does not offer institution-wide training to an administrator with no course role: its URLs are
    per course (/api/courses/CS101/), and a course the user holds no role in is a 404 there. Admin (the
    schema's train action) and `train --institution --as` offer it.
    """
    allowed = role in (ADMINISTRATORS if CASES[action].institution else COURSE_MANAGERS)
    return allowed and not (role == "administrator" and door == "api")


def snapshot() -> dict:
    """Everything a refused call must leave as it was: rows, flags, statuses and the model store's files."""
    store = Path(settings.MODEL_STORE)
    return {
        "runs": sorted(TrainingRun.objects.values_list("pk", "status", "cancel_requested")),
        "versions": sorted(ModelVersion.objects.values_list("pk", "is_active", "activated_at", "activated_by")),
        "classification": ClassificationRun.objects.count(),
        "overrides": sorted(BaselineOverride.objects.values_list("pk", "revoked_at", "revoked_by")),
        "files": sorted(str(p.relative_to(store)) for p in store.rglob("*")) if store.exists() else [],
    }


@pytest.fixture
def no_worker_probe(monkeypatch):
    # The commands ask the broker whether a worker listens (a 1.5 s wait) only to print a hint.
    for name in ("train", "classify"):
        monkeypatch.setattr(f"classifiers.management.commands.{name}.workers_consuming", lambda queue: ["stub"])


@pytest.mark.parametrize(("action", "door", "role"), MATRIX)
def test_every_door_gives_the_services_answer_and_a_refusal_changes_nothing(
    action, door, role, client, course, personas, tmp_path, no_worker_probe
):
    case = CASES[action]
    world = World(course=course, schema=course.schemas.get(name="sentiment"), instructor=personas["instructor"],
                  tmp=tmp_path)
    case.setup(world)
    before = snapshot()
    case.doors[door](client, personas[role], world)
    if expected(action, door, role):
        assert case.done(world), f"{role} was refused {action} at the {door}"
    else:
        assert not case.done(world), f"{role} was allowed {action} at the {door}"
        assert snapshot() == before
        assert not (tmp_path / "export").exists()


# --- How the commands say who acts ---------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ("train", "CS101"), ("classify", "CS101"), ("export_model", "1", "out"),
])
def test_commands_refuse_an_unknown_user_with_exit_2_before_doing_anything(course, argv):
    with pytest.raises(CommandError, match="--as nobody: no active user with that username") as refused:
        call_command(*argv, "--as", "nobody", stdout=_Sink(), stderr=_Sink())
    assert refused.value.returncode == 2
    assert snapshot() == {"runs": [], "versions": [], "classification": 0, "overrides": [], "files": []}


def test_a_command_without_as_says_it_acts_as_the_system(course, tmp_path):
    version = make_version(course.schemas.get(name="sentiment"), course=course, number=1)
    err, out = StringIO(), StringIO()
    call_command("export_model", str(version.pk), str(tmp_path / "out"), stdout=out, stderr=err)
    assert "acting as the system" in err.getvalue()
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == b"stand-in"


def test_export_command_goes_through_the_export_service_and_refuses_a_non_empty_directory(course, instructor,
                                                                                          tmp_path):
    version = make_version(course.schemas.get(name="sentiment"), course=course, number=1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    with pytest.raises(CommandError, match="exists and is not empty; choose an empty or new directory") as refused:
        call_command("export_model", str(version.pk), str(tmp_path / "out"), "--as", "ines",
                     stdout=StringIO(), stderr=StringIO())
    assert refused.value.returncode == 2
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]


def test_revoking_an_override_twice_is_refused_and_keeps_who_revoked_it(client, course, instructor,
                                                                        teaching_assistant, tmp_path):
    world = World(course=course, schema=course.schemas.get(name="sentiment"), instructor=instructor, tmp=tmp_path)
    _override(world)
    url = reverse("admin:reports_baselineoverride_changelist")
    client.force_login(instructor)
    client.post(url, {"action": "revoke", "_selected_action": [world.target.pk]})
    client.force_login(teaching_assistant)
    html = client.post(url, {"action": "revoke", "_selected_action": [world.target.pk]}, follow=True).content.decode()
    assert "is already revoked" in html
    assert BaselineOverride.objects.get(pk=world.target.pk).revoked_by == instructor
