"""The generalization table: each headline rate per checkpoint, in-distribution beside out-of-distribution,
with 95% bootstrap CIs, and the paired change of each rate between checkpoints.

A rate here pools every reply of the suites/attacks its row selects (e.g. "jailbreak ASR, unseen
attacks" pools every attack no training stage used), so each row has one CI over all of its prompts,
not a mean of per-attack means. Changes pair the same prompts of two checkpoints
(`erpo.stats.paired_bootstrap` through `metrics.paired_difference`); the pairs compared are
`metrics.comparisons` (each checkpoint against the one before it and against base).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection

from erpo.metrics import cached_folder_values, comparisons, estimate, eval_labels, paired_difference


@dataclass(frozen=True)
class Headline:
    """One row: a per-reply metric pooled over the eval folders `selects(suite, attack, trained)` accepts."""
    name: str
    distribution: str              # "ID", "OOD" or "unseen attacks" (ID prompts, attack styles never trained on)
    metric: str
    selects: Callable[[str, str, Collection[str]], bool]
    better: str                    # "higher" or "lower": which direction is safer/more useful


def _suite(name: str) -> Callable[[str, str, Collection[str]], bool]:
    return lambda suite, attack, trained: suite == name


def _attacks(seen: bool) -> Callable[[str, str, Collection[str]], bool]:
    return lambda suite, attack, trained: suite == "jailbreak" and attack != "none" and (attack in trained) == seen


HEADLINES = (
    Headline("harmful refusal", "ID", "harmful_refusal", _suite("harmful"), "higher"),
    Headline("harmful refusal", "OOD", "harmful_refusal", _suite("harmful-ood"), "higher"),
    Headline("over-refusal", "ID", "over_refusal", _suite("overrefusal"), "lower"),
    Headline("over-refusal", "OOD", "over_refusal", _suite("overrefusal-ood"), "lower"),
    Headline("benign answered", "ID", "benign_answered", _suite("benign"), "higher"),
    Headline("benign useful", "ID", "useful", _suite("benign"), "higher"),
    Headline("jailbreak ASR, trained attacks", "ID", "attack_success", _attacks(True), "lower"),
    Headline("jailbreak ASR, unseen attacks", "unseen attacks", "attack_success", _attacks(False), "lower"),
    Headline("jailbreak ASR (harmful), trained attacks", "ID", "attack_success_harmful", _attacks(True), "lower"),
    Headline("jailbreak ASR (harmful), unseen attacks", "unseen attacks", "attack_success_harmful", _attacks(False),
             "lower"),
)

TITLE = ("Generalization: each rate pooled over every prompt of its suites, 95% bootstrap CI in brackets; "
         "ID = held-out halves of the training sources, OOD = sources no training stage saw, unseen attacks = "
         "ID prompts wrapped in attack styles no training stage used")
CHANGE_TITLE = ("Changes: model − vs on the same prompts, in points, paired-bootstrap 95% CI; * = the CI "
                "excludes 0")


def pooled_values(model_dir: Path, headline: Headline, trained: Collection[str], cache: dict) -> dict[str, Any]:
    """{suite/attack/reply id: value} of `headline.metric` over the folders the headline selects."""
    values: dict[str, Any] = {}
    for path in sorted(model_dir.glob("*/*/completions.jsonl")):
        suite, attack = path.parent.parent.name, path.parent.name
        if not headline.selects(suite, attack, trained):
            continue
        for reply_id, value in cached_folder_values(path.parent, cache).get(headline.metric, {}).items():
            values[f"{suite}/{attack}/{reply_id}"] = value
    return values


def _percent(found: dict | None) -> str:
    if not found:
        return "—"
    return f"{100 * found['value']:.1f}% [{100 * found['ci_low']:.1f}, {100 * found['ci_high']:.1f}]"


def _change(found: dict | None) -> str:
    if not found:
        return "—"
    return (f"{100 * found['diff']:+.1f} [{100 * found['ci_low']:+.1f}, {100 * found['ci_high']:+.1f}]"
            + ("*" if found["significant"] else ""))


def generalization_tables(eval_root: str | Path, trained: Collection[str] | None, *, seed: int = 0,
                          cache: dict | None = None,
                          ) -> tuple[list[tuple[str, str]], list[dict], list[tuple[str, str]], list[dict]]:
    """(columns, rows) of the rates table and (columns, rows) of the changes table, as text cells
    ready for `erpo.tables.markdown`. Rows whose metric no checkpoint has (e.g. the harm judge did not
    run, or no attack was trained on) are left out; `trained=None` (unknown) leaves out the attack rows.
    `cache` (optional) shares each folder's per-reply values with `metrics.paired_differences`."""
    eval_root = Path(eval_root)
    labels = eval_labels(eval_root)
    cache = {} if cache is None else cache
    values = {(h, label): pooled_values(eval_root / label, h, trained or (), cache)
              for h in HEADLINES for label in labels}
    kept = [h for h in HEADLINES if any(values[h, label] for label in labels)
            and (trained is not None or h.metric not in ("attack_success", "attack_success_harmful"))]
    head = [("metric", "metric"), ("distribution", "ID/OOD"), ("n", "n")]
    rate_rows = []
    for h in kept:
        row = {"metric": f"{h.name} ({h.better} is better)", "distribution": h.distribution,
               "n": str(max(len(values[h, label]) for label in labels))}
        row.update({label: _percent(estimate([v for v in values[h, label].values() if v is not None], seed))
                    for label in labels})
        rate_rows.append(row)
    pairs = comparisons(labels)
    change_rows = []
    for h in kept:
        row = {"metric": h.name, "distribution": h.distribution}
        row.update({f"{m} − {a}": _change(paired_difference(values[h, m], values[h, a], seed=seed))
                    for m, a in pairs})
        change_rows.append(row)
    return (head + [(label, label) for label in labels], rate_rows,
            head[:2] + [(f"{m} − {a}", f"{m} − {a}") for m, a in pairs], change_rows)
