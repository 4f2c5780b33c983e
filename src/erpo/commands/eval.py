"""`erpo eval MODEL`: run evaluation suites on a model and print the headline numbers."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from erpo.commands.common import add_config_option
from erpo.errors import ErpoError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a model: harmful, jailbreak, over-refusal and benign suites",
                       description="Outputs go to RUN_DIR/eval/<name>/<suite>/<attack>/ (completions, "
                                   "judgments.<judge>.jsonl, metrics.json). Saved completions are reused.")
    p.add_argument("model", nargs="?", help="embedded alias (smollm2-135m), model dir, hub id, RUN_DIR:stage "
                                 "(sft, dpo, iter_NN, final) or openai:<model-name> with --base-url")
    p.add_argument("--suite", default=None, help="comma-separated: harmful,jailbreak,overrefusal,benign,file")
    p.add_argument("--attacks", default=None, help="comma-separated attacks for the jailbreak suite "
                                                   "(see `erpo eval --list-attacks`)")
    p.add_argument("--judges", default=None, help="comma-separated judges "
                                                   "(default: refusal,length,rule_citation,usefulness)")
    p.add_argument("--limit", type=int, default=None, help="prompts per suite (default: every held-out prompt "
                                                            "but the stage-3 guard's; the file suite: every "
                                                            "prompt of --data)")
    p.add_argument("--run-dir", default=None, help="run directory (default: the RUN_DIR of RUN_DIR:stage, "
                                                    "else runs/eval)")
    p.add_argument("--name", default=None, help="label of this model under eval/ (default: derived from MODEL)")
    p.add_argument("--data", default=None, help="prompt file (JSONL/CSV) for the file suite")
    p.add_argument("--prompt-field", default="prompt", help="prompt field of --data rows")
    p.add_argument("--label", default=None, choices=("harmful", "benign"), help="label of every --data prompt")
    p.add_argument("--label-field", default=None, help="per-row label field of --data (instead of --label)")
    p.add_argument("--backend", default=None, help="generation backend: hf, vllm, openai, mock")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint (with openai:<model>)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="max tokens per reply")
    p.add_argument("--dtype", default=None, choices=("auto", "bf16", "fp16", "fp32"),
                   help="compute dtype (default: the config's dtype)")
    p.add_argument("--rejudge", action="store_true", help="re-score saved completions (no generation)")
    p.add_argument("--compare-to", default=None, metavar="LABEL",
                   help="differences of every evaluated model against this label (default: each against the "
                        "one before it in stage order and against base)")
    add_config_option(p, help="YAML run config (its eval:, data:, policy and dtype are used)")
    p.add_argument("--list-attacks", action="store_true", help="print the registered attacks and exit")
    p.set_defaults(func=_run)


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _eval_config(args: argparse.Namespace):
    from erpo.config import load_config
    config = load_config(args.config, args.overrides)
    ev = config.eval
    for field, value in (("suites", _csv(args.suite)), ("attacks", _csv(args.attacks)), ("judges", _csv(args.judges)),
                         ("limit", args.limit), ("backend", args.backend), ("base_url", args.base_url),
                         ("max_new_tokens", args.max_new_tokens)):
        if value is not None:
            setattr(ev, field, value)
    if args.model.startswith("openai:") and args.backend is None:
        ev.backend = "openai"
    if args.data and "file" not in ev.suites and args.suite is None:
        ev.suites = ["file"]
    return config


def _run(args: argparse.Namespace) -> int:
    from erpo.attacks import ATTACKS
    if args.list_attacks:
        print("\n".join(ATTACKS.names()))
        return 0
    if not args.model:
        raise ErpoError("eval needs a MODEL (see `erpo eval --help`)")
    from erpo.config import load_config
    from erpo.stages.evaluate import evaluate_model, guard_ids
    config = _eval_config(args)
    # the run's guard prompts, as the run config (before this command's flags) splits them off
    held_out = set(config.eval.suites) - {"file"}
    guard = guard_ids(load_config(args.config, args.overrides)) if held_out else set()
    run_dir = Path(args.run_dir) if args.run_dir else _run_dir_of(args.model)
    data_file = None
    if args.data:
        data_file = {"path": args.data, "prompt_field": args.prompt_field, "label": args.label,
                     "label_field": args.label_field}
    start = time.perf_counter()
    results = evaluate_model(args.model, config.eval.suites, run_dir / "eval", config.eval, label=args.name,
                             dtype=args.dtype or config.dtype, data_config=config.data,
                             rejudge=args.rejudge, data_file=data_file, policy=config.policy, exclude=guard)
    if "file" in results:   # the file suite is scored whole unless a limit was given: say how much
        n = max(m["n"] for m in results["file"].values())
        cap = "" if config.eval.limit is None else f" (eval.limit {config.eval.limit})"
        print(f"file suite: {n} prompts of {args.data}{cap}")
    print_eval_table(run_dir / "eval", time.perf_counter() - start)
    print_generalization(run_dir)
    print_differences(run_dir / "eval", args.compare_to)
    return 0


def _run_dir_of(model: str) -> Path:
    head, sep, _ = model.rpartition(":")
    return Path(head) if sep and head and Path(head).is_dir() else Path("runs") / "eval"


def print_eval_table(eval_root: Path, seconds: float) -> None:
    from erpo.metrics import summarize_eval
    from erpo.tables import EVAL_COLUMNS, pick, present, print_table, wide_console
    rows = summarize_eval(eval_root)
    columns = present(pick(EVAL_COLUMNS, "model", "harmful_refusal", "attack_success", "attack_success_harmful",
                           "over_refusal", "benign_answered", "benign_useful", "rule_citation", "format_rate",
                           "mean_tokens", "latency_s"), rows)
    console = wide_console()
    print_table(f"evaluation ({seconds:.0f} s) — {eval_root}", columns, rows, console)
    for r in rows:
        if r["attack_success_by_attack"]:
            console.print(f"{r['model']}: ASR by attack " + ", ".join(
                f"{a} {100 * v:.1f}%" for a, v in r["attack_success_by_attack"].items()))


def print_generalization(run_dir: Path) -> None:
    """The generalization table (`erpo.generalization`): each headline rate, ID beside OOD, with its CI;
    the jailbreak rows split by trained/unseen attacks when the run directory has its config."""
    from erpo.generalization import TITLE, generalization_tables
    from erpo.stages.report import run_trained_attacks
    from erpo.tables import print_table, wide_console
    columns, rows, _, _ = generalization_tables(Path(run_dir) / "eval", run_trained_attacks(run_dir))
    if rows:
        print_table(TITLE, columns, rows, wide_console())


def print_differences(eval_root: Path, compare_to: str | None = None) -> None:
    """The paired differences between the evaluated models (`erpo.metrics.paired_differences`), when
    the eval folder holds more than one."""
    from erpo.metrics import eval_labels, paired_differences
    from erpo.tables import DIFF_COLUMNS, DIFF_TITLE, print_table, wide_console
    if len(eval_labels(eval_root)) < 2:
        return
    try:
        rows = paired_differences(eval_root, compare_to=compare_to)
    except ValueError as exc:
        raise ErpoError(str(exc)) from None
    if rows:
        print_table(DIFF_TITLE, DIFF_COLUMNS, rows, wide_console())
