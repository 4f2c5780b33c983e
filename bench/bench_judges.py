"""Judge throughput: replies judged per second by each checked judge, vs the pattern baseline.

Baseline, measured in the same process: `refusal_pattern` (one regex on the answer's opening).
Replies: the dev part of the shipped human labels plus PyRIT's refusal labels (never the test
part), repeated to `--replies`. Each judge is called once on a few replies first, so loading or
fitting its model is not timed; then it judges all replies in one call, `--repeats` times, and
the best time counts. Prints replies/s and the ratio to the baseline; writes bench/results/judges.json.

    python bench/bench_judges.py [--replies 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import itertools
import time

from bench_results import write_results

JUDGES = ["refusal_pattern", "refusal", "usefulness", "harm"]
BASELINE = "refusal_pattern"


def replies(n: int) -> list:
    from erpo.judges.human_labels import fitting_rows
    from erpo.judges.validation import judge_input
    rows = fitting_rows()
    return [judge_input(r) for r in itertools.islice(itertools.cycle(rows), n)]


def replies_per_s(judge, inputs: list, repeats: int) -> float:
    judge(inputs[:8])   # load or fit the model outside the timing
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = judge(inputs)
        best = min(best, time.perf_counter() - start)
        assert len(out) == len(inputs)
    return len(inputs) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replies", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from erpo.judges import get_judge
    inputs = replies(args.replies)
    rates = {name: replies_per_s(get_judge(name), inputs, args.repeats) for name in JUDGES}
    results = {"replies": len(inputs), "repeats": args.repeats, "baseline": BASELINE, "judges": {}}
    print(f"{'judge':<16} {'replies/s':>10} {'vs ' + BASELINE:>20}")
    for name, rate in rates.items():
        ratio = rate / rates[BASELINE]
        results["judges"][name] = {"replies_per_s": round(rate, 1), "ratio_to_baseline": round(ratio, 4)}
        print(f"{name:<16} {rate:>10.1f} {ratio:>19.3f}x")
    print(f"results: {write_results('judges', results)}")


if __name__ == "__main__":
    main()
