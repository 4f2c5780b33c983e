"""Statistics: bootstrap intervals, the paired bootstrap, Cohen's kappa and agreement metrics."""

from __future__ import annotations

import numpy as np
import pytest

from erpo.stats import agreement, bootstrap_ci, cohen_kappa, confusion, paired_bootstrap


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    x = np.random.default_rng(1).normal(3.0, 1.0, 400)
    lo, hi = bootstrap_ci(x, seed=7)
    assert (lo, hi) == bootstrap_ci(x, seed=7)
    assert lo < x.mean() < hi and hi - lo < 0.5
    assert bootstrap_ci([]) is None


def test_paired_bootstrap_finds_a_known_difference():
    rng = np.random.default_rng(0)
    n = 600
    a = rng.random(n) < 0.90          # judge A right on ~90% of items
    b = a & (rng.random(n) < 0.85)    # judge B wrong on ~15% of the items A gets right: diff ≈ 0.135
    true_diff = 0.90 * 0.15
    out = paired_bootstrap(a, b, seed=3)
    assert out["ci_low"] <= true_diff <= out["ci_high"]
    assert out["excludes_zero"] and out["diff"] > 0 and out["n"] == n


def test_paired_bootstrap_with_no_difference_includes_zero():
    rng = np.random.default_rng(2)
    a = rng.random(500) < 0.8
    b = a.copy()
    ones, zeros = np.flatnonzero(a)[:20], np.flatnonzero(~a)[:20]
    b[ones], b[zeros] = False, True     # B differs from A on 40 items, 20 each way: same mean
    out = paired_bootstrap(a, b, seed=3)
    assert out["diff"] == pytest.approx(0.0)
    assert out["ci_low"] < 0 < out["ci_high"] and not out["excludes_zero"]


def test_paired_bootstrap_rejects_unpaired_vectors():
    with pytest.raises(ValueError):
        paired_bootstrap([1, 0, 1], [1, 0])


@pytest.mark.parametrize("truth,pred,kappa", [
    ([1, 1, 0, 0], [1, 1, 0, 0], 1.0),                    # perfect agreement
    ([1, 0, 1, 0], [0, 1, 0, 1], -1.0),                   # perfect disagreement, balanced
    ([1, 1, 1, 1], [1, 1, 1, 1], 1.0),                    # one class, agreeing
    # textbook 2×2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no → p_o 0.7, p_e 0.5 → kappa 0.4
    ([1] * 25 + [0] * 25, [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15, 0.4),
])
def test_cohen_kappa_known_cases(truth, pred, kappa):
    assert cohen_kappa(truth, pred) == pytest.approx(kappa)


def test_cohen_kappa_matches_scikit_learn():
    from sklearn.metrics import cohen_kappa_score
    rng = np.random.default_rng(5)
    t = rng.random(300) < 0.4
    p = np.where(rng.random(300) < 0.8, t, ~t)
    assert cohen_kappa(t, p) == pytest.approx(cohen_kappa_score(t, p))


def test_agreement_metrics_confusion_and_intervals():
    truth = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    pred = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]
    out = agreement(truth, pred, seed=0)
    assert out["n"] == 10 and out["confusion"] == confusion(truth, pred) == {"tp": 3, "fp": 1, "fn": 1, "tn": 5}
    assert out["accuracy"]["value"] == pytest.approx(0.8)
    assert out["precision"]["value"] == pytest.approx(0.75) and out["recall"]["value"] == pytest.approx(0.75)
    for name in ("accuracy", "precision", "recall", "kappa"):
        m = out[name]
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
    assert agreement(truth, pred, seed=0) == out


def test_agreement_leaves_undefined_metrics_empty():
    out = agreement([0, 0, 0], [0, 0, 0])
    assert out["recall"] is None and out["precision"] is None and out["accuracy"]["value"] == 1.0
    assert agreement([], [])["accuracy"] is None
