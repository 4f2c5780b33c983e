"""Prompt data: the lazy `DATASETS` registry, `load_source`, and leakage-free `load_prompts`.

Sources: `harmbench`, `advbench`, `donotanswer` (harmful), `overrefusal` (benign but edgy),
`benign-generated` (seeded generator, incl. contrast prompts), `user-file` (JSONL/CSV) and `hub`
(`datasets.load_dataset`, needs internet). Every source returns `PromptRecord`s.
`training_records` leaves out the held-out (out-of-distribution) sources that `holdout_records`
gives whole to the eval.
"""

from __future__ import annotations

from typing import Any, Iterable

from erpo.data.records import PromptRecord
from erpo.data.splits import assign_splits, deduplicate, normalize_text
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


def source_name(spec: str | dict[str, Any]) -> str:
    """The registry name of a source spec (a name, or a dict with `name`)."""
    return spec if isinstance(spec, str) else spec["name"]


def holdout_records(holdout: Iterable[str]) -> list[PromptRecord]:
    """Every prompt of the held-out (out-of-distribution) sources, whole and deduplicated; their
    `split` is "eval", since no training stage may see them."""
    records: list[PromptRecord] = []
    for name in holdout:
        records += load_source(name)
    unique, _ = deduplicate(records)
    return [r.model_copy(update={"split": "eval"}) for r in unique]


def training_records(sources: Iterable[str | dict[str, Any]], holdout: Iterable[str], *,
                     eval_fraction: float = 0.3, seed: int = 0) -> list[PromptRecord]:
    """`load_prompts` of `sources` without the held-out ones, and without any prompt whose text a
    held-out source also has (a copy in another benchmark would carry it into training)."""
    holdout = list(holdout)
    kept = [s for s in sources if source_name(s) not in holdout]
    records = load_prompts(kept, eval_fraction=eval_fraction, seed=seed)
    if not holdout:
        return records
    held = {normalize_text(r.prompt) for r in holdout_records(holdout)}
    return [r for r in records if normalize_text(r.prompt) not in held]


__all__ = ["DATASETS", "OFFLINE_SOURCES", "PromptRecord", "holdout_records", "load_prompts", "load_source",
           "source_name", "training_records"]
