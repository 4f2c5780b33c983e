"""`erpo judge-check`: agreement of the judges with human labels, per source, with 95% CIs.

Per source family (the part of `source` before ':'; `--by source` for every source) and overall.
By default on the held-out test part of the shipped labels (`erpo/judges/labels/`), plus PyRIT's
refusal labels as source `pyrit` (the judges are fitted on them and on the dev part, which the
output says). `--labels FILE` checks a labelled file of your own instead (JSONL or CSV, same
columns). `--config FILE` (and `--set`) checks the judges as that run config sets them up
(`eval.judge_options`): an llm judge in place of an offline one is checked on the same labels
before a run trusts it. Low agreement is reported, not an error: the exit code is non-zero only
on bad input.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from erpo.commands.common import add_config_option
from erpo.judges.validation import JUDGES_CHECKED

if TYPE_CHECKING:
    from rich.table import Table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("judge-check", help="agreement of the judges with human labels (per source, 95%% CIs)")
    p.add_argument("--part", choices=("test", "dev", "all"), default="test",
                   help="which part of the shipped labels (default: test, the held-out part)")
    p.add_argument("--labels", metavar="FILE", help="check your own labelled JSONL/CSV file instead")
    p.add_argument("--judges", default=",".join(JUDGES_CHECKED), help="comma-separated judges to check")
    p.add_argument("--by", choices=("family", "source"), default="family",
                   help="rows per source family (the part before ':', default) or per source")
    p.add_argument("--cv", type=int, default=0, metavar="FOLDS",
                   help="with --part dev: out-of-fold numbers for the fitted judges (folds grouped by prompt)")
    p.add_argument("--no-pyrit", action="store_true", help="leave out PyRIT's refusal labels (source pyrit)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    add_config_option(p, help="YAML run config whose eval.judge_options set the judges up (e.g. an llm backend)")
    p.set_defaults(func=_run)


def _judge_options(args: argparse.Namespace, names: list[str]) -> dict[str, dict]:
    """Each checked judge's keyword arguments from the config's `eval.judge_options` (none without --config)."""
    if args.config is None and not args.overrides:
        return {}
    from erpo.config import load_config
    from erpo.errors import InputError
    from erpo.judges.llm import OFFLINE, is_llm_backend
    options = load_config(args.config, args.overrides).eval.judge_options
    if args.cv:
        llm = sorted(n for n in names if is_llm_backend(options.get(n, {}).get("backend", OFFLINE)))
        if llm:
            raise InputError(f"--cv refits the offline judges; {', '.join(llm)} use an llm backend here "
                             "(nothing is fitted: check them without --cv)", field="--cv")
    return {n: dict(options.get(n, {})) for n in names}


def _rows(args: argparse.Namespace) -> tuple[list, str]:
    from erpo.judges import human_labels
    if args.labels:
        rows, what = human_labels.read_labels(args.labels), args.labels
    else:
        rows, what = human_labels.load_part(args.part), f"{args.part} part of the shipped labels"
    if not args.no_pyrit and not args.labels:
        rows += human_labels.load_pyrit()
    return rows, what


def _cell(metric: dict | None) -> str:
    if metric is None:
        return "—"
    return f"{metric['value']:.3f} [{metric['ci_low']:.2f}, {metric['ci_high']:.2f}]"


def _source_name(source: str, fitted_on: set[str]) -> str:
    return f"{source} (fitted on)" if source in fitted_on else source


def _table(result: dict, fitted_on: set[str]) -> "Table":
    from rich.table import Table
    table = Table(title=f"{result['judge']}: positive = {result['positive']}")
    for col in ("source", "n", "accuracy", "precision", "recall", "kappa", "TP", "FP", "FN", "TN"):
        table.add_column(col, justify="left" if col == "source" else "right", no_wrap=True)
    for group, m in result["groups"].items():
        c = m["confusion"]
        table.add_row(_source_name(group, fitted_on), str(m["n"]),
                      *(_cell(m[k]) for k in ("accuracy", "precision", "recall", "kappa")),
                      str(c["tp"]), str(c["fp"]), str(c["fn"]), str(c["tn"]))
    return table


def _versus_table(diffs: dict[str, dict], fitted_on: set[str]) -> "Table":
    from rich.table import Table
    table = Table(title="refusal − refusal_pattern: accuracy difference on the same replies (paired bootstrap)")
    for col in ("source", "n", "difference", "95% CI", "CI excludes 0"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for group, d in diffs.items():
        if d["diff"] is None:
            continue
        table.add_row(_source_name(group, fitted_on), str(d["n"]), f"{d['diff']:+.3f}",
                      f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]", "yes" if d["excludes_zero"] else "no")
    return table


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from erpo.errors import InputError
    from erpo.judges import get_judge
    from erpo.judges.human_labels import PYRIT
    from erpo.judges.llm import OFFLINE, is_llm_backend
    from erpo.judges.validation import check_judge, cross_validate, family, versus_baseline
    names = [n.strip() for n in args.judges.split(",") if n.strip()]
    unknown = sorted(set(names) - set(JUDGES_CHECKED))
    if unknown:
        raise InputError(f"unknown judge(s) {unknown}; choose from {', '.join(JUDGES_CHECKED)}", field="--judges")
    if args.cv and (args.part != "dev" or args.labels or args.no_pyrit):
        raise InputError("--cv cross-validates on what the judges are fitted on: use it with --part dev only",
                         field="--cv")
    rows, what = _rows(args)
    # what the fitted judges (refusal, harm) saw: the dev part and PyRIT's labels
    fitted_on = set() if args.cv else {PYRIT}
    if args.part in ("dev", "all") and not args.labels and not args.cv:
        fitted_on |= {r.source if args.by == "source" else family(r.source) for r in rows if r.source != PYRIT}
    console = Console()
    if not console.is_terminal:   # a saved report keeps one line per row
        console = Console(width=max(console.width, 150))
    console.print(f"[bold]judge-check[/bold] on the {what}: {len(rows)} labelled replies, per source "
                  f"{'family' if args.by == 'family' else ''}; 95% bootstrap CIs in brackets.")
    present = fitted_on & {r.source if args.by == "source" else family(r.source) for r in rows}
    if args.cv:
        console.print(f"Out-of-fold ({args.cv} folds, replies to one prompt share a fold): every reply is judged by "
                      "models fitted without it, on the dev part and PyRIT.")
    elif present:
        console.print(f"The fitted judges (refusal, and harm, which builds on it) were fitted on "
                      f"{', '.join(sorted(present))} (marked 'fitted on': in-sample numbers); 'overall' pools "
                      "every source except pyrit.")
    results = {}
    options = _judge_options(args, names)
    for name, opts in options.items():
        if is_llm_backend(opts.get("backend", OFFLINE)):
            console.print(f"{name}: the llm judge ({opts.get('model', 'default model')} on the {opts['backend']} "
                          "backend) as the config sets it up; nothing of it is fitted on these labels.")
    for name in names:
        if args.cv and name != "refusal_pattern":
            results[name] = cross_validate(name, folds=args.cv, seed=args.seed, by=args.by)
        else:
            judge = get_judge(name, **options[name]) if options.get(name) else None
            results[name] = check_judge(name, rows, judge=judge, seed=args.seed, by=args.by)
        if results[name]["rows"]:
            console.print(_table(results[name], fitted_on))
            if results[name].get("unparsed"):
                console.print(f"{name}: {results[name]['unparsed']} of {len(results[name]['rows'])} verdicts had no "
                              "verdict word (score 0.5, counted as positive): check the judge model and its rubric.")
        else:
            console.print(f"{name}: no rows carry its label here")
    if "refusal" in results and "refusal_pattern" in results and results["refusal"]["rows"]:
        console.print(_versus_table(versus_baseline(results["refusal"], results["refusal_pattern"], seed=args.seed),
                                    fitted_on))
    return 0
