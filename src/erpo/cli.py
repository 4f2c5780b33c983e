"""The `erpo` command: a thin layer; every verb builds the same objects the Python API uses.

Each verb lives in `erpo/commands/<verb>.py` with a `register(subparsers)` function. Command
modules import nothing heavy at module level, so `erpo --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from erpo import __version__
from erpo.errors import ErpoError

COMMAND_MODULES = [
    "erpo.commands.assets",
    "erpo.commands.classify",
    "erpo.commands.build_data",
    "erpo.commands.sft",
    "erpo.commands.pairs",
    "erpo.commands.dpo",
    "erpo.commands.iterate",
    "erpo.commands.run",
    "erpo.commands.policy",
    "erpo.commands.data",
    "erpo.commands.serve",
    "erpo.commands.chat",
    "erpo.commands.eval", "erpo.commands.report", "erpo.commands.judge_check",
    "erpo.commands.config",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="erpo", description="Ex-Ante Reasoning Preference Optimization: "
                                     "teach a chat model to reason against a safety policy before it answers.")
    parser.add_argument("--version", action="version", version=f"erpo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ErpoError as exc:
        print(f"erpo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("erpo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
