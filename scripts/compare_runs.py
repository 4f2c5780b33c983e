"""Compare two run directories file by file: byte-identical, equal up to timing fields, or different.

    python scripts/compare_runs.py runs/before runs/after

Checks every JSON/JSONL file and model weight (trainer checkpoints left out). Timing fields
(seconds, latencies, throughput, memory) are ignored, and metric names renamed since the older run
(`benign_answer` → `benign_answered`, `mean_reply_tokens`/`mean_total_tokens` → `mean_tokens`) are
read under their current names. Used to show that a refactor leaves a run's outputs unchanged.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from erpo.metrics import with_current_names

TIMING = {"latency_s", "amortised_s", "seconds", "train_seconds", "tokens_per_s", "latency_s_per_prompt",
          "peak_rss_gib", "rss_increase_gib"}
SUFFIXES = (".jsonl", ".json", ".safetensors")


def normalised(value):
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in with_current_names(value).items() if k not in TIMING}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def load(path: Path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [normalised(json.loads(line)) for line in text.splitlines() if line.strip()]
    return normalised(json.loads(text))


def compare(before: Path, after: Path) -> tuple[int, int, list[str]]:
    identical, up_to_timing, differ = 0, 0, []
    for old in sorted(p for p in before.rglob("*") if p.is_file() and p.suffix in SUFFIXES):
        rel = old.relative_to(before)
        new = after / rel
        if "checkpoints" in rel.parts:
            continue
        if not new.exists():
            differ.append(f"missing in {after}: {rel}")
        elif hashlib.sha256(old.read_bytes()).digest() == hashlib.sha256(new.read_bytes()).digest():
            identical += 1
        elif old.suffix != ".safetensors" and load(old) == load(new):
            up_to_timing += 1
        else:
            differ.append(f"differs: {rel}")
    return identical, up_to_timing, differ


def main() -> int:
    before, after = Path(sys.argv[1]), Path(sys.argv[2])
    identical, up_to_timing, differ = compare(before, after)
    print(f"{identical} files byte-identical, {up_to_timing} equal up to timing fields and renamed metric names, "
          f"{len(differ)} differ")
    print("\n".join(differ))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
