"""A tiny random BERT (MiniLM's tokenizer, 2 small layers) so training tests take seconds."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def tiny_bert(directory: Path) -> str:
    from transformers import AutoTokenizer, BertConfig, BertModel

    if (directory / "config.json").exists():
        return str(directory)
    tokenizer = AutoTokenizer.from_pretrained(settings.BASE_MODEL)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)
