"""Seeded, numpy-only statistics for judge and eval numbers: bootstrap intervals and agreement.

- `bootstrap_ci`: percentile bootstrap CI of a mean (the same data and seed give the same interval).
- `paired_bootstrap`: the difference of two per-item vectors scored on the *same* items, with a
  CI from resampling items jointly (so the items' shared difficulty cancels out).
- `cohen_kappa`, `confusion` and `agreement`: how well 0/1 predictions match 0/1 truth —
  accuracy, precision, recall and kappa, each with a bootstrap CI, plus the 2×2 confusion matrix.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

N_BOOTSTRAP = 1000
LEVEL = 0.95


def _resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _interval(samples: np.ndarray, level: float) -> tuple[float, float] | None:
    """Percentile interval of bootstrap samples; undefined samples (nan) are left out."""
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return None
    alpha = (1 - level) / 2
    return float(np.quantile(samples, alpha)), float(np.quantile(samples, 1 - alpha))


def bootstrap_ci(values: Sequence[float], *, n_boot: int = N_BOOTSTRAP, seed: int = 0,
                 level: float = LEVEL) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the mean of `values`; None when there are none."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return None
    means = x[_resample_indices(x.size, n_boot, seed)].mean(axis=1)
    return _interval(means, level)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, n_boot: int = N_BOOTSTRAP, seed: int = 0,
                     level: float = LEVEL) -> dict:
    """mean(a) − mean(b) over the same items, its percentile CI and whether the CI excludes 0.

    `a[i]` and `b[i]` must score the same item i (e.g. judge A and judge B right/wrong on reply i).
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired_bootstrap needs two equal-length 1-d vectors, got {x.shape} and {y.shape}")
    if x.size == 0:
        return {"diff": None, "ci_low": None, "ci_high": None, "excludes_zero": False, "n": 0}
    d = x - y
    lo, hi = _interval(d[_resample_indices(d.size, n_boot, seed)].mean(axis=1), level)
    return {"diff": float(d.mean()), "ci_low": lo, "ci_high": hi, "excludes_zero": bool(lo > 0 or hi < 0),
            "n": int(d.size)}


# --- agreement of 0/1 predictions with 0/1 truth ----------------------------------------------

def confusion(truth: Sequence[bool], pred: Sequence[bool]) -> dict[str, int]:
    """The 2×2 confusion matrix as {"tp", "fp", "fn", "tn"} (positive = truth/pred is 1)."""
    t, p = np.asarray(truth, dtype=bool), np.asarray(pred, dtype=bool)
    return {"tp": int((t & p).sum()), "fp": int((~t & p).sum()), "fn": int((t & ~p).sum()),
            "tn": int((~t & ~p).sum())}


def _rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall and kappa from confusion counts (arrays: one per resample).

    Undefined values are nan: precision with no predicted positives, recall with no true
    positives. Kappa is 1 when both raters agree perfectly, also in the degenerate case where
    chance agreement is 1 (everything in one class), else (p_o − p_e) / (1 − p_e).
    """
    tp, fp, fn, tn = (np.asarray(v, dtype=float) for v in (tp, fp, fn, tn))
    n = tp + fp + fn + tn
    with np.errstate(invalid="ignore", divide="ignore"):
        p_o = (tp + tn) / n
        p_e = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n ** 2
        kappa = np.where(p_e >= 1.0, np.where(p_o >= 1.0, 1.0, 0.0), (p_o - p_e) / (1.0 - p_e))
        return {"accuracy": p_o, "precision": tp / (tp + fp), "recall": tp / (tp + fn), "kappa": kappa}


def cohen_kappa(truth: Sequence[bool], pred: Sequence[bool]) -> float:
    """Cohen's kappa of two 0/1 raters: agreement beyond what their base rates give by chance."""
    c = confusion(truth, pred)
    if sum(c.values()) == 0:
        return float("nan")
    return float(_rates(c["tp"], c["fp"], c["fn"], c["tn"])["kappa"])


def agreement(truth: Sequence[bool], pred: Sequence[bool], *, n_boot: int = N_BOOTSTRAP, seed: int = 0,
              level: float = LEVEL) -> dict:
    """{"n", "confusion", "accuracy"|"precision"|"recall"|"kappa": {"value", "ci_low", "ci_high"}}.

    Each CI resamples the items (percentile bootstrap); a metric undefined on the data (e.g.
    recall with no positive item) has value None.
    """
    t, p = np.asarray(truth, dtype=bool), np.asarray(pred, dtype=bool)
    if t.shape != p.shape:
        raise ValueError(f"truth and predictions differ in length: {t.shape} vs {p.shape}")
    out: dict = {"n": int(t.size), "confusion": confusion(t, p)}
    if t.size == 0:
        return {**out, **{k: None for k in ("accuracy", "precision", "recall", "kappa")}}
    c = out["confusion"]
    point = _rates(c["tp"], c["fp"], c["fn"], c["tn"])
    idx = _resample_indices(t.size, n_boot, seed)
    tb, pb = t[idx], p[idx]
    boot = _rates((tb & pb).sum(1), (~tb & pb).sum(1), (tb & ~pb).sum(1), (~tb & ~pb).sum(1))
    for name, value in point.items():
        value = float(value)
        ci = _interval(boot[name], level)
        out[name] = None if np.isnan(value) else {"value": value, "ci_low": ci and ci[0], "ci_high": ci and ci[1]}
    return out
