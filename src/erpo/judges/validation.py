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

from erpo.judges.base import JudgeInput, passes
from erpo.judges.human_labels import PYRIT, LabelledReply
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
    return np.array([passes(j.score) for j in judge([judge_input(r) for r in rows])], dtype=bool)


def _groups(rows: Sequence[LabelledReply]) -> dict[str, np.ndarray]:
    """Row positions per source, then `overall` over every source except PyRIT (fitted on)."""
    sources = sorted({r.source for r in rows}, key=lambda s: (s == PYRIT, s))
    groups = {s: np.array([i for i, r in enumerate(rows) if r.source == s]) for s in sources}
    non_pyrit = [s for s in sources if s != PYRIT]
    if len(non_pyrit) > 1:
        groups[OVERALL] = np.concatenate([groups[s] for s in non_pyrit])
    return groups


def check_judge(name: str, rows: Sequence[LabelledReply], *, judge: Any = None, seed: int = 0) -> dict:
    """{"judge", "positive", "groups": {source: agreement}, "truth", "pred", "rows"} on the rows
    the judge applies to."""
    from erpo.judges import get_judge
    task = TASKS[name]
    rows = [r for r in rows if task.applies(r)]
    judge = judge or get_judge(name)
    pred = predict(judge, rows) if rows else np.zeros(0, dtype=bool)
    truth = np.array([task.truth(r) for r in rows], dtype=bool)
    groups = {g: agreement(truth[idx], pred[idx], seed=seed) for g, idx in _groups(rows).items()}
    return {"judge": name, "positive": task.positive, "groups": groups, "truth": truth, "pred": pred,
            "rows": rows}


def versus_baseline(result: dict, baseline: dict, *, seed: int = 0) -> dict[str, dict]:
    """Per source: agreement(result) − agreement(baseline) on the same replies, paired bootstrap."""
    assert [r.id for r in result["rows"]] == [r.id for r in baseline["rows"]], "judged on different rows"
    right_a = (result["pred"] == result["truth"]).astype(float)
    right_b = (baseline["pred"] == baseline["truth"]).astype(float)
    return {g: paired_bootstrap(right_a[idx], right_b[idx], seed=seed) for g, idx in _groups(result["rows"]).items()}


# --- out-of-fold predictions on the fitting rows (for tuning; never the test part) ---------------

def cross_validate(name: str, *, folds: int = 5, seed: int = 0) -> dict:
    """Out-of-fold check of a fitted judge on the fitting rows (dev part + PyRIT): each row is
    judged by a model fitted without it. Same result shape as `check_judge`."""
    from sklearn.model_selection import StratifiedKFold

    from erpo.judges import get_judge, human_labels
    rows = [r for r in human_labels.fitting_rows() if TASKS[name].applies(r)]
    truth = np.array([TASKS[name].truth(r) for r in rows], dtype=bool)
    fit, module = _fitter(name)
    pred = np.zeros(len(rows), dtype=bool)
    strata = np.array([f"{r.source}:{t}" for r, t in zip(rows, truth)])
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(rows, strata):
        model = fit([rows[i] for i in train])
        original = module.load_model
        module.load_model = lambda: model   # the judge under test uses this fold's model
        try:
            pred[test] = predict(get_judge(name), [rows[i] for i in test])
        finally:
            module.load_model = original
    groups = {g: agreement(truth[idx], pred[idx], seed=seed) for g, idx in _groups(rows).items()}
    return {"judge": name, "positive": TASKS[name].positive, "groups": groups, "truth": truth, "pred": pred,
            "rows": rows}


def _fitter(name: str) -> tuple[Callable, Any]:
    """(fit function, module whose `load_model` the judge calls) of a fitted judge."""
    if name == "refusal":
        from erpo.judges import refusal as module
    elif name == "harm":
        from erpo.judges import harm as module
    elif name == "usefulness":
        from erpo.judges import usefulness as module
    else:
        raise ValueError(f"judge {name!r} is not fitted")
    return module.fit_model, module
