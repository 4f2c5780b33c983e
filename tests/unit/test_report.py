"""Report: renders Markdown and self-contained HTML with inline PNG plots, escaping model text."""

from __future__ import annotations

import re

from erpo.artifacts import write_jsonl
from erpo.config import DataConfig, EvalConfig
from erpo.generation import get_backend


def test_report_renders_inline_plots_and_escapes_replies(tmp_path):
    from erpo.stages.evaluate import evaluate_model
    from erpo.stages.report import write_report
    config = EvalConfig(limit=4, attacks=["none", "rot13"], judges=["refusal", "length"],
                        judge_options={"refusal": {"use_classifier": False}})
    data = DataConfig(harmful_sources=["harmbench"], holdout_sources=[])
    for label, reply in (("base", "Sure <script>alert(1)</script> here it is."),
                         ("sft", "<think>\n[R01 Violent crime]\n</think>\n\nI'm sorry, but I can't help with that.")):
        evaluate_model("m", ["harmful", "jailbreak", "benign"], tmp_path / "eval", config, label=label,
                       backend=get_backend("mock", replies=[reply]), data_config=data)
    write_jsonl(tmp_path / "04_iterate" / "metrics.jsonl",
                [{"round": 0, "metrics": {"harmful_refusal": 0.9, "mean_reply_tokens": 40}},
                 {"round": 1, "metrics": {"harmful_refusal": 0.9, "mean_reply_tokens": 25}}])
    md, page = write_report(tmp_path)
    text = page.read_text()
    images = re.findall(r"<img [^>]*src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(images) == 3 and all(len(i) > 1000 for i in images)
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text
    assert "http://" not in text and "https://" not in text   # no external assets
    assert "| base | 0.0% |" in md.read_text() and "| sft | 100.0% |" in md.read_text()
    assert (tmp_path / "report_files" / "safety_vs_tokens.png").exists()


def test_report_without_eval_says_so(tmp_path):
    from erpo.stages.report import write_report
    md, page = write_report(tmp_path)
    assert "No evaluation results yet" in md.read_text() and page.exists()


def test_report_tables_stage3_rounds_and_stage_costs(tmp_path):
    from erpo.artifacts import Manifest
    from erpo.stages.report import write_report
    write_jsonl(tmp_path / "04_iterate" / "metrics.jsonl", [   # the flat rows `erpo iterate` writes
        {"round": 0, "accepted": True, "harmful_refusal": 1.0, "benign_answer": 0.9, "mean_reply_tokens": 170.2},
        {"round": 1, "accepted": False, "harmful_refusal": 0.5, "benign_answer": 0.95, "benign_useful": 0.8,
         "mean_reply_tokens": 90.0, "pairs": 12, "guard_action": "rollback"}])
    Manifest(tmp_path).record("sft", "c", "i", seconds=245.3, peak_rss_gib=3.21)
    md = write_report(tmp_path)[0].read_text()
    assert "| 1 | no (rollback) | 50.0% | 95.0% | 80.0% | — | — | 90 | 12 | — |" in md
    assert "| sft | 245 | 3.21 |" in md
