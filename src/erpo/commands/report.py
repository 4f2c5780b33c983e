"""`erpo report RUN_DIR`: write report.md and a self-contained report.html from a run's eval files."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write RUN_DIR/report.md and report.html (plots inline, no server)")
    p.add_argument("run_dir", help="run directory holding eval/ (and 04_iterate/metrics.jsonl if present)")
    p.add_argument("--samples", type=int, default=3, help="sample replies shown per model and suite")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from erpo.stages.report import write_report
    paths = write_report(args.run_dir, samples=args.samples)
    for path in paths:
        print(path)
    return 0
