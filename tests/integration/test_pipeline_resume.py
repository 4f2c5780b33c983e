"""`erpo run` end to end on a tiny model: SIGKILL mid-stage, restart, finished stages are skipped."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from erpo.training import last_checkpoint

pytestmark = pytest.mark.integration

CONFIG = """
name: tiny
output_dir: {out}
model: {model}
data: {{train_harmful: 8, train_benign: 8, eval_size: 4}}
build_data: {{benign_answer_tokens: 12}}
sft: {{epochs: 2, batch_size: 1, max_length: 96, save_steps: 1}}   # many short steps: the kill lands mid-stage
dpo: {{max_prompts: 6, candidates: {{samples: 2}}, max_new_tokens: 12, batch_size: 4, max_length: 128}}
iterate: {{rounds: 1, max_prompts: 6, candidates: {{samples: 2}}, max_new_tokens: 12, batch_size: 4, max_length: 128,
          guard: {{prompts: 3, max_new_tokens: 12}}}}
eval: {{limit: 3, max_new_tokens: 12, attacks: [prefix_injection]}}
"""


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _erpo(config: Path) -> list[str]:
    return [sys.executable, "-m", "erpo.cli", "run", str(config)]


def test_killed_run_resumes_and_skips_finished_stages(tmp_path, tiny_model_dir):
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG.format(out=tmp_path / "runs", model=tiny_model_dir))
    run_dir = tmp_path / "runs" / "tiny"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_erpo(config), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + 600
    for line in proc.stdout:       # kill as soon as the SFT stage has a complete checkpoint
        assert time.time() < deadline
        if line.startswith("[run ] sft"):
            # a checkpoint folder appears before its files are written; a partial one is (rightly)
            # not resumed from, so wait for the first complete one
            while last_checkpoint(run_dir / "02_sft" / "checkpoints") is None and proc.poll() is None:
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    manifest = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert "data" in manifest and "sft" not in manifest
    data_before = _digest(run_dir / "01_data")

    done = subprocess.run(_erpo(config), capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "[skip] data" in done.stdout and "[run ] sft" in done.stdout
    assert "resuming SFT from" in done.stdout        # the trainer picked up its checkpoint
    assert _digest(run_dir / "01_data") == data_before
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert {"data", "sft", "dpo", "iterate", "eval", "report"} <= set(stages)
    assert (run_dir / "report.html").exists()

    again = subprocess.run(_erpo(config), capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0
    assert [line for line in again.stdout.splitlines() if line.startswith("[run ]")] == []
