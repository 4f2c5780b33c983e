"""Run every benchmark in turn (each prints ratios against a baseline measured in the same run).

    python bench/run_all.py            # results land in bench/results/*.json
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHES = ["bench_generation.py", "bench_sft.py", "bench_dpo.py", "bench_serve.py", "bench_judges.py"]


def main() -> int:
    here = Path(__file__).parent
    failed = []
    for name in BENCHES:
        print(f"\n=== {name} ===", flush=True)
        if subprocess.run([sys.executable, str(here / name)]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
