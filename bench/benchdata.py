"""Readers for the benchmark data sets in ../shared/data (never copied into the project).

Each reader returns a `Benchmark`: train / validation / test rows of (text, [labels]) from the data
set's official split, the label names, and whether the task is multi-label.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

Rows = list[tuple[str, list[str]]]


def seeded_sample(rows: list, n: int | None, seed: int = 13) -> list:
    """n rows picked with a fixed seed (all of them when n is None or not smaller): every bench's one subsample."""
    return rows if not n or n >= len(rows) else random.Random(seed).sample(rows, n)


@dataclass
class Benchmark:
    name: str
    train: Rows
    validation: Rows
    test: Rows
    label_names: list[str]
    multi_label: bool = False

    def subsample(self, limit: int | None, seed: int = 13) -> Benchmark:
        """N training rows, N/8 validation and N/4 test rows (at least 60 / 100): for a quick run."""
        if not limit:
            return self

        return Benchmark(self.name, seeded_sample(self.train, limit, seed),
                         seeded_sample(self.validation, max(limit // 8, 60), seed),
                         seeded_sample(self.test, max(limit // 4, 100), seed), self.label_names, self.multi_label)


def _emotion(folder: Path) -> Benchmark:
    def read(name: str) -> Rows:
        rows = []
        for line in (folder / name).read_text(encoding="utf-8").splitlines()[1:]:
            text, _, label = line.rpartition(";")
            rows.append((text, [label]))
        return rows

    train = read("train.txt")
    names = sorted({label for _, labels in train for label in labels})
    return Benchmark("dair-ai-emotion", train, read("val.txt"), read("test.txt"), names)


def _student_feedback(folder: Path) -> Benchmark:
    with (folder / "student_feedback_doc_level.csv").open(encoding="utf-8", newline="") as fh:
        records = list(csv.DictReader(fh))
    by_split: dict[str, Rows] = {"train": [], "dev": [], "test": []}
    for r in records:
        by_split[r["split_suggested"]].append((r["text"], [r["sentiment"]]))
    return Benchmark("student-feedback-nilanga2022", by_split["train"], by_split["dev"], by_split["test"],
                     ["negative", "neutral", "positive"])


def _goemotions(folder: Path) -> Benchmark:
    names = (folder / "emotions.txt").read_text(encoding="utf-8").split()

    def read(name: str) -> Rows:
        rows = []
        with (folder / name).open(encoding="utf-8", newline="") as fh:
            for text, ids, _ in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                rows.append((text, [names[int(i)] for i in ids.split(",")]))
        return rows

    return Benchmark("goemotions", read("train.tsv"), read("dev.tsv"), read("test.tsv"), names, multi_label=True)


def _sst(folder: Path, which: str) -> Benchmark:
    def read(split: str) -> Rows:
        with (folder / f"{which}_{split}.csv").open(encoding="utf-8", newline="") as fh:
            return [(r["text"], [r["label_name"]]) for r in csv.DictReader(fh)]

    names = (["very negative", "negative", "neutral", "positive", "very positive"] if which == "sst5"
             else ["negative", "positive"])
    return Benchmark(which, read("train"), read("dev"), read("test"), names)


# GoEmotions' own mapping of its 27 emotions onto Ekman's six (+ neutral), from the data set's repository
# (google-research/goemotions data/ekman_mapping.json).
EKMAN = {
    "anger": ["anger", "annoyance", "disapproval"],
    "disgust": ["disgust"],
    "fear": ["fear", "nervousness"],
    "joy": ["joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism", "relief", "pride",
            "admiration", "desire", "caring"],
    "sadness": ["sadness", "disappointment", "embarrassment", "grief", "remorse"],
    "surprise": ["surprise", "realization", "confusion", "curiosity"],
    "neutral": ["neutral"],
}


def _goemotions_ekman(folder: Path) -> Benchmark:
    """GoEmotions as a single-label, imbalanced 7-class task: the rows whose labels map to one Ekman class."""
    to_ekman = {fine: coarse for coarse, fines in EKMAN.items() for fine in fines}
    multi = _goemotions(folder)

    def single(rows: Rows) -> Rows:
        out = []
        for text, labels in rows:
            coarse = {to_ekman[name] for name in labels}
            if len(coarse) == 1:
                out.append((text, [coarse.pop()]))
        return out

    return Benchmark("goemotions-ekman", single(multi.train), single(multi.validation), single(multi.test),
                     list(EKMAN))


READERS = {
    "emotion": ("dair-ai-emotion", "train.txt", _emotion),
    "student-feedback": ("student-feedback-nilanga2022", "student_feedback_doc_level.csv", _student_feedback),
    "goemotions": ("goemotions", "train.tsv", _goemotions),
    "goemotions-ekman": ("goemotions", "train.tsv", _goemotions_ekman),
    "sst5": ("sst", "sst5_train.csv", lambda folder: _sst(folder, "sst5")),
    "sst2": ("sst", "sst2_train.csv", lambda folder: _sst(folder, "sst2")),
}


def load(dataset: str, folder: Path | None, shared: Path) -> Benchmark | None:
    """The data set, or None when its files are absent (the caller prints a visible SKIPPED line)."""
    default_dir, probe, reader = READERS[dataset]
    folder = folder or shared / default_dir
    if not (folder / probe).exists():
        return None
    return reader(folder)
