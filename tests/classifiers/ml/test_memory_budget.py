"""The loaded-model budget (classifiers.ml.memory): least recently used models go once their sizes pass the budget,
and a model's size is what loading it added to the process, never less than its files."""

from __future__ import annotations

import numpy as np

from classifiers.ml.memory import ModelBudget, process_rss_bytes

MB = 1024**2


def _fake(name: str, size: int):  # noqa: ANN202 - a loader as predictor_for passes it
    return lambda: (name, size)


def test_models_beyond_the_budget_are_evicted_least_recently_used_first():
    events: list[str] = []
    budget = ModelBudget(250 * MB, on_event=events.append)
    for name in ("a", "b"):
        budget.get(name, _fake(name, 100 * MB))
    assert budget.get("a", _fake("a", 100 * MB)) == "a"  # a hit: "a" is now the most recently used
    budget.get("c", _fake("c", 100 * MB))  # 300 MB > 250 MB: "b" goes, not "a"
    assert list(budget) == ["a", "c"] and budget.used_bytes == 200 * MB
    assert (budget.stats.loads, budget.stats.hits, budget.stats.evictions) == (3, 1, 1)
    assert events == ["load", "load", "hit", "load", "eviction"]


def test_a_bigger_model_evicts_as_many_as_it_needs():
    budget = ModelBudget(300 * MB)
    for name in "abc":
        budget.get(name, _fake(name, 90 * MB))
    budget.get("big", _fake("big", 200 * MB))
    assert list(budget) == ["c", "big"] and budget.used_bytes <= budget.budget_bytes


def test_the_model_asked_for_stays_even_alone_over_budget():
    budget = ModelBudget(10 * MB)
    budget.get("a", _fake("a", 5 * MB))
    assert budget.get("huge", _fake("huge", 50 * MB)) == "huge"
    assert list(budget) == ["huge"] and budget.stats.evictions == 1


def test_a_model_is_charged_what_loading_it_added_to_the_process():
    budget = ModelBudget(1024 * MB)
    before = process_rss_bytes()
    model = budget.get("arrays", lambda: (np.ones(40 * MB // 8), 1 * MB))  # 40 MB in memory, "1 MB of files"
    assert model.nbytes == 40 * MB and process_rss_bytes() - before >= 35 * MB
    assert 35 * MB <= budget.used_bytes < 60 * MB


def test_memory_a_model_adds_while_running_is_charged_to_it():
    budget = ModelBudget(250 * MB)
    for name in ("a", "b"):
        budget.get(name, _fake(name, 100 * MB))
    budget.charge("b", 80 * MB)  # "b"'s buffers grew on its first big batch: 280 MB > 250 MB
    assert list(budget) == ["b"] and budget.used_bytes == 180 * MB
    budget.charge("gone", 10 * MB)  # not held (evicted meanwhile): nothing to charge
    assert budget.used_bytes == 180 * MB
