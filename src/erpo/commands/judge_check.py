"""`erpo judge-check`: agreement of the refusal judge with PyRIT's human refusal labels."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("judge-check", help="cross-validated agreement of the refusal judge with human labels")
    p.add_argument("--folds", type=int, default=5, help="stratified cross-validation folds")
    p.add_argument("--seed", type=int, default=0, help="fold assignment seed")
    p.add_argument("--target", type=float, default=0.95, help="agreement the combined judge should reach")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from erpo.judges.refusal import cross_validate
    rows = cross_validate(folds=args.folds, seed=args.seed)
    table = Table(title=f"refusal judge vs human labels ({args.folds}-fold cross-validation, out-of-fold)")
    for col in ("judge", "accuracy", "precision", "recall", "n"):
        table.add_column(col, justify="left" if col == "judge" else "right")
    for name, m in rows.items():
        table.add_row(name, f"{m['accuracy']:.3f}", f"{m['precision']:.3f}", f"{m['recall']:.3f}", str(m["n"]))
    console = Console()
    console.print(table)
    ok = rows["combined"]["accuracy"] >= args.target
    console.print(f"combined agreement {rows['combined']['accuracy']:.3f} "
                  f"{'meets' if ok else 'is BELOW'} the target {args.target:.2f}")
    return 0 if ok else 1
