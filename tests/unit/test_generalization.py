"""The generalization table (erpo.generalization): rates pooled over every prompt of a row's suites,
ID beside OOD, trained and unseen attacks apart, with CIs and paired changes — and its place in the report."""

from __future__ import annotations

from test_differences import write_folder

from erpo.generalization import generalization_tables
from erpo.stages.report import write_report

N = 40


def _cells(rows: list[dict], metric: str, distribution: str) -> dict:
    return next(r for r in rows if r["metric"].startswith(metric) and r["distribution"] == distribution)


def _scripted_eval(root):
    write_folder(root, "base", "harmful", [i % 4 == 0 for i in range(N)])                   # 25% refused
    write_folder(root, "sft", "harmful", [True] * N)                                         # 100%
    write_folder(root, "base", "harmful-ood", [i % 2 == 0 for i in range(N)])               # 50%
    write_folder(root, "sft", "harmful-ood", [i % 2 == 0 for i in range(N)])                # the same replies
    for attack, sft_refused in (("past_tense", True), ("few_shot", False), ("style_injection", False)):
        write_folder(root, "base", "jailbreak", [False] * N, attack=attack)
        write_folder(root, "sft", "jailbreak", [sft_refused] * N, attack=attack)


def test_rates_pool_the_prompts_of_their_suites_and_split_trained_from_unseen_attacks(tmp_path):
    _scripted_eval(tmp_path)
    columns, rows, change_columns, changes = generalization_tables(tmp_path, trained={"past_tense"})
    assert [key for key, _ in columns] == ["metric", "distribution", "n", "base", "sft"]
    assert _cells(rows, "harmful refusal", "ID")["base"].startswith("25.0% [")
    assert _cells(rows, "harmful refusal", "OOD")["n"] == str(N)
    trained = _cells(rows, "jailbreak ASR, trained", "ID")
    unseen = _cells(rows, "jailbreak ASR, unseen", "unseen attacks")
    assert trained["sft"].startswith("0.0% [") and trained["n"] == str(N)
    assert unseen["sft"].startswith("100.0% [") and unseen["n"] == str(2 * N)   # two unseen attacks, pooled
    assert not [r for r in rows if r["metric"].startswith("over-refusal")]     # no suite, no row
    assert [key for key, _ in change_columns] == ["metric", "distribution", "sft − base"]
    assert _cells(changes, "harmful refusal", "ID")["sft − base"].startswith("+75.0 [")
    assert _cells(changes, "harmful refusal", "ID")["sft − base"].endswith("*")
    assert _cells(changes, "harmful refusal", "OOD")["sft − base"] == "+0.0 [+0.0, +0.0]"   # same replies: no change


def test_without_the_runs_attack_list_the_attack_rows_are_left_out(tmp_path):
    _scripted_eval(tmp_path)
    _, rows, _, _ = generalization_tables(tmp_path, trained=None)
    assert rows and not [r for r in rows if "ASR" in r["metric"]]


def test_the_report_shows_the_generalization_table(tmp_path):
    _scripted_eval(tmp_path / "eval")
    markdown_path, _ = write_report(tmp_path, trained={"past_tense"})
    text = markdown_path.read_text(encoding="utf-8")
    assert "## Generalization" in text
    assert "| jailbreak ASR, unseen attacks (lower is better) | unseen attacks |" in text
    assert "sft − base" in text


def test_every_rate_column_of_the_results_table_is_a_percentage():
    from erpo.tables import EVAL_COLUMNS, PERCENT, cell
    rates = [key for key, _ in EVAL_COLUMNS if key.startswith(("attack_success", "harmful_refusal", "over_refusal"))]
    assert rates and set(rates) <= PERCENT
    assert cell("attack_success_harmful", {"attack_success_harmful": 0.0}) == "0.0%"
