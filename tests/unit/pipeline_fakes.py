"""Stand-in stage functions for pipeline tests: deterministic outputs, a call log, a slow stage."""

from __future__ import annotations

import os
import time
from pathlib import Path

from erpo.artifacts import write_text
from erpo.pipeline import Stage


def _log(run_dir: Path, name: str) -> None:
    with open(run_dir / "calls.log", "a") as fh:
        fh.write(name + "\n")


def data(config, run_dir):
    _log(run_dir, "data")
    write_text(run_dir / "01_data/sft.jsonl", f'{{"seed": {config.data.seed}}}\n')


def sft(config, run_dir):
    _log(run_dir, "sft")
    if os.environ.get("FAKE_SLOW_SFT"):
        (run_dir / "sft.started").write_text("x")
        time.sleep(60)   # the test kills the process here
    write_text(run_dir / "02_sft/model/weights.txt", f"lr={config.sft.learning_rate}\n")


def dpo(config, run_dir):
    _log(run_dir, "dpo")
    src = (run_dir / "02_sft/model/weights.txt").read_text()
    write_text(run_dir / "03_dpo/model/weights.txt", src + f"beta={config.dpo.beta}\n")


def report(config, run_dir):
    _log(run_dir, "report")
    write_text(run_dir / "report.md", (run_dir / "03_dpo/model/weights.txt").read_text())


FAKE_STAGES = (
    Stage("data", data, ("data",), lambda lay: (lay.sft_data,)),
    Stage("sft", sft, ("sft",), lambda lay: (lay.sft_model,), reads=("data",)),
    Stage("dpo", dpo, ("dpo",), lambda lay: (lay.dpo_model,), reads=("sft",)),
    Stage("report", report, (), lambda lay: (lay.report_md,), reads=("dpo",)),
)
