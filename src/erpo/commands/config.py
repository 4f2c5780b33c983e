"""`erpo config show|docs`: the resolved config with its defaults marked, and docs/config.md."""

from __future__ import annotations

import argparse

from erpo.commands.common import add_config_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print a resolved config, or write the config reference")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    show = verbs.add_parser("show", help="print the resolved config as YAML (bases merged, overrides "
                                         "applied); values that came from a default end in '# default'")
    add_config_args(show)
    show.set_defaults(func=_show)
    docs = verbs.add_parser("docs", help="write the reference of every section and key (Markdown)")
    docs.add_argument("--output", default="docs/config.md", help="where to write it (default: docs/config.md)")
    docs.set_defaults(func=_docs)


def _show(args: argparse.Namespace) -> int:
    from erpo.config import load_config
    from erpo.config_docs import resolved_yaml
    print(resolved_yaml(load_config(args.config, args.overrides)), end="")
    return 0


def _docs(args: argparse.Namespace) -> int:
    from erpo.artifacts import write_text
    from erpo.config_docs import config_reference
    write_text(args.output, config_reference())
    print(f"wrote {args.output}")
    return 0
