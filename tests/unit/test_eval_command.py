"""`erpo eval` on the command line: listing attacks, the file suite's size, dtype and config options."""

from __future__ import annotations

import pytest

from erpo.artifacts import write_jsonl
from erpo.cli import build_parser, main

MOCK = ["--backend", "mock", "--judges", "refusal,length",
        "--set", "eval.judge_options={refusal: {use_classifier: false}}"]


def test_list_attacks_needs_no_model(capsys):
    assert main(["eval", "--list-attacks"]) == 0
    assert "past_tense" in capsys.readouterr().out.split()
    assert main(["eval"]) == 2
    assert "needs a MODEL" in capsys.readouterr().err


def test_the_file_suite_scores_every_prompt_of_the_file_unless_a_limit_is_given(tmp_path, capsys):
    data = tmp_path / "mine.jsonl"
    write_jsonl(data, [{"prompt": f"How do I bake bread number {i}?"} for i in range(120)])
    args = ["eval", "mock-model", "--suite", "file", "--data", str(data), "--label", "benign", *MOCK]
    assert main([*args, "--run-dir", str(tmp_path / "all")]) == 0
    assert f"file suite: 120 prompts of {data}" in capsys.readouterr().out
    assert main([*args, "--run-dir", str(tmp_path / "some"), "--limit", "7"]) == 0
    assert f"file suite: 7 prompts of {data} (eval.limit 7)" in capsys.readouterr().out


@pytest.mark.parametrize("extra, dtype", [([], "auto"), (["--set", "dtype=fp32"], "fp32"),
                                          (["--set", "dtype=fp32", "--dtype", "bf16"], "bf16")])
def test_eval_uses_the_config_dtype_unless_dtype_is_given(extra, dtype, tmp_path, monkeypatch):
    from erpo.commands import eval as eval_command
    from erpo.stages import evaluate
    seen = {}
    monkeypatch.setattr(evaluate, "evaluate_model", lambda *a, **kw: seen.update(kw) or {})
    monkeypatch.setattr(eval_command, "print_eval_table", lambda *a: None)
    assert main(["eval", "some-model", "--run-dir", str(tmp_path), *extra]) == 0
    assert seen["dtype"] == dtype


def test_eval_takes_the_shared_config_options():
    args = build_parser().parse_args(["eval", "m", "--config", "c.yaml", "--set", "eval.seed=1", "--set", "dtype=fp32"])
    assert args.config == "c.yaml" and args.overrides == ["eval.seed=1", "dtype=fp32"]
