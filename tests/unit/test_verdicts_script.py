"""scripts/verdicts.py: a model's per-reply verdicts survive without its eval folder, and two verdict
files pair up by prompt."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verdicts.py"


def _load():
    spec = importlib.util.spec_from_file_location("verdicts_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_model(eval_root: Path, label: str, refused: list[bool]) -> None:
    folder = eval_root / label / "overrefusal-ood" / "none"
    folder.mkdir(parents=True)
    replies = [{"id": f"p{i}", "prompt": f"safe question {i}", "label": "benign",
                "completion": "<think>Risk area: none.</think>An answer."} for i in range(len(refused))]
    (folder / "completions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in replies))
    (folder / "judgments.refusal.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "score": 1.0 if no else 0.0}) + "\n" for r, no in zip(replies, refused)))


def test_export_then_compare_pairs_the_same_prompts(tmp_path):
    verdicts = _load()
    eval_root = tmp_path / "eval"
    _write_model(eval_root, "reference", [True] * 30 + [False] * 30)
    _write_model(eval_root, "arm", [False] * 60)
    assert verdicts.export(eval_root, "reference", tmp_path / "reference.jsonl.gz") == 60
    assert verdicts.export(eval_root, "arm", tmp_path / "arm.jsonl.gz") == 60

    rows = verdicts.read(tmp_path / "reference.jsonl.gz")
    assert rows[0]["prompt"] == "safe question 0" and rows[0]["over_refusal"] is True

    lines = verdicts.compare(tmp_path / "arm.jsonl.gz", tmp_path / "reference.jsonl.gz", trained=set())
    over_refusal = next(line for line in lines if line.startswith("| over-refusal | OOD"))
    cells = [c.strip() for c in over_refusal.strip("|").split("|")]
    assert cells[2].startswith("0.0%") and cells[3].startswith("50.0%")
    assert cells[4].startswith("-50.0") and "*" in cells[4] and "(n=60)" in cells[4]


def test_export_of_a_missing_label_stops_with_its_path(tmp_path):
    verdicts = _load()
    try:
        verdicts.export(tmp_path, "nothing", tmp_path / "x.jsonl.gz")
    except SystemExit as stop:
        assert "nothing" in str(stop)
    else:
        raise AssertionError("export of a missing label did not stop")
    assert not (tmp_path / "x.jsonl.gz").exists()
