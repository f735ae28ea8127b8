"""What a version stores that its base model already has: a measurement for smaller artifacts (issue 23, part 2).

Usage (alone on the machine; ~5 minutes on 2 cores):
    .venv/bin/python bench/artifact_delta.py [--rows 2000] [--steps 150]

Fine-tunes MiniLM with the product's recipe (classifiers.ml.training, short runs on dair-ai emotion) three
ways: word embeddings frozen (today's recipe), trained (the recipe planned below 10,000 labelled rows), and
trained with weight_decay=0 (a config option, to see which rows change when no decay touches the matrix).
For each, the bytes of today's artifacts and of the proposed ones: no word embeddings when frozen (one copy
per base model), a sparse row delta when trained, the other weights as an int8 per-channel delta against the
base (reconstruction error and test agreement measured), the int8 ONNX without its embedding matrix, and no
tokenizer (identical to the base's). Nothing here changes the recipe. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402
from _emotion_model import read_split  # noqa: E402
from benchdata import seeded_sample as subsample  # noqa: E402

if TYPE_CHECKING:
    import torch

EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


def fine_tune(base: str, train: list, val: list, out: Path, *, steps: int, **recipe: object):  # noqa: ANN201
    from classifiers.ml.training import TrainConfig, prepare_data, train_model

    names = sorted({y for _, y in train})
    data = prepare_data([t for t, _ in train + val], [[y] for _, y in train + val], names,
                        splits=["train"] * len(train) + ["validation"] * len(val))
    config = TrainConfig(base_model=base, max_steps=steps, batch_size=32, max_length=64, **recipe)
    result = train_model(data, config, out / "work")
    shutil.rmtree(out / "work", ignore_errors=True)
    return result, names


def int8_delta(fine: torch.Tensor, base: torch.Tensor) -> tuple[torch.Tensor, int]:
    """fine ≈ base + dequantised int8 delta (one scale per output row); returns the reconstruction and bytes."""
    import torch

    delta = (fine - base).float()
    rows = delta.reshape(delta.shape[0], -1) if delta.dim() > 1 else delta.reshape(1, -1)
    scale = rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127
    q = torch.round(rows / scale).clamp(-127, 127).to(torch.int8)
    return base + (q.float() * scale).reshape(delta.shape), q.numel() + scale.numel() * 4


def measure(model, base_state: dict, tokenizer, train_texts: list[str], test: list, names: list[str],  # noqa: ANN001
            onnx_dir: Path) -> dict:
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    from classifiers.ml.inference import encode, predict_logits, torch_runner
    from classifiers.ml.serving import export_onnx, quantize_int8

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    emb, base_emb = state[EMBEDDINGS], base_state[EMBEDDINGS]
    changed = (emb != base_emb).any(dim=1)
    seen = {i for text in train_texts for i in tokenizer(text, truncation=True, max_length=64)["input_ids"]}
    row_bytes = emb.shape[1] * 4 + 4  # fp32 row + its index
    out = {"embedding_rows": emb.shape[0], "rows_changed": int(changed.sum()), "tokens_in_training_data": len(seen),
           "rows_changed_outside_training_tokens": int(sum(bool(changed[i]) for i in range(emb.shape[0])
                                                           if i not in seen)),
           "max_change_outside_training_tokens": float(max(
               ((emb[i] - base_emb[i]).abs().max() for i in range(emb.shape[0]) if i not in seen),
               default=torch.tensor(0.0))),
           "embedding_row_delta_bytes": int(changed.sum()) * row_bytes}
    # The other weights: fp32 as today, or an int8 delta against the base (head: fp32, it has no base).
    rebuilt, delta_bytes, head_bytes, other_fp32 = {}, 0, 0, 0
    for name, tensor in state.items():
        if name == EMBEDDINGS:
            rebuilt[name] = tensor
            continue
        other_fp32 += tensor.numel() * 4
        if name in base_state and base_state[name].shape == tensor.shape and tensor.is_floating_point():
            rebuilt[name], size = int8_delta(tensor, base_state[name])
            delta_bytes += size
        else:
            rebuilt[name] = tensor
            head_bytes += tensor.numel() * 4
    out.update(other_weights_fp32_bytes=other_fp32, other_weights_int8_delta_bytes=delta_bytes + head_bytes)
    enc = encode(tokenizer, [t for t, _ in test], 64)
    truth = np.array([names.index(y) for _, y in test])

    def argmax(m) -> np.ndarray:  # noqa: ANN001
        return predict_logits(torch_runner(m), enc, pad_id=tokenizer.pad_token_id, num_labels=len(names)).argmax(-1)

    original = argmax(model.eval())
    copy = type(model)(model.config)
    copy.load_state_dict(rebuilt)
    restored = argmax(copy.eval())
    out.update(test_accuracy=round(float((original == truth).mean()), 4),
               test_accuracy_rebuilt_from_int8_delta=round(float((restored == truth).mean()), 4),
               test_agreement_rebuilt=round(float((original == restored).mean()), 4))
    # The served int8 ONNX, and how much of it is the embedding matrix.
    int8 = quantize_int8(export_onnx(model, onnx_dir))
    graph = onnx.load(str(int8)).graph
    sizes = {i.name: numpy_helper.to_array(i).nbytes for i in graph.initializer}
    emb_int8 = max((n for n, i in zip(sizes, graph.initializer, strict=True) if list(i.dims) == list(emb.shape)),
                   key=sizes.get, default=None)
    out.update(int8_onnx_bytes=int8.stat().st_size, int8_onnx_embedding_bytes=sizes.get(emb_int8, 0),
               fp32_onnx_bytes=(onnx_dir / "model.onnx").stat().st_size)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=150)
    opts = parser.parse_args()
    setup()
    from django.conf import settings
    from transformers import AutoModel, AutoTokenizer

    folder = ROOT.parent / "shared" / "data" / "dair-ai-emotion"
    if not folder.exists():
        folder = Path("/work/shared/data/dair-ai-emotion")
    train = subsample(read_split(folder / "train.txt"), opts.rows)
    val, test = subsample(read_split(folder / "val.txt"), 300), subsample(read_split(folder / "test.txt"), 1000)
    base = settings.BASE_MODEL
    base_state = {f"bert.{k}": v for k, v in AutoModel.from_pretrained(base).state_dict().items()}
    tokenizer = AutoTokenizer.from_pretrained(base)
    result = {"rows": opts.rows, "steps": opts.steps}
    scratch = Path(tempfile.mkdtemp(prefix="bench-delta-"))
    try:
        for label, recipe in (("frozen", {}), ("trained", {"freeze_embeddings": False}),
                              ("trained_no_decay", {"freeze_embeddings": False, "weight_decay": 0.0})):
            started = time.monotonic()
            out = scratch / label
            trained, names = fine_tune(base, train, val, out, steps=opts.steps, **recipe)
            figures = measure(trained.model, base_state, tokenizer, [t for t, _ in train], test, names, out)
            emb_bytes = 0 if label == "frozen" else figures["embedding_row_delta_bytes"]
            onnx_without_embeddings = figures["int8_onnx_bytes"] - figures["int8_onnx_embedding_bytes"]
            figures["proposed_bytes_per_version"] = (figures["other_weights_int8_delta_bytes"] + emb_bytes
                                                     + onnx_without_embeddings)
            figures["wall_s"] = round(time.monotonic() - started, 1)
            result[label] = figures
            print(label, json.dumps(figures), file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
