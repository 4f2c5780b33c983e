"""`erpo data list|show|export`: the registered prompt sources and their train/eval splits."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="list, inspect and export prompt sources")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    lst = verbs.add_parser("list", help="every offline source with label and train/eval counts")
    _split_options(lst)
    lst.set_defaults(func=_list)
    show = verbs.add_parser("show", help="print a few records of a source")
    show.add_argument("source", help="source name (see `erpo data list`)")
    show.add_argument("--split", choices=["train", "eval", "all"], default="all", help="which split to show")
    show.add_argument("--n", type=int, default=5, help="how many records")
    _split_options(show)
    show.set_defaults(func=_show)
    export = verbs.add_parser("export", help="write a source's records to JSONL (atomic)")
    export.add_argument("source", help="source name (see `erpo data list`)")
    export.add_argument("out", help="output .jsonl path")
    export.add_argument("--split", choices=["train", "eval", "all"], default="all", help="which split to write")
    _split_options(export)
    export.set_defaults(func=_export)


def _split_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eval-fraction", type=float, default=0.3, help="share of each source held out for eval")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")


def _split_records(source: str, args: argparse.Namespace) -> list:
    from erpo.data import load_prompts
    records = load_prompts([source], eval_fraction=args.eval_fraction, seed=args.seed)
    split = getattr(args, "split", "all")
    return records if split == "all" else [r for r in records if r.split == split]


def _list(args: argparse.Namespace) -> int:
    from collections import Counter

    from rich.console import Console
    from rich.table import Table

    from erpo.data import OFFLINE_SOURCES
    table = Table("source", "label", "total", "train", "eval", "with rule id",
                  title=f"prompt sources (eval fraction {args.eval_fraction}, seed {args.seed})")
    for name in OFFLINE_SOURCES:
        records = _split_records(name, args)
        splits = Counter(r.split for r in records)
        labels = "/".join(sorted({r.label for r in records}))
        mapped = sum(r.category is not None for r in records)
        table.add_row(name, labels, str(len(records)), str(splits["train"]), str(splits["eval"]), str(mapped))
    Console().print(table)
    print("also: user-file (path=..., label=... | label_field=...), hub (dataset=..., needs internet)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    records = _split_records(args.source, args)[: max(args.n, 0)]
    table = Table("id", "label", "split", "rule", "source category", "prompt", show_lines=True)
    for r in records:
        table.add_row(r.id, r.label, r.split or "", r.category or "", r.source_category or "", r.prompt)
    Console().print(table)
    return 0


def _export(args: argparse.Namespace) -> int:
    from erpo.artifacts import write_jsonl
    records = _split_records(args.source, args)
    path = write_jsonl(args.out, records)
    print(f"wrote {len(records)} record(s) of {args.source} (split {args.split}) to {path}")
    return 0
