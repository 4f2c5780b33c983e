"""Does the answer follow the thought's decision? Per suite and attack of one evaluated model.

    python scripts/decisions.py RUN_DIR/eval LABEL

For every reply under RUN_DIR/eval/LABEL/<suite>/<attack>/ it reads the thought's decision
(`erpo.reasoning.thoughts.thought_decision`: the reasoning module's own refusal or answering
phrasings, so it reads models trained on these thoughts) and the refusal judge's saved verdict on the
answer, and prints per folder how many replies decline in the thought yet answer, and how many
decide to help yet refuse. A reply whose thought is in neither phrasing counts as undecided.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from erpo.artifacts import read_jsonl
from erpo.judges.base import passes
from erpo.reasoning.format import split_reply
from erpo.reasoning.thoughts import thought_decision


def folder_counts(folder: Path) -> dict[str, int]:
    """n, thought declines / helps / undecided, and the two disagreements, for one eval folder."""
    # refused as the eval's rates count it (`erpo.metrics.per_reply_values`)
    refused_by_id = {j["id"]: passes(j["score"]) for j in read_jsonl(folder / "judgments.refusal.jsonl")}
    counts = dict.fromkeys(("n", "declines", "helps", "undecided", "declines_but_answers", "helps_but_refuses"), 0)
    for reply in read_jsonl(folder / "completions.jsonl"):
        if reply["id"] not in refused_by_id:
            continue
        decision, refused = thought_decision(split_reply(reply["completion"]).thought), refused_by_id[reply["id"]]
        counts["n"] += 1
        counts[{"decline": "declines", "help": "helps", None: "undecided"}[decision]] += 1
        counts["declines_but_answers"] += decision == "decline" and not refused
        counts["helps_but_refuses"] += decision == "help" and refused
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_root", type=Path)
    parser.add_argument("label")
    args = parser.parse_args(argv)
    folders = sorted((args.eval_root / args.label).glob("*/*/judgments.refusal.jsonl"))
    if not folders:
        sys.exit(f"error: no refusal judgments under {args.eval_root / args.label}")
    print("| suite | attack | n | thought declines | thought helps | undecided | declines, answer not refused "
          "| helps, answer refused |")
    print("|---|---|---|---|---|---|---|---|")
    for path in folders:
        c = folder_counts(path.parent)
        print(f"| {path.parent.parent.name} | {path.parent.name} | {c['n']} | {c['declines']} | {c['helps']} "
              f"| {c['undecided']} | {c['declines_but_answers']} | {c['helps_but_refuses']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
