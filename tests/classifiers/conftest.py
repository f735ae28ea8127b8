"""Fixtures for classifier tests: one fine-tuned tiny model (with ONNX exports) per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.classifiers.classification.serving_helpers import build_serving_dir


@pytest.fixture(scope="session")
def tiny_serving_dir(tmp_path_factory) -> Path:
    return build_serving_dir(tmp_path_factory.mktemp("serving") / "tiny-sentiment")
