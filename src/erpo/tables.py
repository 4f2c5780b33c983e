"""The results tables, one definition each: which columns, under which headers, formatted how.

`erpo eval`, `erpo run`, `erpo iterate` print them in the terminal (rich) and the report writes
them as Markdown and HTML; all take their columns and cell formats from here, so a metric added
to one shows up the same way in the others.
"""

from __future__ import annotations

import html
from typing import Any, Sequence

Columns = Sequence[tuple[str, str]]   # (row key, header)

# one row per evaluated checkpoint (`erpo.metrics.summarize_eval`); ID = in-distribution suites (held-out
# halves of the training sources), OOD = sources no training stage saw (`data.holdout_sources`)
EVAL_COLUMNS: Columns = (
    ("model", "model"), ("harmful_refusal", "harmful refusal (ID)"), ("harmful_refusal_ood", "harmful refusal (OOD)"),
    ("attack_success", "jailbreak ASR (ID)"), ("attack_success_trained", "ASR trained attacks (ID)"),
    ("attack_success_unseen", "ASR unseen attacks (ID)"),
    ("attack_success_harmful", "jailbreak ASR (harmful)"), ("over_refusal", "over-refusal (ID)"),
    ("over_refusal_ood", "over-refusal (OOD)"), ("benign_answered", "benign answered (ID)"),
    ("benign_useful", "benign useful (ID)"),
    ("rule_citation", "rule citation"), ("format_rate", "format"), ("mean_thought_tokens", "thought tok"),
    ("mean_answer_tokens", "answer tok"), ("mean_tokens", "total tok"), ("latency_s", "latency s"))

# columns shown only where some row has a value (a judge that did not run)
OPTIONAL = {"attack_success_harmful", "harmful_refusal_ood", "over_refusal_ood", "attack_success_trained",
            "attack_success_unseen"}

# one row per (checkpoint, checkpoint it is compared with, suite, attack, metric) (`erpo.metrics.paired_differences`)
DIFF_COLUMNS: Columns = (
    ("model", "model"), ("against", "vs"), ("suite", "suite"), ("distribution", "ID/OOD"), ("attack", "attack"),
    ("metric", "metric"),
    ("diff", "difference"), ("ci", "95% CI"), ("significant", "sig."), ("n", "n"))
DIFF_TITLE = ("Differences: model − vs on the same prompts (rates in points, tokens in tokens); "
              "* = significant, the paired-bootstrap 95% CI excludes 0; n = prompts both models were scored on")

# one row per stage-3 round, round 0 = the stage-2 model (`04_iterate/metrics.jsonl`)
ROUND_COLUMNS: Columns = (
    ("round", "round"), ("accepted", "accepted"), ("harmful_refusal", "harmful refusal"),
    ("benign_answered", "benign answered"), ("benign_useful", "benign useful"),
    ("mean_thought_tokens", "thought tok"), ("mean_answer_tokens", "answer tok"),
    ("mean_tokens", "reply tok"), ("pairs", "pairs"), ("learning_rate", "lr"),
    ("latency_s_per_prompt", "s/prompt"))

# one row per pipeline stage (`erpo.pipeline.stage_usage`)
STAGE_COLUMNS: Columns = (("stage", "stage"), ("seconds", "seconds"), ("peak_rss_gib", "peak RSS GiB"),
                          ("rss_increase_gib", "RSS increase GiB"), ("compute", "compute"))

PERCENT = {"harmful_refusal", "attack_success", "over_refusal", "benign_answered", "benign_useful",
           "rule_citation", "format_rate", "harmful_refusal_ood", "over_refusal_ood", "attack_success_trained",
           "attack_success_unseen", "attack_success_harmful"}
TOKENS = {"mean_tokens", "mean_thought_tokens", "mean_answer_tokens"}
DECIMALS = {"latency_s": 2, "latency_s_per_prompt": 2, "peak_rss_gib": 2, "rss_increase_gib": 2}


def pick(columns: Columns, *keys: str) -> Columns:
    """The columns of `columns` named by `keys`, in table order (a narrower view of one table)."""
    return tuple(c for c in columns if c[0] in keys)


def present(columns: Columns, rows: Sequence[dict]) -> Columns:
    """`columns` less the OPTIONAL ones no row has a value for."""
    return tuple(c for c in columns if c[0] not in OPTIONAL or any(r.get(c[0]) is not None for r in rows))


def _signed(value: float, metric: str) -> str:
    """A difference in the metric's unit: points for a rate, tokens for a length."""
    return f"{value:+.1f}" if metric in TOKENS else f"{100 * value:+.1f}"


def cell(key: str, row: dict) -> str:
    """Row `row`'s value under `key` as table text; a missing value is a dash."""
    value = row.get(key)
    if key == "diff" and value is not None:
        return _signed(value, row.get("metric", ""))
    if key == "ci" and row.get("ci_low") is not None:
        return f"[{_signed(row['ci_low'], row.get('metric', ''))}, {_signed(row['ci_high'], row.get('metric', ''))}]"
    if key == "significant":
        return "*" if value else ""
    if key == "accepted":   # a rolled-back round says what the guard did
        reason = row.get("guard_action") or row.get("reason")
        return "yes" if value else ("no" + (f" ({reason})" if reason else ""))
    if value is None:
        return "—"
    if key in PERCENT:
        return f"{100 * value:.1f}%"
    if key == "learning_rate":
        return f"{value:.2g}"
    if isinstance(value, float):
        return f"{value:.{DECIMALS.get(key, 0)}f}"
    return str(value)


def markdown(columns: Columns, rows: Sequence[dict]) -> list[str]:
    """The table as Markdown lines (header, rule, one line per row)."""
    return (["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(cell(k, r) for k, _ in columns) + " |" for r in rows])


def html_table(columns: Columns, rows: Sequence[dict]) -> str:
    """The table as one escaped HTML <table>."""
    esc = html.escape
    return ("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for _, h in columns) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{esc(cell(k, r))}</td>" for k, _ in columns) + "</tr>"
                      for r in rows) + "</table>")


def print_table(title: str, columns: Columns, rows: Sequence[dict], console: Any = None) -> None:
    """The table in the terminal; the first column left-aligned, numbers right-aligned."""
    from rich.table import Table
    table = Table(title=title)
    for i, (_, header) in enumerate(columns):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(cell(k, row) for k, _ in columns))
    (console or wide_console()).print(table)


def wide_console() -> Any:
    """A rich console at least 160 columns wide: logs, pipes and CI are 80 wide, and cut headers."""
    from rich.console import Console
    console = Console()
    return console if console.is_terminal else Console(width=160)
