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
    """One screen: a row per evaluated checkpoint, the stages' costs, and where the report is."""
    from erpo.commands.eval import print_generalization
    from erpo.layout import RunLayout
    from erpo.metrics import summarize_eval
    from erpo.stages.report import run_trained_attacks, stage_usage
    from erpo.tables import EVAL_COLUMNS, STAGE_COLUMNS, pick, present, print_table, wide_console
    console = wide_console()
    layout = RunLayout(run_dir)
    rows = summarize_eval(layout.eval_dir, run_trained_attacks(run_dir)) if layout.eval_dir.exists() else []
    if rows:
        print_table(f"ERPO run {run_dir.name} ({seconds / 60:.1f} min)",
                    present(pick(EVAL_COLUMNS, "model", "harmful_refusal", "harmful_refusal_ood", "attack_success",
                                 "attack_success_trained", "attack_success_unseen", "over_refusal",
                                 "over_refusal_ood", "benign_answered", "benign_useful", "mean_tokens", "latency_s"),
                            rows), rows, console)
        print_generalization(run_dir)
    stages = [{"stage": name, **rec} for name, rec in stage_usage(run_dir)]
    if stages:
        print_table("stages: time and peak memory (process RSS while the stage ran)", STAGE_COLUMNS, stages, console)
    report = layout.report_html
    console.print(f"run directory: {run_dir}" + (f"\nreport: {report}" if report.exists() else ""))
