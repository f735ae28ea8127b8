"""Batch prediction with a torch model or an ONNX Runtime session; Django-free.

Texts are sorted by token length and batched so a batch pads only to its own longest text, and the
outputs are put back in the caller's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where a torch model runs: ONNX serving and the web process never load it
    import torch

DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class Encoded:
    """Token ids of many texts, unpadded, with whether each text was cut at max_length."""

    input_ids: list[list[int]]
    truncated: list[bool]


def encode(tokenizer, texts: Sequence[str], max_length: int) -> Encoded:  # noqa: ANN001 - any HF tokenizer
    # Tokenise one token longer than allowed to learn which texts were cut, then cut them ourselves.
    ids = tokenizer(list(texts), truncation=True, max_length=max_length + 1, add_special_tokens=True)["input_ids"]
    truncated = [len(row) > max_length for row in ids]
    sep = tokenizer.sep_token_id
    out = []
    for row, cut in zip(ids, truncated, strict=True):
        if cut:
            row = row[: max_length - 1] + ([sep] if sep is not None else [row[max_length - 1]])
        out.append(row)
    return Encoded(out, truncated)


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Index batches of texts of similar length (longest first, so memory peaks early)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask


def predict_logits(
    run_batch: Callable[[np.ndarray, np.ndarray], np.ndarray],
    encoded: Encoded,
    *,
    pad_id: int,
    num_labels: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """Logits for every text in input order; `run_batch(ids, mask)` runs one padded batch."""
    logits = np.zeros((len(encoded.input_ids), num_labels), dtype=np.float32)
    for idx in length_batches([len(r) for r in encoded.input_ids], batch_size):
        ids, mask = pad_batch([encoded.input_ids[i] for i in idx], pad_id)
        logits[idx] = run_batch(ids, mask)
    return logits


def torch_runner(model: torch.nn.Module) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A batch runner for a transformers model on its own device (half precision on a GPU)."""
    import torch

    model.eval()
    device = next(model.parameters()).device

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = model(
                input_ids=torch.from_numpy(ids).to(device), attention_mask=torch.from_numpy(mask).to(device)
            ).logits
        return out.float().cpu().numpy()

    return run


def onnx_runner(session) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:  # noqa: ANN001 - ort session
    names = {i.name for i in session.get_inputs()}

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        return session.run(["logits"], feed)[0]

    return run


def to_probabilities(logits: np.ndarray, *, multi_label: bool) -> np.ndarray:
    if multi_label:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class LabelOutput:
    labels: list[str]
    scores: dict[str, float]
    confidence: float


def decode(probs: np.ndarray, label_names: Sequence[str], *, multi_label: bool, threshold: float) -> list[LabelOutput]:
    """Label names, scores and confidence per row; multi-label keeps the top label when none passes."""
    out = []
    for row in probs:
        top = int(row.argmax())
        if multi_label:
            chosen = [label_names[i] for i in np.flatnonzero(row >= threshold)] or [label_names[top]]
        else:
            chosen = [label_names[top]]
        scores = {name: round(float(p), 6) for name, p in zip(label_names, row, strict=True)}
        out.append(LabelOutput(chosen, scores, min(1.0, max(0.0, float(row[top])))))
    return out
