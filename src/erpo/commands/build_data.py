"""`erpo build-data [CONFIG]`: stage 1 data (classifier, ex-ante thoughts, safe answers, negatives)."""

from __future__ import annotations

import argparse

from erpo.commands.common import add_config_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-data", help="stage 1 data: classify prompts, write thoughts + safe answers, negatives")
    add_config_args(p)
    p.set_defaults(func=_build_data)


def _build_data(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console
    from rich.table import Table

    from erpo.artifacts import read_json
    from erpo.config import load_config
    from erpo.layout import RunLayout
    from erpo.pipeline import run_stage
    config = load_config(args.config, args.overrides)
    layout = RunLayout(config.run_dir)
    start = time.perf_counter()
    run_stage(config, "data")   # skipped when `erpo run` or an earlier call already built the same data
    table = Table("stat", "value", title=f"stage 1 data ({time.perf_counter() - start:.0f} s)")
    for key, value in read_json(layout.data_stats).items():
        table.add_row(key, str(value))
    Console().print(table)
    print(f"wrote {layout.data_dir}")
    return 0
