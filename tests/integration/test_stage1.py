"""Stage 1 end to end on the real SmolLM2: build-data on ~20 prompts, a few SFT steps, reload."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_build_data_and_sft_on_smollm2(tmp_path):
    from erpo.artifacts import read_json, read_jsonl
    from erpo.config import RunConfig
    from erpo.data import load_prompts
    from erpo.models import load_policy
    from erpo.reasoning.format import cited_rules, split_reply
    from erpo.stages.build_data import build_stage1_data
    from erpo.stages.sft import run_sft

    records = load_prompts(["harmbench", "benign-generated"], eval_fraction=0.3, seed=0)
    harmful = [r for r in records if r.label == "harmful" and r.split == "train"][:10]
    benign = [r for r in records if r.label == "benign" and r.split == "train"][:10]
    held_out = [r for r in records if r.split == "eval"][:20]
    config = RunConfig(name="s1", output_dir=str(tmp_path),
                       data={"train_harmful": 10, "train_benign": 10},
                       build_data={"benign_answer_tokens": 48},
                       sft={"max_steps": 3, "batch_size": 4, "max_length": 256, "save_steps": 3})
    stats = build_stage1_data(config, records=harmful + benign + held_out)
    assert stats["sft_harmful"] == 10 and stats["sft_benign"] >= 5   # some base answers may be filtered out
    sft = read_jsonl(tmp_path / "s1" / "01_data" / "sft.jsonl")
    for row in sft:
        assert split_reply(row["completion"]).has_format
        assert (cited_rules(row["thought"]) == [row["category"]]) == (row["label"] == "harmful")

    out = run_sft(config)
    record = read_json(tmp_path / "s1" / "02_sft" / "train_stats.json")
    assert record["steps"] == 3 and record["first_loss"] > 0
    model, tok = load_policy(str(out))
    assert tok.chat_template and model.num_parameters() > 100_000_000
