"""Prompt data: the lazy `DATASETS` registry, `load_source`, and leakage-free `load_prompts`.

Sources: `harmbench`, `advbench`, `donotanswer` (harmful), `overrefusal` (benign but edgy),
`benign-generated` (seeded generator, incl. contrast prompts), `user-file` (JSONL/CSV) and `hub`
(`datasets.load_dataset`, needs internet). Every source returns `PromptRecord`s.
"""

from __future__ import annotations

from typing import Any, Iterable

from erpo.data.records import PromptRecord
from erpo.data.splits import assign_splits, deduplicate
from erpo.registry import Registry

DATASETS = Registry("dataset")
DATASETS.add("harmbench", "erpo.data.sources:load_harmbench")
DATASETS.add("advbench", "erpo.data.sources:load_advbench")
DATASETS.add("donotanswer", "erpo.data.sources:load_donotanswer")
DATASETS.add("overrefusal", "erpo.data.sources:load_overrefusal")
DATASETS.add("benign-generated", "erpo.data.sources:load_benign_generated")
DATASETS.add("user-file", "erpo.data.sources:load_user_file")
DATASETS.add("hub", "erpo.data.sources:load_hub")

# Sources that work offline with no arguments (listed by `erpo data list`).
OFFLINE_SOURCES = ["harmbench", "advbench", "donotanswer", "overrefusal", "benign-generated"]


def load_source(name: str, **kwargs) -> list[PromptRecord]:
    """Records of one registered source, in the source's order, with `split=None`."""
    return DATASETS.get(name)(**kwargs)


def load_prompts(sources: Iterable[str | dict[str, Any]], *, eval_fraction: float = 0.3,
                 seed: int = 0) -> list[PromptRecord]:
    """Records of several sources (names, or dicts `{"name": ..., **kwargs}`), deduplicated across
    them, each with a deterministic train/eval split (`erpo.data.splits`)."""
    records: list[PromptRecord] = []
    for spec in sources:
        name, kwargs = (spec, {}) if isinstance(spec, str) else (spec["name"], {k: v for k, v in spec.items()
                                                                                 if k != "name"})
        records += load_source(name, **kwargs)
    unique, _ = deduplicate(records)
    return assign_splits(unique, eval_fraction=eval_fraction, seed=seed)


__all__ = ["DATASETS", "OFFLINE_SOURCES", "PromptRecord", "load_prompts", "load_source"]
