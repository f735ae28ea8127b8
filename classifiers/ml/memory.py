"""Loaded models held by one worker process within a memory budget, least recently used evicted first; Django-free.

A worker serving hundreds of course versions cannot hold them all, and a count ("the two most recently used")
says nothing about memory: an int8 MiniLM holds ~50 MB, a torch model several times that. Each model's size is
what loading it added to the process's resident memory (measured), never less than its files on disk (the RSS
growth reads 0 when the allocator reuses memory a previous eviction freed).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_rss_bytes() -> int:
    """This process's resident memory (Linux /proc; 0 elsewhere, where only file sizes count)."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def release_freed_memory() -> None:
    """Hand memory freed by evicted models back to the OS: glibc keeps freed heap pages otherwise, so the
    process's RSS would never shrink and the next load would measure as free (malloc_trim; glibc only)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass
class Loaded(Generic[T]):
    model: T
    size: int  # bytes this model is charged against the budget


@dataclass
class LoadStats:
    loads: int = 0
    hits: int = 0
    evictions: int = 0


class ModelBudget(Generic[T]):
    """Keyed models whose estimated sizes sum to at most `budget_bytes`; the most recently used is always kept,
    even alone over budget (a worker must be able to serve the one model it was asked for)."""

    def __init__(self, budget_bytes: int, *, on_event: Callable[[str], None] | None = None) -> None:
        self.budget_bytes = budget_bytes
        self.stats = LoadStats()
        self._models: OrderedDict[Hashable, Loaded[T]] = OrderedDict()
        self._on_event = on_event or (lambda event: None)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._models

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[Hashable]:
        """Held keys, least recently used first."""
        return iter(list(self._models))

    @property
    def used_bytes(self) -> int:
        return sum(entry.size for entry in self._models.values())

    def get(self, key: Hashable, load: Callable[[], tuple[T, int]]) -> T:
        """The model for `key`, loading it with `load()` → (model, bytes of its files) when not held."""
        if key in self._models:
            self._models.move_to_end(key)
            self.stats.hits += 1
            self._on_event("hit")
            return self._models[key].model
        before = process_rss_bytes()
        model, file_bytes = load()
        grown = process_rss_bytes() - before
        self._models[key] = Loaded(model, max(grown, file_bytes))
        self.stats.loads += 1
        self._on_event("load")
        self._evict_over_budget()
        return model

    def charge(self, key: Hashable, grown_bytes: int) -> None:
        """Add what running a held model just added to the process (ONNX Runtime's buffers grow with the first
        large batches, after the load was measured), then evict others beyond the budget."""
        if key in self._models and grown_bytes > 0:
            self._models[key].size += grown_bytes
            self._evict_over_budget()

    def _evict_over_budget(self) -> None:
        evicted = False
        while len(self._models) > 1 and self.used_bytes > self.budget_bytes:
            self._models.popitem(last=False)
            self.stats.evictions += 1
            self._on_event("eviction")
            evicted = True
        if evicted:
            release_freed_memory()

    def clear(self) -> None:
        self._models.clear()
        release_freed_memory()
