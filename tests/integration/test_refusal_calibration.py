"""The refusal judge agrees with PyRIT's human refusal labels on replies it was not trained on."""

from __future__ import annotations

import pytest


@pytest.mark.integration
def test_refusal_judge_agreement_on_held_out_human_labels():
    from erpo.judges.refusal import cross_validate
    rows = cross_validate(folds=5, seed=0)
    assert rows["combined"]["n"] >= 150
    assert rows["combined"]["accuracy"] >= 0.95, rows
    assert rows["combined"]["accuracy"] > rows["patterns"]["accuracy"]   # the classifier earns its place
