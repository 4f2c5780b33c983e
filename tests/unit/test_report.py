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
    data = DataConfig(harmful_sources=["harmbench"])
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
