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
    from erpo.config import load_config
    from erpo.layout import RunLayout
    from erpo.pipeline import run_stage
    config = load_config(args.config, args.overrides)
    run_stage(config, "pairs")   # each skipped when finished with the same config and inputs
    record = run_stage(config, "dpo")
    out = RunLayout(config.run_dir).dpo_model
    if record.get("steps") is not None:
        print(f"DPO: {record.get('pairs')} pairs, {record.get('steps')} steps, {record.get('train_seconds')} s, "
              f"loss {record.get('first_loss')} → {record.get('last_loss')}, reward margin {record.get('last_margin')}")
    print(f"saved {out}")
    return 0
