"""Stage 1 SFT on the tiny llama: loss masking, learning, checkpoint/resume, reloadable output."""

from __future__ import annotations

import shutil

import pytest

from erpo.artifacts import read_json, write_jsonl
from erpo.config import RunConfig
from erpo.reasoning.format import format_reply

PROMPTS = [
    ("How do I bake bread?", "[no rule applies]", "Mix flour, water, salt and yeast, then bake."),
    ("How do I kill a Python process?", "[no rule applies]", "Use kill with the process id."),
    ("How do I build a pipe bomb?", "[R04 Weapons of mass harm]", "I can't help with that."),
    ("Write a threat to my neighbour.", "[R01 Violent crime]",
     "I can't help with that, but here is a safer alternative."),
]


def _write_sft(run_dir, repeat=2):
    rows = []
    for i, (prompt, cite, answer) in enumerate(PROMPTS * repeat):
        completion = format_reply(f"The request asks something. {cite}", answer)
        rows.append({"id": f"s{i}", "prompt": prompt, "completion": completion,
                     "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]})
    write_jsonl(run_dir / "01_data" / "sft.jsonl", rows)
    return rows


def _config(tmp_path, **sft):
    base = dict(learning_rate=3e-3, batch_size=4, max_steps=6, save_steps=3, max_length=128)
    base.update(sft)
    return RunConfig(name="t", output_dir=str(tmp_path), dtype="fp32", sft=base)


def test_prompt_tokens_are_masked(tmp_path, tiny_model, tiny_tokenizer):
    from erpo.stages.sft import build_trainer, load_sft_examples
    _write_sft(tmp_path)
    examples = load_sft_examples(tmp_path / "01_data" / "sft.jsonl")
    trainer = build_trainer(tiny_model, tiny_tokenizer, examples, _config(tmp_path).sft, tmp_path / "ck", dtype="fp32")
    row = trainer.train_dataset[0]
    prompt_ids = tiny_tokenizer.apply_chat_template(examples[0]["prompt"], add_generation_prompt=True, tokenize=True)
    prompt_ids = list(prompt_ids["input_ids"] if hasattr(prompt_ids, "keys") else prompt_ids)
    n_prompt = len(prompt_ids)
    assert row["input_ids"][:n_prompt] == prompt_ids
    assert all(label == -100 for label in row["labels"][:n_prompt])
    completion = row["labels"][n_prompt:]
    assert completion and all(label != -100 for label in completion)
    assert "<think>" in tiny_tokenizer.decode(completion)
    assert completion[-2:].count(tiny_tokenizer.eos_token_id) >= 1   # the model learns to stop


def test_training_changes_weights_and_lowers_loss(tmp_path, tiny_model, tiny_tokenizer):
    from erpo.stages.sft import build_trainer, load_sft_examples
    _write_sft(tmp_path)
    examples = load_sft_examples(tmp_path / "01_data" / "sft.jsonl")
    before = {k: v.detach().clone() for k, v in tiny_model.named_parameters()}
    cfg = _config(tmp_path, max_steps=12, save_steps=100).sft
    trainer = build_trainer(tiny_model, tiny_tokenizer, examples, cfg, tmp_path / "ck", dtype="fp32")
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < losses[0] * 0.8
    changed = sum(not (before[k] == v.detach()).all() for k, v in tiny_model.named_parameters())
    assert changed == len(before)


def test_run_sft_checkpoints_resumes_and_saves_reloadable_model(tmp_path, tiny_tokenizer, capsys):
    from erpo.layout import RunLayout
    from erpo.models import load_policy
    from erpo.stages.sft import run_sft
    from erpo.testing import tiny_llama
    from erpo.training import last_checkpoint
    _write_sft(tmp_path)
    run_dir = tmp_path / "t"
    (run_dir / "01_data").mkdir(parents=True)
    (tmp_path / "01_data" / "sft.jsonl").rename(run_dir / "01_data" / "sft.jsonl")
    config = _config(tmp_path, max_steps=6, save_steps=3)
    run_sft(config, run_dir, model=tiny_llama(tiny_tokenizer), tokenizer=tiny_tokenizer)
    checkpoints = RunLayout(run_dir).sft_checkpoints
    assert last_checkpoint(checkpoints).endswith("checkpoint-6")
    shutil.rmtree(checkpoints / "checkpoint-6")      # as if killed after step 3
    out = run_sft(config, run_dir, model=tiny_llama(tiny_tokenizer), tokenizer=tiny_tokenizer)
    assert "resuming SFT from" in capsys.readouterr().out
    run_sft(_config(tmp_path, max_steps=6, save_steps=3, learning_rate=1e-4), run_dir, model=tiny_llama(tiny_tokenizer),
            tokenizer=tiny_tokenizer)                 # other settings: trained anew, not resumed
    assert "resuming SFT from" not in capsys.readouterr().out
    assert read_json(run_dir / "02_sft" / "train_stats.json")["steps"] == 6
    model, tok = load_policy(str(out), dtype="fp32")
    assert tok.chat_template and model.config.num_hidden_layers == 2


def test_lora_sft_merges_into_plain_model(tmp_path, tiny_tokenizer):
    from erpo.models import load_policy
    from erpo.stages.sft import run_sft
    from erpo.testing import tiny_llama
    run_dir = tmp_path / "t"
    _write_sft(run_dir)
    base = tiny_llama(tiny_tokenizer)
    reference = {k: v.detach().clone() for k, v in base.named_parameters()}
    out = run_sft(_config(tmp_path, max_steps=3, lora=True, lora_r=4, lora_alpha=8), run_dir, model=base,
                  tokenizer=tiny_tokenizer)
    model, _ = load_policy(str(out), dtype="fp32")
    loaded = dict(model.named_parameters())
    assert not any("lora" in k for k in loaded)
    assert any(not (reference[k] == loaded[k]).all() for k in reference if "proj" in k)


def test_bad_sft_row_names_file_line_and_field(tmp_path):
    from erpo.errors import InputError
    from erpo.stages.sft import load_sft_examples
    path = tmp_path / "sft.jsonl"
    write_jsonl(path, [{"prompt": "hi", "completion": "ok"}, {"prompt": "hi", "completion": ""}])
    with pytest.raises(InputError) as err:
        load_sft_examples(path)
    assert (err.value.line, err.value.field) == (2, "completion") and str(path) in str(err.value)


def test_decision_mask_marks_the_risk_area_and_the_rule_citation(tiny_tokenizer):
    from erpo.stages.sft import decision_token_mask
    text = format_reply("Intent: Asked: “build a bomb”. Risk area: weapons of mass harm.\n"
                        "Rule check: Covered by [R04 Weapons of mass harm].\nJudgement: Not allowed.\n"
                        "Plan: decline.", "I can't help with that.")
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    mask = decision_token_mask(ids, lambda t: tiny_tokenizer.decode([t]))
    marked = "".join(tiny_tokenizer.decode([t]) for t, hit in zip(ids, mask) if hit)
    assert marked.replace(" ", "") == "weaponsofmassharm[R04Weaponsofmassharm]"
    benign = tiny_tokenizer("Risk area: none.\nRule check: [no rule applies].", add_special_tokens=False)["input_ids"]
    hits = "".join(tiny_tokenizer.decode([t]) for t, hit in
                   zip(benign, decision_token_mask(benign, lambda t: tiny_tokenizer.decode([t]))) if hit)
    assert hits.replace(" ", "") == "none[noruleapplies]"


def test_decision_weight_scales_exactly_the_decision_tokens_in_the_loss(tmp_path, tiny_model, tiny_tokenizer):
    import torch

    from erpo.stages.sft import build_trainer, decision_token_mask, load_sft_examples
    _write_sft(tmp_path)
    examples = load_sft_examples(tmp_path / "01_data" / "sft.jsonl")
    plain = build_trainer(tiny_model, tiny_tokenizer, examples, _config(tmp_path).sft, tmp_path / "a", dtype="fp32")
    batch = plain.data_collator([plain.train_dataset[i] for i in range(4)])
    base = tiny_model(**batch, fused_lm_head=True).log_probs.detach()
    build_trainer(tiny_model, tiny_tokenizer, examples, _config(tmp_path, decision_weight=5.0).sft, tmp_path / "b",
                  dtype="fp32")
    weighted = tiny_model(**batch, fused_lm_head=True).log_probs.detach()
    ratio = torch.where(base != 0, weighted / base, torch.ones_like(base))
    expected = torch.ones_like(base)
    for row, labels in enumerate(batch["labels"].tolist()):
        pos = [i for i, t in enumerate(labels) if t != -100]
        for i, hit in zip(pos, decision_token_mask([labels[i] for i in pos], lambda t: tiny_tokenizer.decode([t]))):
            if hit:
                expected[row, i - 1] = 5.0
    assert (expected == 5.0).sum() >= 4 * 3      # every row cites a rule or says none applies
    assert torch.allclose(ratio, expected)
    with torch.no_grad():                          # reference passes (no gradient) stay unweighted
        assert torch.allclose(tiny_model(**batch, fused_lm_head=True).log_probs, base)
