"""`erpo sft [CONFIG]`: stage 1 supervised fine-tuning on the ex-ante reasoning data."""

from __future__ import annotations

import argparse

from erpo.commands.common import add_config_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sft", help="stage 1: fine-tune on thought + safe answer (resumes from the last checkpoint)")
    add_config_args(p)
    p.set_defaults(func=_sft)


def _sft(args: argparse.Namespace) -> int:
    from erpo.config import load_config
    from erpo.layout import RunLayout
    from erpo.pipeline import run_stage
    config = load_config(args.config, args.overrides)
    record = run_stage(config, "sft")   # skipped when finished with the same config and data
    print(f"SFT: {record.get('examples')} examples, {record.get('steps')} steps, {record.get('train_seconds')} s, "
          f"loss {record.get('first_loss')} → {record.get('last_loss')}")
    print(f"saved {RunLayout(config.run_dir).sft_model}")
    return 0
