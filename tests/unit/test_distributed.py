"""Training stages run under `accelerate launch` with two CPU processes (gloo), as DDP would on GPUs."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from erpo.artifacts import write_jsonl
from erpo.reasoning.format import format_reply


@pytest.mark.skipif(shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None,
                    reason="accelerate launcher not installed")
def test_sft_under_accelerate_launch_two_processes(tmp_path, tiny_model_dir):
    rows = [{"prompt": f"Question number {i}?", "completion": format_reply("[no rule applies] benign.", f"Answer {i}.")}
            for i in range(16)]
    write_jsonl(tmp_path / "runs" / "ddp" / "01_data" / "sft.jsonl", rows)
    config = tmp_path / "ddp.yaml"
    config.write_text(f"name: ddp\noutput_dir: {tmp_path / 'runs'}\nmodel: {tiny_model_dir}\n"
                      "sft: {epochs: 1, batch_size: 4, max_length: 64, save_steps: 1000}\n")
    launcher = Path(sys.executable).parent / "accelerate"
    proc = subprocess.run([str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "erpo.cli", "sft", str(config)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # 16 examples, batch 4 per process, 2 processes → 2 optimizer steps (4 if a single process ran)
    record = json.loads((tmp_path / "runs" / "ddp" / "manifest.json").read_text())["stages"]["sft"]
    assert record["steps"] == 2
    assert (tmp_path / "runs" / "ddp" / "02_sft" / "model" / "model.safetensors").exists()
