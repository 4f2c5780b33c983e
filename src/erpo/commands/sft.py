"""`erpo sft [CONFIG]`: stage 1 supervised fine-tuning on the ex-ante reasoning data."""

from __future__ import annotations

import argparse

from erpo.commands.common import add_config_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sft", help="stage 1: fine-tune on thought + safe answer (resumes from the last checkpoint)")
    add_config_args(p)
    p.set_defaults(func=_sft)


def _sft(args: argparse.Namespace) -> int:
    from erpo.artifacts import read_json
    from erpo.config import load_config
    from erpo.stages.sft import run_sft
    config = load_config(args.config, args.overrides)
    out = run_sft(config)
    record = read_json(config.run_dir / "manifest.json")["stages"]["sft"]
    print(f"SFT: {record['examples']} examples, {record['steps']} steps, {record['train_seconds']} s, "
          f"loss {record['first_loss']} → {record['last_loss']}")
    print(f"saved {out}")
    return 0
