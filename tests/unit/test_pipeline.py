"""Pipeline ordering, skipping, config-change re-runs, --force and resume after SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pipeline_fakes
import pytest

from erpo import pipeline
from erpo.config import load_config


@pytest.fixture
def fake_stages(monkeypatch):
    monkeypatch.setattr(pipeline, "STAGES", pipeline_fakes.FAKE_STAGES)
    monkeypatch.setattr(pipeline, "STAGE_NAMES", [s.name for s in pipeline_fakes.FAKE_STAGES])


def _calls(run_dir: Path) -> list[str]:
    return (run_dir / "calls.log").read_text().split()


def _config(tmp_path, *overrides):
    return load_config(None, [f"output_dir={tmp_path}", "name=r", *overrides])


def test_second_run_skips_everything(tmp_path, fake_stages):
    run_dir = pipeline.run_pipeline(_config(tmp_path), log=lambda m: None)
    assert _calls(run_dir) == ["data", "sft", "dpo", "report"]
    pipeline.run_pipeline(_config(tmp_path), log=lambda m: None)
    assert _calls(run_dir) == ["data", "sft", "dpo", "report"]


def test_config_change_reruns_that_stage_and_later_only(tmp_path, fake_stages):
    run_dir = pipeline.run_pipeline(_config(tmp_path), log=lambda m: None)
    pipeline.run_pipeline(_config(tmp_path, "sft.learning_rate=0.5"), log=lambda m: None)
    assert _calls(run_dir)[4:] == ["sft", "dpo", "report"]
    assert "lr=0.5" in (run_dir / "report.md").read_text()


def test_force_reruns_named_stage_and_later(tmp_path, fake_stages):
    run_dir = pipeline.run_pipeline(_config(tmp_path), log=lambda m: None)
    pipeline.run_pipeline(_config(tmp_path), force=["dpo"], log=lambda m: None)
    assert _calls(run_dir)[4:] == ["dpo", "report"]


def test_a_stage_run_alone_and_the_pipeline_skip_each_others_finished_work(tmp_path, fake_stages):
    config = _config(tmp_path)
    pipeline.run_stage(config, "data", log=lambda m: None)          # `erpo build-data`
    run_dir = pipeline.run_pipeline(config, log=lambda m: None)      # `erpo run`: data is not built again
    assert _calls(run_dir) == ["data", "sft", "dpo", "report"]
    record = pipeline.run_stage(config, "sft", log=lambda m: None)   # `erpo sft` after `erpo run`: skipped
    assert _calls(run_dir) == ["data", "sft", "dpo", "report"] and record["outputs_hash"]
    pipeline.run_stage(config, "sft", force=True, log=lambda m: None)
    assert _calls(run_dir)[-1] == "sft"


def test_the_manifest_lists_stages_in_pipeline_order_whichever_ran_last(tmp_path, fake_stages):
    from erpo.artifacts import Manifest
    config = _config(tmp_path)
    run_dir = pipeline.run_pipeline(config, log=lambda m: None)
    pipeline.run_stage(config, "sft", force=True, log=lambda m: None)
    assert list(Manifest(run_dir).data["stages"]) == ["data", "sft", "dpo", "report"]


def test_unknown_forced_stage(tmp_path, fake_stages):
    with pytest.raises(Exception, match="unknown stage 'dop'"):
        pipeline.run_pipeline(_config(tmp_path), force=["dop"], log=lambda m: None)


_SCRIPT = """
import sys
import pipeline_fakes
from erpo import pipeline
from erpo.config import load_config
pipeline.STAGES = pipeline_fakes.FAKE_STAGES
pipeline.run_pipeline(load_config(None, ["output_dir=" + sys.argv[1], "name=r"]))
"""


def test_sigkill_mid_stage_then_resume(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "FAKE_SLOW_SFT": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, str(tmp_path)], env=env)
    run_dir = tmp_path / "r"
    deadline = time.time() + 60
    while not (run_dir / "sft.started").exists():
        assert time.time() < deadline and proc.poll() is None, "stage never started"
        time.sleep(0.1)
    data_before = (run_dir / "01_data/sft.jsonl").read_bytes()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "02_sft/model").exists()   # nothing half-written

    env.pop("FAKE_SLOW_SFT")
    subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], env=env, check=True, capture_output=True)
    assert _calls(run_dir) == ["data", "sft", "sft", "dpo", "report"]   # data was not run again
    assert (run_dir / "01_data/sft.jsonl").read_bytes() == data_before
    assert (run_dir / "report.md").read_text() == "lr=0.0001\nbeta=0.1\n"


def test_every_run_stage_records_its_time_peak_memory_and_precision(tmp_path, fake_stages, monkeypatch):
    from erpo import models
    from erpo.artifacts import Manifest
    monkeypatch.setattr(models, "cpu_supports_bf16", lambda: False)   # a CPU without native bf16
    monkeypatch.setattr(models, "default_device", lambda: "cpu")
    run_dir = pipeline.run_pipeline(_config(tmp_path), log=lambda m: None)
    for name in ("data", "sft", "dpo", "report"):
        record = Manifest(run_dir).data["stages"][name]
        assert record["seconds"] >= 0 and record["peak_rss_gib"] > 0 and record["rss_increase_gib"] >= 0
        assert record["compute"].startswith("cpu fp32, torch ")   # `dtype: auto` as resolved there


def test_auto_precision_resolves_per_machine(monkeypatch):
    from erpo import models
    monkeypatch.setattr(models, "default_device", lambda: "cpu")
    monkeypatch.setattr(models, "cpu_supports_bf16", lambda: True)
    assert models.dtype_name("auto") == "bf16" and models.dtype_name("fp32") == "fp32"
    monkeypatch.setattr(models, "cpu_supports_bf16", lambda: False)
    assert models.dtype_name("auto") == "fp32" and models.dtype_name("bf16") == "bf16"


def test_peak_memory_sees_an_allocation_that_is_freed_before_the_stage_ends(monkeypatch):
    """The sampler, not the reading at exit, sees the peak. The process RSS is scripted: a real
    allocation's RSS depends on what the allocator and a busy machine's kernel do with the pages."""
    from erpo import resources
    gib = 1024 ** 3
    rss = {"now": 2 * gib}
    monkeypatch.setattr(resources, "_rss", lambda: rss["now"])

    def stage():
        rss["now"] = 3 * gib          # 1 GiB allocated ...
        time.sleep(1.0)               # ... for 20 sampling intervals, so a busy CPU still gets one in
        rss["now"] = 2 * gib          # ... and freed before the stage ends

    with resources.PeakMemory() as peak:
        stage()
    assert peak.as_record() == {"peak_rss_gib": 3.0, "rss_increase_gib": 1.0}
