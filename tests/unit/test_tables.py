"""The shared results tables: the terminal and the report format a row the same way."""

from rich.console import Console

from erpo.tables import EVAL_COLUMNS, ROUND_COLUMNS, cell, markdown, pick, print_table


def test_cells_format_rates_tokens_and_the_guard_verdict():
    row = {"round": 3, "accepted": False, "guard_action": "rollback", "harmful_refusal": 0.9583,
           "mean_tokens": 131.4, "latency_s_per_prompt": 7.614, "benign_useful": None}
    assert [cell(k, row) for k in ("round", "accepted", "harmful_refusal", "mean_tokens",
                                   "latency_s_per_prompt", "benign_useful")] == ["3", "no (rollback)", "95.8%", "131",
                                                                                  "7.61", "—"]
    assert cell("accepted", {"accepted": True}) == "yes"


def test_terminal_and_markdown_show_the_same_cells():
    rows = [{"model": "sft", "harmful_refusal": 0.5, "benign_useful": 0.25, "mean_tokens": 99.6}]
    columns = pick(EVAL_COLUMNS, "benign_useful", "model", "harmful_refusal", "mean_tokens")
    # table order
    assert [h for _, h in columns] == ["model", "harmful refusal (ID)", "benign useful (ID)", "total tok"]
    console = Console(record=True, width=200)
    print_table("t", columns, rows, console)
    screen = console.export_text()
    assert markdown(columns, rows)[2] == "| sft | 50.0% | 25.0% | 100 |"
    assert all(text in screen for text in ("sft", "50.0%", "25.0%", "100", "benign useful"))
    assert len(markdown(ROUND_COLUMNS, [{}])) == 3
