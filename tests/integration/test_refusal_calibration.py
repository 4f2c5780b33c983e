"""The refusal judge on the held-out (test) part of the labelled validation set: it was never fitted
on these replies, and it must agree with the human labels better than the pattern-only baseline."""

from __future__ import annotations

import pytest


@pytest.mark.integration
def test_refusal_judge_beats_the_pattern_baseline_on_the_test_part():
    from erpo.judges.human_labels import load_part
    from erpo.judges.validation import check_judge, versus_baseline
    rows = load_part("test")
    assert len(rows) >= 250
    judge = check_judge("refusal", rows)
    baseline = check_judge("refusal_pattern", rows)
    overall = versus_baseline(judge, baseline)["overall"]
    # a paired bootstrap over the same replies: the judge's gain must exceed the noise
    assert overall["excludes_zero"] and overall["diff"] > 0, overall
