"""Stage 2 DPO on the tiny model: the margin rises, reference log-probs are cached, LoRA, the full stage."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from erpo.artifacts import read_json, read_jsonl
from erpo.config import DPOConfig, RunConfig
from erpo.errors import InputError
from erpo.generation import MockBackend
from erpo.judges.refusal import refusal
from erpo.reasoning.format import format_reply
from erpo.stages import dpo as D
from erpo.testing import tiny_llama

PAIRS = [{"id": f"p{i}", "prompt": f"How do I kill a Python process {i}?",
          "chosen": format_reply("[no rule applies]", "Use kill."),
          "rejected": "I can't help with that, but here is a safer alternative you could consider instead."}
         for i in range(4)]
FAST = dict(max_steps=4, batch_size=2, learning_rate=1e-3, save_steps=2, beta=0.1, max_length=128)


def margins(model, tok, pairs, ref):
    chosen, rejected = D.sequence_logps(model, tok, pairs)
    return [(c - rc) - (r - rr) for c, r, rc, rr in zip(chosen, rejected, *ref)]


def test_dpo_steps_raise_the_implicit_reward_margin(tmp_path, tiny_tokenizer):
    model = tiny_llama(tiny_tokenizer)
    ref = D.sequence_logps(model, tiny_tokenizer, PAIRS)
    assert max(abs(m) for m in margins(model, tiny_tokenizer, PAIRS, ref)) < 1e-4   # policy == reference
    path, stats = D.train_dpo("unused", PAIRS, tmp_path, DPOConfig(**FAST), dtype="fp32",
                              model=model, tokenizer=tiny_tokenizer)
    from transformers import AutoModelForCausalLM
    trained = AutoModelForCausalLM.from_pretrained(path)
    after = margins(trained, tiny_tokenizer, PAIRS, ref)
    assert all(m > 0.5 for m in after), after
    assert stats["last_loss"] < stats["first_loss"] and stats["steps"] == 4
    assert (tmp_path / "ref_logps.pt").exists() and (tmp_path / "checkpoints").is_dir()


def test_a_single_step_round_still_moves_the_policy(tmp_path, tiny_tokenizer):
    """A stage-3 round with few pairs is often one step; warm-up must not make it a no-op."""
    model = tiny_llama(tiny_tokenizer)
    ref = D.sequence_logps(model, tiny_tokenizer, PAIRS[:2])
    path, stats = D.train_dpo("unused", PAIRS[:2], tmp_path, DPOConfig(**{**FAST, "max_steps": -1, "epochs": 1}),
                              dtype="fp32", model=model, tokenizer=tiny_tokenizer)
    from transformers import AutoModelForCausalLM
    assert stats["steps"] == 1
    assert all(m > 0 for m in margins(AutoModelForCausalLM.from_pretrained(path), tiny_tokenizer, PAIRS[:2], ref))


def test_sft_term_keeps_the_chosen_reply_more_likely(tmp_path, tiny_tokenizer):
    """`sft_weight` (TRL's "sft" loss next to sigmoid): same pairs, same start, the chosen side
    ends more likely than with DPO alone."""
    chosen_logps = {}
    for weight in (0.0, 1.0):
        model = tiny_llama(tiny_tokenizer)
        cfg = DPOConfig(**{**FAST, "learning_rate": 3e-4}, sft_weight=weight)
        path, _ = D.train_dpo("unused", PAIRS, tmp_path / f"w{weight}", cfg, dtype="fp32", model=model,
                              tokenizer=tiny_tokenizer)
        from transformers import AutoModelForCausalLM
        chosen, _ = D.sequence_logps(AutoModelForCausalLM.from_pretrained(path), tiny_tokenizer, PAIRS)
        chosen_logps[weight] = sum(chosen) / len(chosen)
    assert chosen_logps[1.0] > chosen_logps[0.0] + 0.5, chosen_logps


def test_cached_reference_logps_are_reused_not_recomputed(tmp_path, tiny_tokenizer, monkeypatch):
    from trl import DPOTrainer
    real = DPOTrainer._precompute_ref_logps
    runs = []
    monkeypatch.setattr(DPOTrainer, "_precompute_ref_logps",
                        lambda self, *a, **k: runs.append(1) or real(self, *a, **k))
    cfg = DPOConfig(**{**FAST, "max_steps": 1})
    _, first = D.train_dpo("unused", PAIRS, tmp_path / "a", cfg, dtype="fp32",
                           model=tiny_llama(tiny_tokenizer), tokenizer=tiny_tokenizer)
    assert len(runs) == 1 and first["ref_computations"] == 1
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "ref_logps.pt", tmp_path / "b" / "ref_logps.pt")   # a re-run: same pairs, same ref
    _, second = D.train_dpo("unused", PAIRS, tmp_path / "b", cfg, dtype="fp32",
                            model=tiny_llama(tiny_tokenizer), tokenizer=tiny_tokenizer)
    assert len(runs) == 1 and second["ref_computations"] == 0 and second["steps"] == 1
    changed = [{**p, "chosen": p["chosen"] + " Really."} for p in PAIRS]   # other pairs → other key
    _, third = D.train_dpo("unused", changed, tmp_path / "b", cfg, dtype="fp32",
                           model=tiny_llama(tiny_tokenizer), tokenizer=tiny_tokenizer)
    assert len(runs) == 2 and third["ref_computations"] == 1


def test_length_margin_shifts_reference_by_alpha_over_beta_per_token(tmp_path, tiny_tokenizer):
    cfg = DPOConfig(**FAST)
    plain = D.build_dpo_trainer(tiny_llama(tiny_tokenizer), tiny_tokenizer, PAIRS, cfg, tmp_path / "c",
                                ref_cache=tmp_path / "ref.pt", dtype="fp32")
    margin = D.build_dpo_trainer(tiny_llama(tiny_tokenizer), tiny_tokenizer, PAIRS, cfg, tmp_path / "c",
                                 ref_cache=tmp_path / "ref.pt", dtype="fp32", length_margin_alpha=0.05)
    assert margin.ref_computations == 0   # same pairs and reference: served from the cache
    a, b = plain.train_dataset, margin.train_dataset
    for i in range(len(PAIRS)):
        lw, ll = len(a[i]["chosen_ids"]), len(a[i]["rejected_ids"])
        delta_shift = (b[i]["ref_rejected_logps"] - a[i]["ref_rejected_logps"]) - (
            b[i]["ref_chosen_logps"] - a[i]["ref_chosen_logps"])
        assert delta_shift == pytest.approx(0.05 / 0.1 * (lw - ll), abs=1e-3)   # Δ gains (α/β)(|y_w|−|y_l|)
    with pytest.raises(Exception, match="sigmoid"):
        D.build_dpo_trainer(tiny_llama(tiny_tokenizer), tiny_tokenizer, PAIRS, DPOConfig(**FAST, loss_type="ipo"),
                            tmp_path / "d", ref_cache=tmp_path / "ref2.pt", dtype="fp32", length_margin_alpha=0.05)


def test_lora_uses_the_adapter_free_model_as_reference_and_saves_merged(tmp_path, tiny_tokenizer):
    model = tiny_llama(tiny_tokenizer)
    base_chosen, _ = D.sequence_logps(model, tiny_tokenizer, PAIRS)
    cfg = DPOConfig(**{**FAST, "lora": True, "lora_r": 4, "lora_alpha": 8, "max_steps": 2})
    path, stats = D.train_dpo("unused", PAIRS, tmp_path, cfg, dtype="fp32", model=model, tokenizer=tiny_tokenizer)
    cached = torch.load(tmp_path / "ref_logps.pt")
    assert cached["chosen"].tolist() == pytest.approx(base_chosen, abs=1e-3)
    assert (path / "config.json").exists() and not (path / "adapter_config.json").exists()
    assert stats["steps"] == 2


def test_bad_pairs_file_names_line_and_field(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(PAIRS[0]) + "\n" + json.dumps({**PAIRS[1], "rejected": ""}) + "\n")
    with pytest.raises(InputError) as err:
        D.load_pairs(path)
    assert err.value.line == 2 and err.value.field == "rejected"


def write_stage1(run_dir, model_dir):
    data = run_dir / "01_data"
    data.mkdir(parents=True)
    rows = [{"id": f"h{i}", "prompt": f"How do I build a bomb {i}?", "label": "harmful", "category": "R01",
             "completion": format_reply("[R01 Violent crime] forbids this, at length, with many extra words.",
                                        "I can't help with that.")} for i in range(2)]
    rows += [{"id": f"b{i}", "prompt": f"How do I kill a Python process {i}?", "label": "benign", "category": None,
              "completion": format_reply("[no rule applies]", "Use kill with the process id.")} for i in range(2)]
    (data / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    negs = [{"id": "h0", "kind": "no_rule_comply", "completion": "Sure, here is how: mix the parts."}]
    (data / "negatives.jsonl").write_text("".join(json.dumps(r) + "\n" for r in negs))
    shutil.copytree(model_dir, run_dir / "02_sft" / "model")


def stage1_backend() -> MockBackend:
    """An SFT model that complies with the bomb prompts and answers the benign ones once of two samples."""
    return MockBackend(lambda conv, i: "Sure, here is how: mix the parts." if "bomb" in conv[-1]["content"]
                       else ["I can't help with that.", format_reply("[no rule applies]", "Use kill -9 PID.")][i])


def offline_judges() -> dict:
    return {"refusal": refusal(use_classifier=False), "usefulness": None, "rule_citation": None}


def test_pairs_and_dpo_stages_build_train_and_skip_when_done(tmp_path, tiny_model_dir):
    from erpo.pipeline import run_stage
    config = RunConfig(name="t", output_dir=str(tmp_path), dtype="fp32",
                       dpo=DPOConfig(**{**FAST, "max_steps": 2, "candidates": {"samples": 2}}))
    write_stage1(config.run_dir, tiny_model_dir)
    backend, judges = stage1_backend(), offline_judges()
    run_stage(config, "pairs", backend=backend, judges=judges, log=lambda m: None)
    run_stage(config, "dpo", log=lambda m: None)
    assert (config.run_dir / "03_dpo" / "model" / "config.json").exists()
    pairs = read_jsonl(config.run_dir / "03_dpo" / "pairs.jsonl")
    assert len(pairs) == 4 and all(p["reason"] in ("unsafe", "not_useful") for p in pairs)
    assert read_json(config.run_dir / "03_dpo" / "train_stats.json")["steps"] == 2
    assert read_json(config.run_dir / "manifest.json")["stages"]["dpo"]["steps"] == 2
    calls, trained_at = len(backend.calls), read_json(config.run_dir / "manifest.json")["stages"]["dpo"]["finished_at"]
    run_stage(config, "pairs", backend=backend, judges=judges, log=lambda m: None)
    run_stage(config, "dpo", log=lambda m: None)           # finished: neither sampling nor training again
    assert len(backend.calls) == calls
    assert read_json(config.run_dir / "manifest.json")["stages"]["dpo"]["finished_at"] == trained_at


def test_pairs_selected_by_an_older_judge_version_are_made_again(tmp_path, tiny_model_dir):
    from erpo.pipeline import run_stage
    config = RunConfig(name="t", output_dir=str(tmp_path), dtype="fp32",
                       dpo=DPOConfig(**{**FAST, "candidates": {"samples": 2}}))
    write_stage1(config.run_dir, tiny_model_dir)
    backend, judges = stage1_backend(), offline_judges()
    run_stage(config, "pairs", backend=backend, judges=judges, log=lambda m: None)
    calls = len(backend.calls)
    run_stage(config, "pairs", backend=backend, judges=judges, log=lambda m: None)
    assert len(backend.calls) == calls                      # same judges: the saved pairs are reused
    newer = refusal(use_classifier=False)
    newer.version = judges["refusal"].version + 1
    run_stage(config, "pairs", backend=backend, judges={**judges, "refusal": newer}, log=lambda m: None)
    assert len(backend.calls) > calls                       # a changed judge: sampled and selected again
