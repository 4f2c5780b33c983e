"""`erpo iterate [CONFIG]`: stage 3 rounds of sample → judge → shortest-acceptable pairs → DPO, with a guard."""

from __future__ import annotations

import argparse

from erpo.commands.common import add_config_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("iterate", help="stage 3: length-controlled iterative preference optimisation "
                                       "(finished rounds are skipped; a guard rolls back unsafe rounds)")
    add_config_args(p)
    p.set_defaults(func=_iterate)


def _iterate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from erpo.artifacts import read_jsonl
    from erpo.config import load_config
    from erpo.stages.iterate import iterate_paths, run_iterate
    config = load_config(args.config, args.overrides)
    final = run_iterate(config)
    table = Table(title="stage 3 rounds (held-out guard set)")
    for col in ("round", "accepted", "harmful refusal", "benign answered", "benign useful", "thought tok", "answer tok",
                "s/prompt"):
        table.add_column(col, justify="right")
    for m in read_jsonl(iterate_paths(config.run_dir)["metrics"]):
        table.add_row(str(m["round"]), "yes" if m["accepted"] else f"no ({m.get('guard_action') or m.get('reason')})",
                      _fmt(m.get("harmful_refusal"), pct=True), _fmt(m.get("benign_answer"), pct=True),
                      _fmt(m.get("benign_useful"), pct=True),
                      _fmt(m.get("mean_thought_tokens")), _fmt(m.get("mean_answer_tokens")),
                      _fmt(m.get("latency_s_per_prompt"), digits=2))
    Console().print(table)
    print(f"final model: {final}")
    return 0


def _fmt(x, *, pct: bool = False, digits: int = 1) -> str:
    if x is None:
        return "—"
    return f"{100 * x:.1f}%" if pct else f"{x:.{digits}f}"
