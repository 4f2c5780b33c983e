"""`erpo classify [PROMPT ...]`: label prompts with their most relevant policy rule, or report accuracy.

With prompts (or `--file` JSONL/TXT) it prints one line per prompt. With none it fits the
classifier on the train split, prints held-out accuracy and the confusion matrix, the same on the
out-of-distribution sources it never saw (`data.holdout_sources`), and writes
`classifier_report.json` (to `--out`, default the run's `01_data/`; the OOD report under "ood").
"""

from __future__ import annotations

import argparse

from erpo.commands.common import add_config_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="risk classifier: label prompts with a policy rule id or 'none'")
    add_config_args(p)
    p.add_argument("--prompt", "-p", action="append", default=[], help="a prompt to classify (repeatable)")
    p.add_argument("--file", help="prompts to classify: .txt (one per line) or .jsonl with a 'prompt' field")
    p.add_argument("--out", help="where to write classifier_report.json (default: <run>/01_data/)")
    p.set_defaults(func=_classify)


def _read_prompts(path: str) -> list[str]:
    from pathlib import Path

    from erpo.artifacts import read_jsonl
    from erpo.errors import InputError
    if path.endswith(".jsonl"):
        prompts = []
        for lineno, row in enumerate(read_jsonl(path), start=1):
            if not isinstance(row.get("prompt"), str):
                raise InputError("missing or not a string", file=path, line=lineno, field="prompt")
            prompts.append(row["prompt"])
        return prompts
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _classify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from erpo.config import load_config
    from erpo.layout import RunLayout
    from erpo.policy import load_policy_file
    from erpo.stages.build_data import report_classifier, risk_classifier_for, run_records
    config = load_config(args.config, args.overrides)
    policy = load_policy_file(config.policy)
    records = run_records(config.data)
    classifier = risk_classifier_for(config, policy, records)
    prompts = args.prompt + (_read_prompts(args.file) if args.file else [])
    if prompts:
        for prompt, (category, confidence) in zip(prompts, classifier.predict(prompts)):
            print(f"{category}\t{confidence:.2f}\t{prompt}")
        return 0
    out = Path(args.out) if args.out else RunLayout(config.run_dir).data_dir
    report_classifier(classifier, records, out / "classifier_report.json", holdout=config.data.holdout_sources)
    print(f"wrote {out / 'classifier_report.json'}")
    return 0
