"""Serving a version: ONNX export (fp32 + dynamic int8), the agreement check, and a Predictor; Django-free.

Export runs once per version at registration. The int8 model is chosen for serving only when it loses
at most INT8_MAX_ACCURACY_DROP accuracy against the torch model on the validation split.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from classifiers.ml.inference import (
    DEFAULT_BATCH_SIZE,
    LabelOutput,
    decode,
    encode,
    onnx_runner,
    predict_logits,
    to_probabilities,
    torch_runner,
)

ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
INT8_MAX_ACCURACY_DROP = 0.005  # 0.5 accuracy points
ONNX_OPSET = 17

if TYPE_CHECKING:  # torch is imported where it runs: the web process reads this module's constants only
    import torch


def _logits_only(model: torch.nn.Module) -> torch.nn.Module:
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    return LogitsOnly(model)


def export_onnx(model: torch.nn.Module, directory: Path) -> Path:
    """fp32 ONNX with dynamic batch and sequence axes (TorchScript exporter: one self-contained file)."""
    import torch

    model = model.to("cpu").eval()
    dummy = torch.ones(2, 8, dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"}}
    path = Path(directory) / ONNX_FILE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _logits_only(model), (dummy, dummy), str(path), input_names=["input_ids", "attention_mask"],
            output_names=["logits"], dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False,
        )
    return path


# Dynamic-int8 settings, all tried at registration; the most accurate on validation is kept (the first on a
# tie). Per-channel scales with 7-bit weights come first: ONNX Runtime's advice for CPUs without VNNI
# (AVX2/AVX-512: the u8s8 kernels can saturate; 7-bit weights avoid it), and per-channel scales keep more
# accuracy in small models. Both run the same int8 kernels (bench/inference.py: same speed within noise).
INT8_VARIANTS = {"per-channel-7bit": {"per_channel": True, "reduce_range": True}, "per-tensor": {}}


def quantize_int8(fp32_path: Path, variant: str = "per-channel-7bit", out: Path | None = None) -> Path:
    """Int8 matrix multiplications; the embedding tables (Gather) stay fp32: a table lookup gains no speed from
    int8, and a small version stores the word-embedding matrix apart, shared with the base model
    (classifiers.ml.artifacts), which needs it to be exactly the model's."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = out or fp32_path.with_name(ONNX_INT8_FILE)
    quantize_dynamic(str(fp32_path), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                     **INT8_VARIANTS[variant])
    return out


def available_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's core count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Threads per model: this process's cores shared among the worker's processes (INFERENCE_PROCESSES)."""
    try:
        processes = max(1, int(os.environ.get("INFERENCE_PROCESSES", "1")))
    except ValueError:
        processes = 1
    return max(1, available_cores() // processes)


def onnx_session(path: Path | bytes, threads: int | None = None, *, shared: dict | None = None):  # noqa: ANN201
    """An ONNX Runtime session (onnxruntime.InferenceSession) of a model file or serialized model; `shared`
    names initializers given as OrtValues the caller keeps alive, which the session uses without a copy (a base
    model's word-embedding matrix, held once by every version's session in the process)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    for name, value in (shared or {}).items():
        options.add_initializer(name, value)
    # One memory arena for every session of the process (its own arena keeps a session's largest batch's
    # buffers: ~100 MB per held MiniLM after a 64-text batch, against ~18 MB of weights and graph).
    _register_shared_arena()
    options.add_session_config_entry("session.use_env_allocators", "1")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # ORT sizes its pool from the host's physical cores, which oversubscribes a container's CPU set; one
    # model runs at a time per process, so no inter-op pool and no spinning threads between batches.
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


_ARENA_REGISTERED = False


def _register_shared_arena() -> None:
    global _ARENA_REGISTERED
    if _ARENA_REGISTERED:
        return
    import onnxruntime as ort

    memory = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
    ort.create_and_register_allocator(memory, None)
    _ARENA_REGISTERED = True


@dataclass(frozen=True)
class ServingCheck:
    agreement_fp32: float
    torch_accuracy: float
    int8_accuracy: float
    int8_accuracy_delta: float
    use_int8: bool
    int8_variant: str = "per-channel-7bit"  # the INT8_VARIANTS entry in model.int8.onnx
    int8_variant_accuracy: dict[str, float] | None = None  # validation accuracy of every variant tried

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def export_and_check(
    model: torch.nn.Module, tokenizer, directory: Path, texts: Sequence[str], truth: Sequence[int], *,  # noqa: ANN001
    max_length: int, num_labels: int,
) -> ServingCheck:
    """Export fp32 and int8 ONNX into `directory`; compare both with torch on the validation texts.

    Every int8 variant is measured (one quantisation and one validation pass each, seconds at
    registration); the most accurate one is kept, and served when within INT8_MAX_ACCURACY_DROP.
    """
    fp32 = export_onnx(model, directory)
    enc = encode(tokenizer, texts, max_length)
    pad = tokenizer.pad_token_id or 0

    def argmax(run) -> np.ndarray:  # noqa: ANN001
        return predict_logits(run, enc, pad_id=pad, num_labels=num_labels).argmax(-1)

    ref, f32 = argmax(torch_runner(model)), argmax(onnx_runner(onnx_session(fp32)))
    truth = np.asarray(truth)
    torch_acc = float((ref == truth).mean())
    # Each variant in a file of its own; the winner is renamed into place, so nothing is quantised twice.
    files = {variant: quantize_int8(fp32, variant, fp32.with_name(f"model.int8-{variant}.onnx"))
             for variant in INT8_VARIANTS}
    accuracy = {variant: float((argmax(onnx_runner(onnx_session(path))) == truth).mean())
                for variant, path in files.items()}
    variant = max(accuracy, key=accuracy.get)  # max keeps the first of equals
    int8_acc = accuracy[variant]
    files.pop(variant).replace(fp32.with_name(ONNX_INT8_FILE))
    for path in files.values():
        path.unlink()
    delta = torch_acc - int8_acc
    return ServingCheck(
        agreement_fp32=float((ref == f32).mean()), torch_accuracy=torch_acc, int8_accuracy=int8_acc,
        int8_accuracy_delta=round(delta, 6), use_int8=delta <= INT8_MAX_ACCURACY_DROP, int8_variant=variant,
        int8_variant_accuracy=accuracy,
    )


WEIGHT_FILES = (ONNX_FILE, ONNX_INT8_FILE, "model.safetensors")


def choose_backend(names: Sequence[str], *, use_int8: bool, backend: str = "auto") -> str:
    """torch on a GPU or when the version has no ONNX export; ONNX Runtime otherwise."""
    if backend != "auto":
        return backend
    import torch

    onnx = ONNX_INT8_FILE if use_int8 else ONNX_FILE
    return "torch" if torch.cuda.is_available() or onnx not in names else "onnx"


def files_to_load(names: Sequence[str], *, use_int8: bool, backend: str = "auto") -> list[str]:
    """The files of a version a Predictor reads: all but the weights its backend does not use (a worker
    fetching from an object store then downloads ~25 MB of a ~200 MB version)."""
    backend = choose_backend(names, use_int8=use_int8, backend=backend)
    used = (ONNX_INT8_FILE if use_int8 else ONNX_FILE) if backend == "onnx" else "model.safetensors"
    return [name for name in names if name not in WEIGHT_FILES or name == used]


class Predictor:
    """Loads a version directory once and classifies batches of texts (ONNX on CPU, torch on a GPU)."""

    def __init__(self, directory: Path, *, backend: str = "auto", use_int8: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE, threads: int | None = None, tokenizer=None,  # noqa: ANN001
                 session=None) -> None:  # noqa: ANN001 - a tokenizer and an ONNX session built by the caller
        from transformers import AutoTokenizer

        self.directory = Path(directory)
        meta = json.loads((self.directory / "eduplatform.json").read_text())
        self.label_names: list[str] = meta["label_names"]
        self.multi_label = meta["kind"] == "multi"
        self.threshold = float(meta.get("threshold", 0.5))
        self.max_length = int(meta["max_length"])
        self.batch_size = batch_size
        self.threads = threads or default_threads()
        self.tokenizer = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(self.directory)
        onnx_file = self.directory / (ONNX_INT8_FILE if use_int8 else ONNX_FILE)
        backend = choose_backend([onnx_file.name] if onnx_file.exists() else [], use_int8=use_int8, backend=backend)
        self.backend = "onnx" if session is not None else backend
        if session is not None:
            self.run = onnx_runner(session)
        elif backend == "onnx":
            self.run = onnx_runner(onnx_session(onnx_file, self.threads))
        else:
            import torch
            from transformers import AutoModelForSequenceClassification

            model = AutoModelForSequenceClassification.from_pretrained(self.directory)
            torch.set_num_threads(self.threads)
            if torch.cuda.is_available():
                model = model.to("cuda").half()
            self.run = torch_runner(model)

    def predict(self, texts: Sequence[str]) -> tuple[list[LabelOutput], list[bool]]:
        enc = encode(self.tokenizer, texts, self.max_length)
        logits = predict_logits(self.run, enc, pad_id=self.tokenizer.pad_token_id or 0,
                                num_labels=len(self.label_names), batch_size=self.batch_size)
        probs = to_probabilities(logits, multi_label=self.multi_label)
        return decode(probs, self.label_names, multi_label=self.multi_label, threshold=self.threshold), enc.truncated


# --- small versions served without rebuilding them (classifiers.ml.artifacts) ------------------------------


class SharedBase:
    """What every small version of one base model shares in a process, loaded once: the word-embedding matrix
    (fp32, as an OrtValue every version's session uses in place) and the tokenizer (training never changes it).
    A held version then costs its int8 weights and its few changed embedding rows, not a 47 MB matrix each."""

    def __init__(self, base_dir: Path, embedding: str) -> None:
        import onnxruntime as ort
        from safetensors import safe_open
        from transformers import AutoTokenizer

        from classifiers.ml.artifacts import BASE_WEIGHTS

        with safe_open(base_dir / BASE_WEIGHTS, framework="pt") as fh:
            self.table = fh.get_tensor(embedding).contiguous()
        self.array = self.table.float().numpy()  # the OrtValue reads this memory: both live as long as we do
        self.value = ort.OrtValue.ortvalue_from_numpy(self.array)
        self.tokenizer = AutoTokenizer.from_pretrained(base_dir)


_SHARED_BASES: dict[tuple[str, str], SharedBase] = {}  # one or two base models per deployment: never evicted


def held_base(key: str, embedding: str) -> SharedBase | None:
    return _SHARED_BASES.get((key, embedding))


def shared_base(key: str, base_dir: Path, embedding: str) -> SharedBase:
    """This process's SharedBase of the base parts `key` (their digest), loaded on first use."""
    if (key, embedding) not in _SHARED_BASES:
        _SHARED_BASES[(key, embedding)] = SharedBase(base_dir, embedding)
    return _SHARED_BASES[(key, embedding)]


def small_version_predictor(version_dir: Path, base: SharedBase, *, batch_size: int = DEFAULT_BATCH_SIZE,
                            threads: int | None = None) -> Predictor:
    """The int8 model of a small version's stored files, served as materialize + Predictor would serve it, bit
    for bit the same embeddings (classifiers.ml.artifacts.shared_embedding_model), without writing a file."""
    from classifiers.ml import artifacts

    model, table = artifacts.shared_embedding_model(version_dir, base.table)
    session = onnx_session(model, threads or default_threads(), shared={table: base.value})
    return Predictor(version_dir, use_int8=True, batch_size=batch_size, threads=threads, tokenizer=base.tokenizer,
                     session=session)
