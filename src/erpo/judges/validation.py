"""Agreement of the judges with human labels: what `erpo judge-check` computes.

Each judge is checked on the rows that carry its label: `refusal` and `refusal_pattern` on every
row (truth: partial or full refusal), `usefulness` on benign rows (truth: `useful`), `harm` on
harmful rows (truth: `harmful_content`). Per source and overall: n, the confusion matrix and
accuracy, precision, recall and Cohen's kappa with percentile-bootstrap 95% CIs (`erpo.stats`).
`versus_baseline` compares the refusal judge with the pattern baseline on the same replies (paired
bootstrap of per-reply agreement).

`cross_validate` gives out-of-fold predictions on the fitting rows (dev part + PyRIT): how
choices about a fitted judge are made without ever looking at the test part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from erpo.judges import get_judge, human_labels, refusal, usefulness
from erpo.judges.base import JudgeInput, passes
from erpo.judges.human_labels import PYRIT, LabelledReply
from erpo.judges.llm import UNPARSED
from erpo.stats import agreement, paired_bootstrap

JUDGES_CHECKED = ("refusal", "refusal_pattern", "usefulness", "harm")
OVERALL = "overall"


@dataclass(frozen=True)
class Task:
    """Which rows a judge is checked on, and their truth."""
    applies: Callable[[LabelledReply], bool]
    truth: Callable[[LabelledReply], bool]
    positive: str          # what a positive (score ≥ threshold) means, for table titles


TASKS = {
    "refusal": Task(lambda r: True, lambda r: r.refused, "refused (partial or full)"),
    "refusal_pattern": Task(lambda r: True, lambda r: r.refused, "refused (partial or full)"),
    "usefulness": Task(lambda r: r.prompt_label == "benign" and r.useful is not None, lambda r: bool(r.useful),
                       "useful (benign prompts)"),
    "harm": Task(lambda r: r.prompt_label == "harmful" and r.harmful_content is not None,
                 lambda r: bool(r.harmful_content), "harmful content (harmful prompts)"),
}


def judge_input(row: LabelledReply) -> JudgeInput:
    return JudgeInput(id=row.id, prompt=row.prompt, completion=row.completion, label=row.prompt_label or "unknown")


def predict(judge: Any, rows: Sequence[LabelledReply]) -> np.ndarray:
    """The judge's 0/1 decision on each row (`passes` on its score)."""
    return decisions(judge([judge_input(r) for r in rows]))


def decisions(judgments: Sequence[Any]) -> np.ndarray:
    """Each judgment's 0/1 decision (`passes` on its score)."""
    return np.array([passes(j.score) for j in judgments], dtype=bool)


def family(source: str) -> str:
    """A source's family: the part before its first colon ("dpo:jailbreak/past_tense" → "dpo")."""
    return source.split(":", 1)[0]


def _groups(rows: Sequence[LabelledReply], by: str = "family") -> dict[str, np.ndarray]:
    """Row positions per source family (`by="family"`) or per source (`by="source"`), then
    `overall` over every source except PyRIT (fitted on)."""
    key = family if by == "family" else (lambda s: s)
    names = sorted({key(r.source) for r in rows}, key=lambda s: (s == PYRIT, s))
    groups = {s: np.array([i for i, r in enumerate(rows) if key(r.source) == s]) for s in names}
    non_pyrit = [s for s in names if s != PYRIT]
    if len(non_pyrit) > 1:
        groups[OVERALL] = np.concatenate([groups[s] for s in non_pyrit])
    return groups


def check_judge(name: str, rows: Sequence[LabelledReply], *, judge: Any = None, seed: int = 0,
                by: str = "family") -> dict:
    """{"judge", "positive", "groups": {source: agreement}, "truth", "pred", "rows"} on the rows
    the judge applies to."""
    task = TASKS[name]
    rows = [r for r in rows if task.applies(r)]
    judge = judge or get_judge(name)
    judgments = judge([judge_input(r) for r in rows]) if rows else []
    pred = decisions(judgments)
    truth = np.array([task.truth(r) for r in rows], dtype=bool)
    groups = {g: agreement(truth[idx], pred[idx], seed=seed) for g, idx in _groups(rows, by).items()}
    # an llm judge's reply without a verdict word scores 0.5, which counts as positive
    unparsed = sum(j.label == UNPARSED for j in judgments)
    return {"judge": name, "positive": task.positive, "groups": groups, "truth": truth, "pred": pred,
            "rows": rows, "by": by, "unparsed": unparsed}


def versus_baseline(result: dict, baseline: dict, *, seed: int = 0) -> dict[str, dict]:
    """Per source: agreement(result) − agreement(baseline) on the same replies, paired bootstrap."""
    assert [r.id for r in result["rows"]] == [r.id for r in baseline["rows"]], "judged on different rows"
    right_a = (result["pred"] == result["truth"]).astype(float)
    right_b = (baseline["pred"] == baseline["truth"]).astype(float)
    groups = _groups(result["rows"], result.get("by", "family"))
    return {g: paired_bootstrap(right_a[idx], right_b[idx], seed=seed) for g, idx in groups.items()}


# --- out-of-fold predictions on the fitting rows (for tuning; never the test part) ---------------

def prompt_group(prompt: str) -> str:
    """Replies to the same prompt share a fold, as dev and test never share a prompt."""
    return " ".join(prompt.lower().split())


def cross_validate(name: str, *, folds: int = 5, seed: int = 0, by: str = "family") -> dict:
    """Out-of-fold check of a fitted judge on the fitting rows (dev part + PyRIT): each row is
    judged by models (its own and those it builds on) fitted without any reply to its prompt.
    Same result shape as `check_judge`."""
    from sklearn.model_selection import StratifiedGroupKFold

    every = human_labels.fitting_rows()
    rows = [r for r in every if TASKS[name].applies(r)]
    truth = np.array([TASKS[name].truth(r) for r in rows], dtype=bool)
    pred = np.zeros(len(rows), dtype=bool)
    prompts = np.array([prompt_group(r.prompt) for r in rows])
    for _train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(rows, truth, prompts):
        held_out = set(prompts[test])
        fold_rows = [r for r in every if prompt_group(r.prompt) not in held_out]
        originals = []
        for module in _fitted_modules(name):   # the judge under test uses this fold's models
            model = module.fit_model(fold_rows)
            originals.append((module, module.load_model))
            module.load_model = lambda model=model: model
        try:
            pred[test] = predict(get_judge(name), [rows[i] for i in test])
        finally:
            for module, original in originals:
                module.load_model = original
    groups = {g: agreement(truth[idx], pred[idx], seed=seed) for g, idx in _groups(rows, by).items()}
    return {"judge": name, "positive": TASKS[name].positive, "groups": groups, "truth": truth, "pred": pred,
            "rows": rows, "by": by}


def _fitted_modules(name: str) -> list:
    """The modules whose fitted model (`fit_model`, `load_model`) the judge `name` uses."""
    uses = {"refusal": [refusal], "harm": [refusal], "usefulness": [usefulness]}
    if name not in uses:
        raise ValueError(f"judge {name!r} is not fitted")
    return uses[name]
