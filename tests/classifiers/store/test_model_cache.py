"""Each machine's model cache (classifiers.store.cache) in front of a real S3 API on loopback: bounded, least
recently used out first, never evicting a version being loaded, re-fetching damaged copies, and shared safely
by several processes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from classifiers import registry
from classifiers.ml.serving import files_to_load
from tests.classifiers.store.helpers import cache_entries, cache_events, publish_files, put_object, random_files
from tests.support import ROOT

SIZE = 300_000  # one version's file; the limits below hold two versions but not three


def _load(relpath: str) -> bytes:
    with registry.local_copy(relpath) as directory:
        return (directory / "model.onnx").read_bytes()


def _cached(relpath: str) -> bool:
    return any(entry.startswith(relpath.replace("/", "~") + "@") for entry in cache_entries())


@pytest.fixture
def three_versions(s3_model_store, settings) -> list[tuple[str, bytes]]:
    settings.MODEL_CACHE_MAX_BYTES = 2 * SIZE + 50_000
    out = []
    for number in (1, 2, 3):
        files = random_files({"model.onnx": SIZE})
        out.append((publish_files(files, number=number), files["model.onnx"]))
    return out


def test_the_least_recently_used_version_is_evicted_to_stay_under_the_limit(three_versions):
    (a, a_bytes), (b, _), (c, c_bytes) = three_versions
    _load(a)
    time.sleep(0.01)
    _load(b)
    time.sleep(0.01)
    assert _load(a) == a_bytes  # a is now more recent than b
    time.sleep(0.01)
    assert _load(c) == c_bytes
    assert (_cached(a), _cached(b), _cached(c)) == (True, False, True)
    assert registry.cache().size() <= settings.MODEL_CACHE_MAX_BYTES
    assert cache_events() == {"miss": 3, "hit": 1, "eviction": 1}


def test_a_version_being_loaded_is_not_evicted(three_versions):
    (a, a_bytes), (b, _), (c, _) = three_versions
    loading, done = threading.Event(), threading.Event()

    def slow_loader() -> None:
        with registry.local_copy(a) as directory:
            loading.set()
            done.wait(10)
            assert (directory / "model.onnx").read_bytes() == a_bytes  # still whole while in use

    thread = threading.Thread(target=slow_loader)
    thread.start()
    assert loading.wait(10)
    _load(b)
    _load(c)  # a is the least recently used, but in use: b goes instead
    done.set()
    thread.join()
    assert (_cached(a), _cached(b), _cached(c)) == (True, False, True)


def test_a_version_larger_than_the_cache_is_refused_with_the_setting_to_raise(s3_model_store, settings):
    settings.MODEL_CACHE_MAX_BYTES = 1000
    relpath = publish_files(random_files({"model.onnx": 5000}))
    with pytest.raises(registry.StoreError, match=r"needs 5,\d+ bytes .* raise MODEL_CACHE_MAX_BYTES"):
        _load(relpath)
    assert not list((settings.MODEL_CACHE_DIR / "entries").rglob("model.onnx"))


def test_a_damaged_cached_copy_is_fetched_again(s3_model_store):
    files = random_files({"model.onnx": 50_000, "tokenizer.json": 500})
    relpath = publish_files(files)
    with registry.local_copy(relpath) as directory:
        cached = directory / "model.onnx"
    cached.write_bytes(b"\0" * 50_000)  # same size, other bytes: only the checksum can tell
    assert _load(relpath) == files["model.onnx"]
    assert cache_events() == {"miss": 2, "checksum_mismatch": 1}


def test_a_store_object_that_differs_from_its_manifest_is_refused_and_never_cached(s3_model_store):
    relpath = publish_files(random_files({"model.onnx": 20_000}))
    put_object(relpath, "model.onnx", b"not what the manifest says")
    with pytest.raises(registry.ChecksumMismatch, match="differs from its manifest after 3 downloads"):
        _load(relpath)
    assert not list((settings.MODEL_CACHE_DIR / "entries").rglob("model.onnx"))
    assert not any((settings.MODEL_CACHE_DIR / "tmp").iterdir())
    assert cache_events() == {"checksum_mismatch": 3}


def test_only_the_files_a_loader_selects_are_fetched(s3_model_store):
    files = random_files({"model.safetensors": 40_000, "model.onnx": 30_000, "model.int8.onnx": 10_000,
                          "tokenizer.json": 100})
    relpath = publish_files(files)
    with registry.local_copy(relpath, select=lambda names: files_to_load(names, use_int8=True)) as directory:
        assert sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")) == [
            "model.int8.onnx", "tokenizer.json"]


# Processes sharing one machine's cache: each checks out versions through its own ModelCache (Django-free) and
# prints what it read and which cache events it saw.
SHARER = r"""
import hashlib, json, sys
from pathlib import Path
from classifiers.store.cache import ModelCache
from classifiers.store.s3 import S3Store

url, cache_dir, limit, *relpaths = sys.argv[1:]
events = []
cache = ModelCache(Path(cache_dir), int(limit), on_event=events.append)
store = S3Store(url, addressing_style="path")
digests = {}
for relpath in relpaths:
    with cache.checkout(store, relpath) as directory:
        digests[relpath] = hashlib.sha256((directory / "model.onnx").read_bytes()).hexdigest()
print(json.dumps({"digests": digests, "events": events}))
"""


def _sharers(relpath_lists: list[list[str]]) -> list[dict]:
    procs = [subprocess.Popen([sys.executable, "-c", SHARER, str(settings.MODEL_STORE), str(settings.MODEL_CACHE_DIR),
                               str(settings.MODEL_CACHE_MAX_BYTES), *relpaths], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for relpaths in relpath_lists]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err[-2000:] for _, err in outputs]
    return [json.loads(out) for out, _ in outputs]


def test_processes_loading_one_version_at_once_download_it_once(s3_model_store):
    files = random_files({"model.onnx": 2_000_000})
    relpath = publish_files(files)
    results = _sharers([[relpath]] * 4)
    assert {r["digests"][relpath] for r in results} == {hashlib.sha256(files["model.onnx"]).hexdigest()}
    assert sorted(event for r in results for event in r["events"]) == ["hit", "hit", "hit", "miss"]


def test_processes_filling_the_cache_at_once_keep_it_within_its_limit(three_versions):
    relpaths = [relpath for relpath, _ in three_versions]
    expected = {relpath: hashlib.sha256(data).hexdigest() for relpath, data in three_versions}
    results = _sharers([relpaths, relpaths[::-1], relpaths[1:] + relpaths[:1]])
    assert all(r["digests"] == expected for r in results)
    assert registry.cache().size() <= settings.MODEL_CACHE_MAX_BYTES
    assert len(cache_entries()) == 2
