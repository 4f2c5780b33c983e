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
    from erpo.stages.iterate import iterate_paths, run_iterate
    from erpo.tables import ROUND_COLUMNS, print_table
    config = load_config(args.config, args.overrides)
    final = run_iterate(config)
    print_table("stage 3 rounds (held-out guard set)", ROUND_COLUMNS, read_jsonl(iterate_paths(config.run_dir)["metrics"]))
    print(f"final model: {final}")
    return 0
