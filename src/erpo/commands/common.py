"""Arguments every config-driven verb shares (build-data, sft, pairs, dpo, iterate, classify, run, eval, config)."""

from __future__ import annotations

import argparse


def add_override_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set data.train_harmful=50 (repeatable)")


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="YAML run config (default: built-in defaults)")
    add_override_arg(p)


def add_config_option(p: argparse.ArgumentParser, help: str = "YAML run config (default: built-in defaults)") -> None:
    """The run config as `--config FILE`, for verbs whose positional argument is something else."""
    p.add_argument("--config", default=None, metavar="CONFIG", help=help)
    add_override_arg(p)
