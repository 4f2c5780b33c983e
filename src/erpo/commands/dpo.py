"""`erpo dpo [CONFIG]`: stage 2 DPO against the SFT model (builds the pairs first when missing)."""

from __future__ import annotations

import argparse

from erpo.commands.common import add_config_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dpo", help="stage 2: DPO for safety, usefulness and efficiency (reference = SFT model; "
                                   "cached reference log-probs; resumes from the last checkpoint)")
    add_config_args(p)
    p.set_defaults(func=_dpo)


def _dpo(args: argparse.Namespace) -> int:
    from erpo.artifacts import read_json
    from erpo.config import load_config
    from erpo.stages.dpo import run_dpo
    config = load_config(args.config, args.overrides)
    out = run_dpo(config)
    stats_file = out.parent / "train_stats.json"
    record = read_json(stats_file) if stats_file.exists() else {}
    if record:
        print(f"DPO: {record.get('pairs')} pairs, {record.get('steps')} steps, {record.get('train_seconds')} s, "
              f"loss {record.get('first_loss')} → {record.get('last_loss')}, reward margin {record.get('last_margin')}")
    print(f"saved {out}")
    return 0
