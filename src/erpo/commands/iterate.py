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
    from erpo.artifacts import read_jsonl
    from erpo.config import load_config
    from erpo.layout import RunLayout
    from erpo.metrics import guard_resolution, with_current_names
    from erpo.pipeline import run_stage
    from erpo.tables import ROUND_COLUMNS, print_table
    config = load_config(args.config, args.overrides)
    layout = RunLayout(config.run_dir)
    run_stage(config, "iterate")   # skipped when finished; an unfinished run resumes at its last round
    rows = [with_current_names(row) for row in read_jsonl(layout.iterate_metrics)]
    noise = guard_resolution(rows)
    print_table(f"stage 3 rounds (held-out guard set{': ' + noise if noise else ''})", ROUND_COLUMNS, rows)
    print(f"final model: {layout.final_model}")
    return 0
