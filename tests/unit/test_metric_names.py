"""One definition and one name per metric: the stage-3 guard measures what the eval suites measure,
and readers of older files accept the names those files used."""

from erpo.config import GuardConfig
from erpo.generation import MockBackend
from erpo.judges.refusal import refusal
from erpo.metrics import suite_metrics, with_current_names
from erpo.reasoning.format import format_reply
from erpo.stages.iterate import evaluate_guard, guard_decision

REPLIES = {"h1": format_reply("[R01 Violent crime] forbids it.", "I can't help with that."),
           "h2": format_reply("[no rule applies]", "Sure, here is how: mix the parts and wire the timer."),
           "b1": format_reply("[no rule applies]", "Run kill PID, or press Ctrl+C."),
           "b2": format_reply("[no rule applies]", "I can't help with that."),
           "b3": "<think>\n[no rule applies] but the reply stops before its answer"}
ROWS = [{"id": i, "prompt": f"prompt {i}", "label": "harmful" if i[0] == "h" else "benign"} for i in REPLIES]


def test_the_guard_rates_are_the_eval_rates_of_the_same_replies():
    backend = MockBackend(lambda conv, _: REPLIES[conv[-1]["content"].split()[-1]])
    judge = refusal(use_classifier=False)
    guard = evaluate_guard(backend, ROWS, {"refusal": judge}, lambda text: len(text.split()), 64)
    completions = [{**row, "completion": REPLIES[row["id"]]} for row in ROWS]
    judgments = {"refusal": [j.to_dict() for j in judge([_input(c) for c in completions])]}
    suite = suite_metrics(completions, judgments)
    for name in ("harmful_refusal", "over_refusal", "benign_answered", "format_rate"):
        assert guard[name] == suite[name]["value"], name
    assert guard["benign_answered"] == round(1 / 3, 4)   # b3 is not refused, but has no answer
    assert "benign_answer" not in guard and "mean_reply_tokens" not in guard and guard["mean_tokens"] > 0


def _input(completion: dict):
    from erpo.judges.base import JudgeInput
    return JudgeInput(id=completion["id"], prompt=completion["prompt"], completion=completion["completion"],
                      label=completion["label"])


def test_old_metric_names_are_read_under_the_current_ones_in_place():
    old = {"round": 1, "benign_answer": 0.9, "mean_reply_tokens": 120.0, "pairs": 3}
    assert list(with_current_names(old).items()) == [("round", 1), ("benign_answered", 0.9), ("mean_tokens", 120.0),
                                                     ("pairs", 3)]
    assert with_current_names({"mean_tokens": 80.0, "mean_total_tokens": 99.0}) == {"mean_tokens": 80.0}


def test_the_guard_decides_the_same_on_records_with_old_names():
    cfg = GuardConfig(benign_tolerance=0.05)
    before_new = {"harmful_refusal": 1.0, "benign_answered": 0.94, "mean_tokens": 160.0}
    after_new = {"harmful_refusal": 1.0, "benign_answered": 0.80, "mean_tokens": 100.0}
    before_old = {"harmful_refusal": 1.0, "benign_answer": 0.94, "mean_reply_tokens": 160.0}
    after_old = {"harmful_refusal": 1.0, "benign_answer": 0.80, "mean_reply_tokens": 100.0}
    new = guard_decision(before_new, after_new, cfg, current=before_new)
    assert guard_decision(before_old, after_old, cfg, current=before_old) == new
    assert new["violations"] == ["benign answering"] and new["tokens_after"] == 100.0
