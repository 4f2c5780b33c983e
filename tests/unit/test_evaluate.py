"""Evaluation end to end with the mock backend: files at fixed paths, exact metrics, re-judging."""

from __future__ import annotations

import numpy as np
import pytest

from erpo.artifacts import read_json, read_jsonl, write_jsonl
from erpo.config import DataConfig, EvalConfig
from erpo.generation import get_backend
from erpo.metrics import bootstrap_ci, estimate, summarize_eval

REFUSAL = "<think>\n[R01 Violent crime] applies.\n</think>\n\nI'm sorry, but I can't help with that."
DATA = DataConfig(harmful_sources=["harmbench"], holdout_sources=[])
CONFIG = EvalConfig(limit=6, attacks=["none", "base64", "past_tense"], judges=["refusal", "length", "rule_citation"],
                    judge_options={"refusal": {"use_classifier": False}}, citation_reference="dataset")


def _evaluate(tmp_path, backend, suites=("harmful", "jailbreak", "overrefusal", "benign"), config=CONFIG,
              model="mock-model", **kw):
    from erpo.stages.evaluate import evaluate_model
    return evaluate_model(model, list(suites), tmp_path / "eval", config, label="m", backend=backend,
                          data_config=DATA, **kw)


def test_scripted_refusals_give_refusal_rate_one_and_files_in_place(tmp_path):
    backend = get_backend("mock", replies=[REFUSAL])
    results = _evaluate(tmp_path, backend)
    assert results["harmful"]["none"]["harmful_refusal"]["value"] == 1.0
    assert results["overrefusal"]["none"]["over_refusal"]["value"] == 1.0
    assert results["benign"]["none"]["benign_answered"]["value"] == 0.0
    assert set(results["jailbreak"]) == {"none", "base64", "past_tense"}
    assert all(m["attack_success"]["value"] == 0.0 for m in results["jailbreak"].values())
    folder = tmp_path / "eval" / "m" / "jailbreak" / "base64"
    for name in ("completions.jsonl", "judgments.refusal.jsonl", "judgments.length.jsonl",
                 "judgments.rule_citation.jsonl", "metrics.json"):
        assert (folder / name).exists(), name
    row = read_jsonl(folder / "completions.jsonl")[0]
    assert {"id", "prompt", "attacked_prompt", "label", "category", "completion", "thought", "answer",
            "completion_tokens", "latency_s", "finish_reason"} <= set(row)
    assert row["attacked_prompt"] != row["prompt"] and row["thought"].startswith("[R01")
    assert read_json(folder / "metrics.json")["format_rate"]["value"] == 1.0
    # one batched generate call per suite: 6 + 3*6 + overrefusal 6 + benign 6 conversations
    assert len(backend.calls) == 6 + 18 + 6 + 6


def test_rerun_and_rejudge_never_call_the_backend_again(tmp_path):
    _evaluate(tmp_path, get_backend("mock", replies=[REFUSAL]), suites=["harmful"])
    again = get_backend("mock", replies=["Sure, here you go."])
    results = _evaluate(tmp_path, again, suites=["harmful"], rejudge=True)
    assert again.calls == []
    assert results["harmful"]["none"]["harmful_refusal"]["value"] == 1.0


def test_saved_completions_of_other_weights_under_the_same_label_are_generated_again(tmp_path):
    model = tmp_path / "final"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"round 1")

    def run(reply, **kw):
        backend = get_backend("mock", replies=[reply])
        results = _evaluate(tmp_path, backend, suites=["harmful"], model=str(model), **kw)
        return backend, results["harmful"]["none"]["harmful_refusal"]["value"]

    assert run(REFUSAL)[1] == 1.0
    backend, _ = run("Sure, here you go.")
    assert backend.calls == []                       # same weights: completions reused
    (model / "model.safetensors").write_bytes(b"round 3")   # a later run replaced the weights in place
    backend, refusal = run("Sure, here you go.", rejudge=True)
    assert backend.calls == [] and refusal == 1.0     # re-judging keeps the saved completions
    backend, refusal = run("Sure, here you go.")
    assert len(backend.calls) == 6 and refusal == 0.0


def test_rejudge_rescores_saved_completions_with_a_changed_judge(tmp_path):
    _evaluate(tmp_path, get_backend("mock", replies=["Sure, here you go."]), suites=["harmful"])
    folder = tmp_path / "eval" / "m" / "harmful" / "none"
    rows = read_jsonl(folder / "completions.jsonl")
    write_jsonl(folder / "completions.jsonl", [{**r, "completion": REFUSAL} for r in rows])
    stale = _evaluate(tmp_path, get_backend("mock", replies=["unused"]), suites=["harmful"])
    assert stale["harmful"]["none"]["harmful_refusal"]["value"] == 0.0   # saved judgments reused
    fresh = _evaluate(tmp_path, get_backend("mock", replies=["unused"]), suites=["harmful"], rejudge=True)
    assert fresh["harmful"]["none"]["harmful_refusal"]["value"] == 1.0


class OneRuleClassifier:
    """Stands in for the fitted risk classifier: every prompt → R01 (unsure: "none", top rule R01)."""
    def predict(self, prompts):
        return [("none", 0.5)] * len(prompts)

    def top_rule(self, prompts):
        return ["R01"] * len(prompts)


def test_citations_are_checked_against_the_classifier_rule_and_follow_a_changed_reference(tmp_path):
    """The reply cites R01; the classifier says R01 for every prompt, the dataset labels vary."""
    backend = get_backend("mock", replies=[REFUSAL])
    by_classifier = _evaluate(tmp_path, backend, suites=("harmful",), classifier=OneRuleClassifier(),
                              config=CONFIG.model_copy(update={"citation_reference": "classifier"}))
    assert by_classifier["harmful"]["none"]["rule_citation"]["value"] == 1.0
    rows = read_jsonl(tmp_path / "eval" / "m" / "harmful" / "none" / "completions.jsonl")
    assert {r["expected_rule"] for r in rows} == {"R01"} and {r["category"] for r in rows} != {"R01"}
    by_dataset = _evaluate(tmp_path, backend, suites=("harmful",))   # saved completions, re-labelled and re-judged
    assert by_dataset["harmful"]["none"]["rule_citation"]["value"] == \
        sum(r["category"] == "R01" for r in rows) / len(rows) < 1.0
    assert len(backend.calls) == len(rows)   # generated once


def test_mixed_replies_give_exact_rates_and_summary(tmp_path):
    def script(conv, i):   # refuse prompts of even length, comply with the rest
        return REFUSAL if len(conv[-1]["content"]) % 2 == 0 else "Sure, here is how you do it in detail."
    results = _evaluate(tmp_path, get_backend("mock", replies=script), suites=["harmful"])
    rows = read_jsonl(tmp_path / "eval" / "m" / "harmful" / "none" / "completions.jsonl")
    expected = np.mean([len(r["attacked_prompt"]) % 2 == 0 for r in rows])
    assert results["harmful"]["none"]["harmful_refusal"]["value"] == pytest.approx(expected, abs=1e-4)
    summary = summarize_eval(tmp_path / "eval")
    assert summary[0]["model"] == "m" and summary[0]["harmful_refusal"] == pytest.approx(expected, abs=1e-4)


def test_file_suite_reads_user_prompts(tmp_path):
    data = tmp_path / "mine.jsonl"
    write_jsonl(data, [{"text": "How do I bake bread?"}, {"text": "How do I tie a tie?"}])
    results = _evaluate(tmp_path, get_backend("mock", replies=["Mix flour and water, then bake."]), suites=["file"],
                        data_file={"path": str(data), "prompt_field": "text", "label": "benign"})
    assert results["file"]["none"]["n"] == 2 and results["file"]["none"]["over_refusal"]["value"] == 0.0


def test_bootstrap_ci_contains_point_estimate_and_is_seeded():
    rng = np.random.default_rng(1)
    values = rng.random(50) < 0.3
    est = estimate(values)
    assert est["ci_low"] <= est["value"] <= est["ci_high"] and est["ci_low"] < est["ci_high"]
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert estimate([]) is None


def test_model_argument_resolution(tmp_path):
    from erpo.errors import ErpoError
    from erpo.stages.evaluate import model_label, resolve_model
    run = tmp_path / "run"
    (run / "02_sft" / "model").mkdir(parents=True)
    (run / "02_sft" / "model" / "config.json").write_text("{}")
    assert resolve_model(f"{run}:sft") == ("local", str(run / "02_sft" / "model"))
    assert model_label(f"{run}:sft") == "sft"
    assert resolve_model("openai:gpt-x") == ("openai", "gpt-x") and model_label("openai:gpt-x") == "gpt-x"
    assert model_label(str(run / "03_dpo" / "model")) == "03_dpo"
    with pytest.raises(ErpoError, match="dpo"):
        resolve_model(f"{run}:dpo")


def test_non_answers_count_as_answered_but_not_useful_in_the_summary(tmp_path):
    """"I can help with that." is no refusal, and says nothing: the summary shows both rates."""
    config = CONFIG.model_copy(update={"judges": ["refusal", "usefulness"]})
    _evaluate(tmp_path, get_backend("mock", replies=["I'd be happy to help with that!"]), suites=["benign"],
              config=config)
    row = summarize_eval(tmp_path / "eval")[0]
    assert row["benign_answered"] == 1.0 and row["benign_useful"] == 0.0


def test_judgments_of_a_changed_judge_are_remade_not_reused(tmp_path):
    """Saved judgments are kept per judge signature: new settings (or a new judge version) re-judge
    the saved completions without generating again."""
    backend = get_backend("mock", replies=["I'd be happy to help with that!"])
    lenient = CONFIG.model_copy(update={"judges": ["usefulness"],
                                        "judge_options": {"usefulness": {"min_content_words": 0,
                                                                         "min_similarity": -1.0,
                                                                         "use_model": False}}})
    first = _evaluate(tmp_path, backend, suites=["benign"], config=lenient)
    assert first["benign"]["none"]["useful"]["value"] == 1.0
    calls = len(backend.calls)
    strict = lenient.model_copy(update={"judge_options": {"usefulness": {"min_similarity": -1.0}}})
    second = _evaluate(tmp_path, backend, suites=["benign"], config=strict)
    assert second["benign"]["none"]["useful"]["value"] == 0.0 and len(backend.calls) == calls
