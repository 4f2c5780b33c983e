"""Where every benchmark writes its figures: `bench/results/<name>.json` (imported by the bench scripts)."""

from __future__ import annotations

import json
from pathlib import Path


def write_results(name: str, results: dict) -> Path:
    out = Path(__file__).parent / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return out
