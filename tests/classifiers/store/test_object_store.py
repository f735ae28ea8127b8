"""MODEL_STORE=s3://… against a real S3 API on loopback: publishing is all or nothing (also when the writer is
SIGKILLed mid-upload), deletion reaches the store and every cache, exports check what they copy."""

from __future__ import annotations

import hashlib
import io
import signal
import subprocess
import sys
import time
import zipfile

import pytest
from django.conf import settings

from classifiers import registry
from classifiers.store.manifest import MANIFEST_FILE
from tests.classifiers.store.helpers import bucket_keys, cache_entries, publish_files, put_object, random_files
from tests.support import ROOT

# A writer in a process of its own (the store code is Django-free), slowed down after each file it uploads so a
# reader, or a SIGKILL, can land between two files.
WRITER = r"""
import sys, time
from pathlib import Path
from classifiers.store.s3 import S3Store

url, build, relpath, pause = sys.argv[1:5]
store = S3Store(url, addressing_style="path")
client = store.client()
upload = client.upload_file

def slow_upload(*args, **kwargs):
    upload(*args, **kwargs)
    print("uploaded", args[2], flush=True)
    time.sleep(float(pause))

client.upload_file = slow_upload
store.publish(Path(build), relpath)
print("published", flush=True)
"""


def _writer(tmp_path, files: dict[str, bytes], relpath: str, pause: float) -> subprocess.Popen:
    build = tmp_path / "build"
    build.mkdir()
    for name, data in files.items():
        (build / name).write_bytes(data)
    return subprocess.Popen([sys.executable, "-c", WRITER, str(settings.MODEL_STORE), str(build), relpath, str(pause)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _read_whole_or_nothing(relpath: str, files: dict[str, bytes]) -> bool:
    """One reader's look: either no version at all, or every file there, complete and right. True when seen."""
    if not registry.version_exists(relpath):
        return False
    with registry.local_copy(relpath) as directory:  # once visible, it must load (VersionMissing fails the test)
        assert {n: (directory / n).read_bytes() for n in files} == files
    return True


def test_a_version_becomes_visible_only_complete_while_another_process_uploads_it(s3_model_store, tmp_path):
    files = random_files({f"part-{i}.bin": 200_000 for i in range(5)})
    relpath = registry.version_relpath(1, 1, 1)
    writer = _writer(tmp_path, files, relpath, pause=0.3)
    looks, seen = 0, False
    while writer.poll() is None:
        now = _read_whole_or_nothing(relpath, files)
        assert not (seen and not now), "a version that was visible disappeared"
        seen, looks = now, looks + 1
    assert writer.returncode == 0, writer.stdout.read()
    assert looks > 5 and _read_whole_or_nothing(relpath, files)
    assert f"eduplatform/{relpath}/{MANIFEST_FILE}" in bucket_keys(relpath)


def test_a_writer_killed_mid_upload_leaves_no_visible_version(s3_model_store, tmp_path):
    files = random_files({f"part-{i}.bin": 100_000 for i in range(6)})
    relpath = registry.version_relpath(1, 1, 1)
    writer = _writer(tmp_path, files, relpath, pause=2)
    uploaded = [writer.stdout.readline() for _ in range(2)]
    assert all(line.startswith("uploaded") for line in uploaded), uploaded
    assert not registry.version_exists(relpath)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)

    keys = bucket_keys(relpath)
    assert 2 <= len(keys) < len(files) and not any(k.endswith(MANIFEST_FILE) for k in keys)  # really mid-upload
    assert not registry.version_exists(relpath)
    with pytest.raises(registry.VersionMissing, match="is not in the model store"), registry.local_copy(relpath):
        pass
    assert cache_entries() == []


def test_publish_uploads_every_file_and_the_manifest_then_removes_the_build(s3_model_store):
    files = random_files({"model.onnx": 50_000, "tokenizer.json": 1_000, "nested/extra.txt": 10})
    relpath = publish_files(files)
    assert bucket_keys(relpath) == sorted(f"eduplatform/{relpath}/{n}" for n in [*files, MANIFEST_FILE])
    manifest = registry.store().manifest(relpath)
    assert {n: e.sha256 for n, e in manifest.files.items()} == {
        n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    assert not any((settings.MODEL_CACHE_DIR / "builds").iterdir())


def test_deleting_a_version_empties_the_store_and_the_caches_of_every_machine(s3_model_store, tmp_path, settings):
    files = random_files({"model.onnx": 40_000})
    relpath, kept = publish_files(files), publish_files(files, number=2)
    machine_one, machine_two = settings.MODEL_CACHE_DIR, tmp_path / "machine-two-cache"
    for cache_dir in (machine_one, machine_two):
        settings.MODEL_CACHE_DIR = cache_dir
        for version in (relpath, kept):
            with registry.local_copy(version):
                pass
    settings.MODEL_CACHE_DIR = machine_one

    registry.delete_version_files(relpath)  # what delete_model_version runs after its commit
    assert bucket_keys(relpath) == [] and not registry.version_exists(relpath)
    assert len(cache_entries(machine_one)) == 1 and relpath.replace("/", "~") not in cache_entries(machine_one)[0]
    settings.MODEL_CACHE_DIR = machine_two
    with pytest.raises(registry.VersionMissing), registry.local_copy(relpath):  # a stale copy is never served...
        pass
    assert len(cache_entries(machine_two)) == 2
    assert registry.drop_deleted_from_cache(every_s=0) == 1  # ...and its re-check frees the disk
    assert len(cache_entries(machine_two)) == 1 and bucket_keys(kept)


def test_exports_from_the_object_store_hold_the_model_files_and_check_them(s3_model_store, tmp_path):
    files = random_files({"model.safetensors": 30_000, "config.json": 100})
    relpath = publish_files(files)
    out = registry.export_version(relpath, tmp_path / "export")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    assert (out / "model.safetensors").read_bytes() == files["model.safetensors"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(registry.export_version_zip(relpath, folder="m"))))
    assert sorted(archive.namelist()) == ["m/config.json", "m/model.safetensors"]

    put_object(relpath, "model.safetensors", b"tampered")
    with pytest.raises(registry.ChecksumMismatch, match="differs from its manifest"):
        registry.export_version(relpath, tmp_path / "again")
    with pytest.raises(registry.ChecksumMismatch):
        b"".join(registry.export_version_zip(relpath, folder="m"))


def test_an_unreachable_store_is_a_store_error_naming_the_store_not_the_credentials(s3_model_store, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    registry._store_for.cache_clear()
    started = time.monotonic()
    with pytest.raises(registry.StoreError) as refused:
        registry.check_store()
    assert time.monotonic() - started < 15
    assert s3_model_store in str(refused.value) and "test-secret" not in str(refused.value)
    registry._store_for.cache_clear()


@pytest.fixture
def unreachable_store(s3_model_store, monkeypatch):
    """The store's endpoint stops answering (a port nobody listens on) after the test has set up its versions."""
    def cut() -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        registry._store_for.cache_clear()

    yield cut
    registry._store_for.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_store_refuses_activation_with_the_reason_and_deletion_still_deletes_the_row(
    unreachable_store, course, sentiment, instructor, caplog
):
    from classifiers.models import ModelVersion
    from classifiers.training.versions import VersionRefused, activate_model_version, delete_model_version
    from tests.classifiers.helpers import make_version

    version, other = make_version(sentiment, course=course, number=1), make_version(sentiment, course=course, number=2)
    unreachable_store()
    with pytest.raises(VersionRefused, match=r"model store s3://models-\w+/eduplatform: looking up a version failed "
                                             r".*it cannot serve until the model store is reachable again"):
        activate_model_version(version, actor=instructor)
    delete_model_version(other, actor=instructor)  # the files wait for the daily sweep; the person sees no error
    assert not ModelVersion.objects.filter(pk=other.pk).exists()
    assert f"the files of deleted version {other.path} stay in the model store" in caplog.text
