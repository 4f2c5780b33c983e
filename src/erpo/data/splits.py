"""Train/eval splits without leakage: normalise, deduplicate, assign by a stable hash.

A record's split depends only on its normalised text and the seed (not on its position or on the
other records), so a prompt never moves between train and eval when a source grows, and two
copies of the same text, even from different sources, can never land on different sides.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from typing import Any, Callable, Iterable

from erpo.data.records import PromptRecord
from erpo.errors import ErpoError

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_text(text: str) -> str:
    """Lowercase, unify unicode forms, turn punctuation and whitespace runs into one space."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _NON_WORD.sub(" ", text).strip()


def split_of(text: str, eval_fraction: float, seed: int = 0) -> str:
    """'eval' for a stable `eval_fraction` share of all possible texts, else 'train'."""
    digest = hashlib.sha256(f"{seed}\x00{normalize_text(text)}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64   # uniform in [0, 1)
    return "eval" if position < eval_fraction else "train"


def deduplicate(records: Iterable[PromptRecord]) -> tuple[list[PromptRecord], int]:
    """Keep the first record of each normalised text; return (kept, number dropped)."""
    seen: set[str] = set()
    kept: list[PromptRecord] = []
    dropped = 0
    for record in records:
        key = normalize_text(record.prompt)
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        kept.append(record)
    return kept, dropped


def assign_splits(records: list[PromptRecord], eval_fraction: float = 0.3, seed: int = 0) -> list[PromptRecord]:
    """Copies of `records` with `split` set by `split_of`, then checked for leakage."""
    if not 0.0 <= eval_fraction <= 1.0:
        raise ErpoError(f"eval_fraction must be between 0 and 1, got {eval_fraction}")
    out = [r.model_copy(update={"split": split_of(r.prompt, eval_fraction, seed)}) for r in records]
    check_no_leakage(out)
    return out


def check_no_leakage(records: list[PromptRecord]) -> None:
    """Raise if any eval prompt's normalised text also appears in train."""
    train = {normalize_text(r.prompt) for r in records if r.split == "train"}
    leaked = [r.id for r in records if r.split == "eval" and normalize_text(r.prompt) in train]
    if leaked:
        raise ErpoError(f"{len(leaked)} eval prompt(s) also appear in train, e.g. {leaked[:3]}")


def in_turn(rows: Iterable[Any], key: Callable[[Any], Any]) -> list[Any]:
    """Rows reordered so that their groups (by `key`) take turns: a1, b1, a2, b2, …, then the rest
    of the larger groups; each group keeps its order and groups come in order of first appearance."""
    groups: dict[Any, list[Any]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return [r for turn in itertools.zip_longest(*groups.values()) for r in turn if r is not None]
