"""Per-reply verdicts of an evaluated model, kept small enough for the repository, and paired
comparisons between two such files.

    python scripts/verdicts.py export RUN_DIR/eval LABEL docs/experiments/v20/LABEL.jsonl.gz
    python scripts/verdicts.py compare ARM.jsonl.gz REFERENCE.jsonl.gz

A model's eval folder (completions and judgments, megabytes per checkpoint) lives with its run
directory and is lost with it; a lever experiment needs only each prompt's verdicts to pair a later
arm with a reference it can no longer re-score. `export` writes one row per reply: suite, attack,
reply id, prompt and the per-reply values whose means are the headline rates (`erpo.metrics`).
`compare` prints, for every headline rate of `erpo.generalization` both files have, each rate with
its 95% bootstrap CI and the paired difference (ARM − REFERENCE) over the prompts both scored.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from erpo.artifacts import atomic_path
from erpo.config import load_config
from erpo.generalization import HEADLINES
from erpo.metrics import RATE_NAMES, estimate, folder_values, paired_difference, trained_attacks

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "smollm2-cpu.yaml"


def export(eval_root: Path, label: str, out: Path) -> int:
    """Write LABEL's verdicts under `eval_root` to `out` (gzip JSONL, atomically); the row count."""
    folders = sorted((eval_root / label).glob("*/*/completions.jsonl"))
    if not folders:
        sys.exit(f"error: no evaluated suites under {eval_root / label}")
    rows = []
    for path in folders:
        prompts = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            reply = json.loads(line)
            prompts[reply["id"]] = reply.get("attacked_prompt") or reply.get("prompt")
        values = folder_values(path.parent)
        for reply_id, prompt in prompts.items():
            row = {"suite": path.parent.parent.name, "attack": path.parent.name, "id": reply_id, "prompt": prompt}
            row.update({m: values[m][reply_id] for m in RATE_NAMES if reply_id in values.get(m, {})})
            rows.append(row)
    with atomic_path(out) as tmp, gzip.open(tmp, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return len(rows)


def read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def headline_values(rows: list[dict], trained: set[str]) -> dict[tuple[str, str], dict[str, float]]:
    """{(headline name, distribution): {suite/attack/id: value}} over the rows each headline selects."""
    found = {}
    for h in HEADLINES:
        values = {f"{r['suite']}/{r['attack']}/{r['id']}": float(r[h.metric]) for r in rows
                  if h.metric in r and r[h.metric] is not None and h.selects(r["suite"], r["attack"], trained)}
        if values:
            found[h.name, h.distribution] = values
    return found


def _rate(values: dict[str, float]) -> str:
    e = estimate(list(values.values()))
    return f"{100 * e['value']:.1f}% [{100 * e['ci_low']:.1f}, {100 * e['ci_high']:.1f}] (n={len(values)})"


def compare(arm: Path, reference: Path, trained: set[str]) -> list[str]:
    """Markdown rows: headline, ID/OOD, arm's rate, reference's rate, arm − reference (paired)."""
    a, b = headline_values(read(arm), trained), headline_values(read(reference), trained)
    names = [p.name.removesuffix(".gz").removesuffix(".jsonl") for p in (arm, reference)]
    lines = [f"| metric | ID/OOD | {names[0]} | {names[1]} | difference, paired |", "|---|---|---|---|---|"]
    for key in [k for k in a if k in b]:
        d = paired_difference(a[key], b[key])
        star = " *" if d and d["significant"] else ""
        diff = f"{100 * d['diff']:+.1f} [{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}]{star} (n={d['n']})"
        lines.append(f"| {key[0]} | {key[1]} | {_rate(a[key])} | {_rate(b[key])} | {diff} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write a model's per-reply verdicts")
    ex.add_argument("eval_root", type=Path)
    ex.add_argument("label")
    ex.add_argument("out", type=Path)
    cmp = sub.add_parser("compare", help="paired differences of two verdict files")
    cmp.add_argument("arm", type=Path)
    cmp.add_argument("reference", type=Path)
    cmp.add_argument("--config", type=Path, default=RECIPE, help="run config whose trained attacks split the "
                     "jailbreak rows (default: the recipe)")
    args = parser.parse_args(argv)
    if args.command == "export":
        print(f"{export(args.eval_root, args.label, args.out)} replies -> {args.out}")
    else:
        print("\n".join(compare(args.arm, args.reference, trained_attacks(load_config(args.config)))))


if __name__ == "__main__":
    main()
