"""`erpo pairs [CONFIG]`: judged candidates and length-controlled preference pairs for stage 2."""

from __future__ import annotations

import argparse

from erpo.commands.common import add_config_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pairs", help="stage 2 pairs: sample K replies from the SFT model, judge every candidate, "
                                     "keep the shortest acceptable one as chosen (03_dpo/pairs.jsonl)")
    add_config_args(p)
    p.set_defaults(func=_pairs)


def _pairs(args: argparse.Namespace) -> int:
    from erpo.artifacts import read_json
    from erpo.config import load_config
    from erpo.layout import RunLayout
    from erpo.pipeline import run_stage
    config = load_config(args.config, args.overrides)
    run_stage(config, "pairs")   # skipped when built with the same settings, judges and inputs
    folder = RunLayout(config.run_dir).dpo
    path, stats = folder.pairs, read_json(folder.pairs_stats)
    print(f"{stats['pairs']} pairs from {stats['prompts']} prompts ({stats['candidates']} candidates, "
          f"{100 * (stats['acceptable_rate'] or 0):.0f}% acceptable); skipped: {stats['skipped'] or 'none'}; "
          f"mean tokens chosen {stats['mean_chosen_tokens']} vs rejected {stats['mean_rejected_tokens']}")
    print(f"saved {path}")
    return 0
