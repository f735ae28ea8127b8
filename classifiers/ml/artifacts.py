"""Small version artifacts: a fine-tuned model stored as its difference from the base model; Django-free.

A version of the default model used to store ~206 MB (safetensors, fp32 and int8 ONNX, tokenizer), half of
it the word-embedding matrix every course's copy shares with the base model. A small version stores:
- DELTA_FILE: every weight as a difference from the base model's. Weight matrices: an int8 difference with
  one fp32 scale per row (a quarter of fp32; the rebuilt model agrees with the trained one on held-out text).
  The word-embedding matrix: only the rows training changed (their indices and int8 differences); the recipe
  keeps weight decay off the matrix, so rows of tokens the course's text never used stay the base's bit for
  bit, and a frozen matrix stores no row at all. Vectors (biases, LayerNorm) and what the base has not (the
  classification head): whole, fp32.
- config.json and eduplatform.json (labels, metrics).
- ONNX_INT8_FILE, the served model, whose word-embedding matrix (kept fp32 by serving.quantize_int8) is
  external data in EMBEDDINGS_FILE; that file is not stored but rebuilt from the base's matrix and the rows.
Shared once per base model (the store's BASE_ROOT/<key>): the base encoder's weights (BASE_WEIGHTS) and the
tokenizer. `materialize` turns a small version plus its base parts into a directory any loader reads: a Hugging
Face model directory (transformers.pipeline), and the int8 ONNX with its embeddings beside it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the web process reads the constants only
    import torch

DELTA_FILE = "weights.delta.safetensors"
BASE_WEIGHTS = "base.safetensors"
BASE_INFO = "base.json"
EMBEDDINGS_FILE = "word_embeddings.f32"
ONNX_INT8_FILE = "model.int8.onnx"
HF_WEIGHTS = "model.safetensors"
VERSION_FILES = ("config.json", "eduplatform.json")  # copied as they are into a materialized directory
FORMAT = "delta-1"


def base_state(base_model: str) -> dict[str, torch.Tensor]:
    """The base encoder's weights, as the fine-tuned model's `base_model` holds them (keys without its prefix)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(base_model)
    return {name: tensor.detach().contiguous().clone() for name, tensor in model.state_dict().items()}


def write_base_parts(base_model: str, directory: Path) -> None:
    """What every version of `base_model` shares: its weights and its tokenizer (training never changes it)."""
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    save_file(base_state(base_model), directory / BASE_WEIGHTS, metadata={"format": "pt"})
    AutoTokenizer.from_pretrained(base_model).save_pretrained(directory)
    (directory / BASE_INFO).write_text(json.dumps({"base_model": Path(base_model).name}, sort_keys=True))


def _embedding_name(model: torch.nn.Module) -> str:
    weight = model.get_input_embeddings().weight
    return next(name for name, param in model.named_parameters() if param is weight)


def int8_rows(delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """delta ≈ q * scale, q int8 with one fp32 scale per row (`delta` has 2 or more dimensions)."""
    import torch

    rows = delta.float().flatten(1)  # (rows, everything else); zero rows too
    scale = rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127
    return torch.round(rows / scale).clamp(-127, 127).to(torch.int8), scale


def encode_delta(model: torch.nn.Module, base: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors of DELTA_FILE and its metadata (base-model prefix, word-embedding name)."""
    import torch

    prefix = f"{model.base_model_prefix}."
    embedding = _embedding_name(model)
    tensors: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        own = base.get(name.removeprefix(prefix)) if name.startswith(prefix) else None
        if own is None or own.shape != tensor.shape or not tensor.is_floating_point():
            tensors[f"full:{name}"] = tensor.clone()
        elif name == embedding:
            # Only the rows training changed (exactly: unchanged rows are bit-identical to the base's), each
            # as an int8 difference with its own scale like the other matrices.
            changed = (tensor != own).any(dim=1).nonzero().flatten().to(torch.int64)
            q, scale = int8_rows(tensor[changed] - own[changed])
            tensors[f"rows:{name}"], tensors[f"rowq:{name}"], tensors[f"rowscale:{name}"] = changed, q, scale
        elif tensor.dim() < 2:
            tensors[f"full:{name}"] = tensor.clone()
        else:
            q, scale = int8_rows(tensor - own)
            tensors[f"q:{name}"], tensors[f"scale:{name}"] = q, scale
    return tensors, {"format": FORMAT, "base_prefix": prefix, "embedding": embedding}


def rebuild_state(delta: dict[str, torch.Tensor], meta: dict, base: dict[str, torch.Tensor]) -> dict:
    """The fine-tuned model's full state dict from its delta and the base weights."""
    prefix, state = meta["base_prefix"], {}
    for key, tensor in delta.items():
        kind, name = key.split(":", 1)
        if kind == "full":
            state[name] = tensor
        elif kind == "rows":
            state[name] = _embedding(delta, name, base[name.removeprefix(prefix)])
        elif kind == "q":
            own = base[name.removeprefix(prefix)]
            change = (tensor.float() * delta[f"scale:{name}"]).reshape(own.shape)
            state[name] = (own.float() + change).to(own.dtype)
    return state


def write_delta(model: torch.nn.Module, base: dict[str, torch.Tensor], directory: Path) -> dict:
    """DELTA_FILE + config.json into `directory`; returns the delta's metadata."""
    from safetensors.torch import save_file

    tensors, meta = encode_delta(model, base)
    save_file(tensors, directory / DELTA_FILE, metadata=meta)
    model.config.save_pretrained(directory)
    return meta


def read_delta(directory: Path) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(directory / DELTA_FILE, framework="pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{directory / DELTA_FILE}: unknown weight delta format {meta.get('format')!r}")
    return load_file(directory / DELTA_FILE), meta


def rebuild_model(directory: Path, base: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The model a small version stores (what serving and export see), from `directory`'s delta and config."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    delta, meta = read_delta(directory)
    model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(directory))
    missing, unexpected = model.load_state_dict(rebuild_state(delta, meta, base), strict=False)
    if unexpected or [name for name in missing if not name.endswith("position_ids")]:
        raise ValueError(f"the weight delta does not fit its config: missing {missing}, unexpected {unexpected}")
    return model.eval()


def embedding_bytes(delta: dict[str, torch.Tensor], meta: dict, base: dict[str, torch.Tensor]) -> bytes:
    """The fine-tuned word-embedding matrix, raw little-endian fp32 (EMBEDDINGS_FILE)."""
    name = meta["embedding"]
    weight = _embedding(delta, name, base[name.removeprefix(meta["base_prefix"])])
    return weight.float().numpy().astype("<f4").tobytes()


def _embedding(delta: dict[str, torch.Tensor], name: str, own: torch.Tensor) -> torch.Tensor:
    """The base's embedding matrix with the changed rows' differences added."""
    rows = delta[f"rows:{name}"]
    weight = own.clone()
    weight[rows] = _changed_rows(own, rows, delta[f"rowq:{name}"], delta[f"rowscale:{name}"])
    return weight


def _changed_rows(own: torch.Tensor, rows: torch.Tensor, rowq: torch.Tensor, rowscale: torch.Tensor) -> torch.Tensor:
    """The changed rows' values: the base's rows plus their int8 differences. One definition for the rebuilt
    matrix (`_embedding`) and shared serving (`changed_embedding_rows`), which must agree bit for bit."""
    return (own[rows].float() + rowq.float() * rowscale).to(own.dtype)


def externalize_embeddings(onnx_path: Path, expected: bytes) -> None:
    """Move the ONNX model's word-embedding matrix (the largest gathered fp32 table) out of the file into
    EMBEDDINGS_FILE beside it, after checking it is byte for byte the matrix `materialize` rebuilds."""
    import onnx
    from onnx import numpy_helper
    from onnx.external_data_helper import set_external_data

    model = onnx.load(str(onnx_path))
    initializers = {item.name: item for item in model.graph.initializer}
    gathered = [
        node.input[0] for node in model.graph.node if node.op_type == "Gather" and node.input[0] in initializers
    ]
    tables = [name for name in gathered if initializers[name].data_type == onnx.TensorProto.FLOAT]
    if not tables:
        raise ValueError(f"{onnx_path.name} has no fp32 embedding table to store apart")
    table = initializers[max(tables, key=lambda name: numpy_helper.to_array(initializers[name]).size)]
    if numpy_helper.to_array(table).astype("<f4").tobytes() != expected:
        raise ValueError(f"{onnx_path.name}: the embedding matrix differs from the one rebuilt from the weight delta")
    if not table.HasField("raw_data"):  # set_external_data needs it; from_array writes raw_data
        table.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(table), table.name))
    set_external_data(table, location=EMBEDDINGS_FILE, offset=0, length=len(expected))
    table.data_location = onnx.TensorProto.EXTERNAL
    table.ClearField("raw_data")
    onnx.save_model(model, str(onnx_path))


def materialize(version_dir: Path, base_dir: Path, target: Path, *, full: bool) -> None:
    """A loadable directory from a small version and its base parts: tokenizer, config, metadata, the int8
    ONNX with its embeddings, and (when `full`) the Hugging Face weights `model.safetensors`."""
    from safetensors.torch import load_file, save_file

    target.mkdir(parents=True, exist_ok=True)
    for path in base_dir.iterdir():
        if path.is_file() and not path.name.startswith(".") and path.name not in (BASE_WEIGHTS, BASE_INFO):
            shutil.copyfile(path, target / path.name)  # the tokenizer's files
    for name in VERSION_FILES:
        shutil.copyfile(version_dir / name, target / name)
    base = load_file(base_dir / BASE_WEIGHTS)
    delta, meta = read_delta(version_dir)
    if (version_dir / ONNX_INT8_FILE).is_file():
        shutil.copyfile(version_dir / ONNX_INT8_FILE, target / ONNX_INT8_FILE)
        (target / EMBEDDINGS_FILE).write_bytes(embedding_bytes(delta, meta, base))
    if full:
        save_file(rebuild_state(delta, meta, base), target / HF_WEIGHTS, metadata={"format": "pt"})


# --- serving a small version as it is stored, beside its base's matrix (classifiers.ml.serving.SharedBase) ---


def delta_metadata(version_dir: Path) -> dict:
    """DELTA_FILE's metadata (format, base prefix, word-embedding name), read without its tensors."""
    from safetensors import safe_open

    with safe_open(version_dir / DELTA_FILE, framework="pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{version_dir / DELTA_FILE}: unknown weight delta format {meta.get('format')!r}")
    return meta


def base_embedding_key(meta: dict) -> str:
    """The word-embedding matrix's name among the base weights (BASE_WEIGHTS)."""
    return meta["embedding"].removeprefix(meta["base_prefix"])


def changed_embedding_rows(version_dir: Path, own: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The token ids whose word-embedding rows the version changed, and those rows exactly as `_embedding`
    rebuilds them (`_changed_rows`: same operations, same bits)."""
    from safetensors import safe_open

    name = delta_metadata(version_dir)["embedding"]
    with safe_open(version_dir / DELTA_FILE, framework="pt") as fh:
        rows = fh.get_tensor(f"rows:{name}")
        return rows, _changed_rows(own, rows, fh.get_tensor(f"rowq:{name}"), fh.get_tensor(f"rowscale:{name}"))


def shared_embedding_model(version_dir: Path, own: torch.Tensor) -> tuple[bytes, str]:
    """The version's stored int8 ONNX, serialized, with its word-embedding matrix left to the caller (the name
    returned, given to ONNX Runtime as a shared initializer holding the base's matrix `own`).

    The rows the version changed are looked up apart: each Gather from the matrix becomes
    Where(changed[ids], fix[index[ids]], base[ids]), with `fix` holding only those rows (a few thousand at most
    for a course's text; none for a frozen matrix, which keeps the graph as exported)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(version_dir / ONNX_INT8_FILE), load_external_data=False)
    graph = model.graph
    stored_apart = [
        item for item in graph.initializer
        if item.data_location == onnx.TensorProto.EXTERNAL
        and any(entry.key == "location" and entry.value == EMBEDDINGS_FILE for entry in item.external_data)
    ]
    if len(stored_apart) != 1:
        raise ValueError(f"{version_dir / ONNX_INT8_FILE} does not keep its word-embedding matrix in {EMBEDDINGS_FILE}")
    table = stored_apart[0]
    if list(table.dims) != list(own.shape):
        raise ValueError(f"{version_dir / ONNX_INT8_FILE}: embedding matrix {list(table.dims)} does not fit the "
                         f"base's {list(own.shape)}")
    # ONNX Runtime swaps a shared initializer for one the graph holds, and reads no external data from outside a
    # model's directory: the matrix becomes a one-row placeholder (a Gather's output shape does not depend on
    # the table's row count; the session only ever reads the shared matrix).
    table.ClearField("external_data")
    table.data_location = onnx.TensorProto.DEFAULT
    table.dims[0] = 1
    table.raw_data = np.zeros(int(own.shape[1]), dtype="<f4").tobytes()
    rows, values = changed_embedding_rows(version_dir, own)
    if len(rows):
        vocab = int(own.shape[0])
        index = np.zeros(vocab, dtype=np.int64)
        index[rows.numpy()] = np.arange(len(rows), dtype=np.int64)
        changed = np.zeros(vocab, dtype=bool)
        changed[rows.numpy()] = True
        name = table.name
        graph.initializer.extend([
            numpy_helper.from_array(values.float().numpy(), f"{name}.fix"),
            numpy_helper.from_array(index, f"{name}.fix_index"),
            numpy_helper.from_array(changed, f"{name}.fix_changed"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), f"{name}.fix_axes"),
        ])
        nodes = []
        for n, node in enumerate(graph.node):
            nodes.append(node)
            if node.op_type != "Gather" or node.input[0] != name:
                continue
            ids, out, tag = node.input[1], node.output[0], f"{name}.fix{n}"
            node.output[0] = f"{tag}.base"
            nodes += [
                helper.make_node("Gather", [f"{name}.fix_index", ids], [f"{tag}.index"], name=f"{tag}.index"),
                helper.make_node("Gather", [f"{name}.fix", f"{tag}.index"], [f"{tag}.rows"], name=f"{tag}.rows"),
                helper.make_node("Gather", [f"{name}.fix_changed", ids], [f"{tag}.changed"], name=f"{tag}.changed"),
                helper.make_node("Unsqueeze", [f"{tag}.changed", f"{name}.fix_axes"], [f"{tag}.mask"],
                                 name=f"{tag}.mask"),
                helper.make_node("Where", [f"{tag}.mask", f"{tag}.rows", f"{tag}.base"], [out], name=f"{tag}.where"),
            ]
        del graph.node[:]
        graph.node.extend(nodes)
    return model.SerializeToString(), table.name
