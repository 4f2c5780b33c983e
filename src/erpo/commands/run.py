"""`erpo run CONFIG`: base model → stage 1 → stage 2 → stage 3 rounds → evaluation → report."""

from __future__ import annotations

import argparse

from erpo.commands.common import add_override_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the whole ERPO pipeline from a config file (skips finished stages)")
    p.add_argument("config", help="YAML run config, e.g. configs/quickstart.yaml")
    add_override_arg(p)
    p.add_argument("--force", action="append", default=[], metavar="STAGE",
                   help="re-run STAGE and every stage after it even if finished (repeatable)")
    p.add_argument("--stop-after", metavar="STAGE", help="stop after this stage")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import time

    from erpo.config import load_config
    from erpo.pipeline import run_pipeline
    config = load_config(args.config, args.overrides)
    start = time.perf_counter()
    run_dir = run_pipeline(config, force=args.force, stop_after=args.stop_after)
    print_summary(run_dir, time.perf_counter() - start)
    return 0


def print_summary(run_dir, seconds: float) -> None:
    """One screen: a row per evaluated checkpoint, and where the report is."""
    from rich.console import Console
    from rich.table import Table

    from erpo.metrics import summarize_eval
    console = Console(width=max(Console().width, 100))   # logs and CI are 80 wide: keep the headers whole
    rows = summarize_eval(run_dir / "eval") if (run_dir / "eval").exists() else []
    if rows:
        table = Table(title=f"ERPO run {run_dir.name} ({seconds / 60:.1f} min)")
        for col in ("model", "harmful refusal", "jailbreak ASR", "over-refusal", "benign answered",
                    "benign useful", "mean tokens", "latency s"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for r in rows:
            table.add_row(r["model"], _pct(r.get("harmful_refusal")), _pct(r.get("attack_success")),
                          _pct(r.get("over_refusal")), _pct(r.get("benign_answered")), _pct(r.get("benign_useful")),
                          _num(r.get("mean_tokens")), _num(r.get("latency_s"), 2))
        console.print(table)
    from erpo.pipeline import stage_usage
    stages = stage_usage(run_dir)
    if stages:
        table = Table(title="stages: time and peak memory (process RSS while the stage ran)")
        for col in ("stage", "seconds", "peak RSS GiB", "RSS increase GiB"):
            table.add_column(col, justify="left" if col == "stage" else "right")
        for name, rec in stages:
            table.add_row(name, _num(rec.get("seconds"), 1), _num(rec.get("peak_rss_gib"), 2),
                          _num(rec.get("rss_increase_gib"), 2))
        console.print(table)
    report = run_dir / "report.html"
    console.print(f"run directory: {run_dir}" + (f"\nreport: {report}" if report.exists() else ""))


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _num(x, digits: int = 0) -> str:
    return "—" if x is None else f"{x:.{digits}f}"
