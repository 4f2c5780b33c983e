"""The fixed ERPO stage order, with skip-if-finished and resume.

    data → sft → dpo → iterate → eval → report

Each finished stage is recorded in `manifest.json` with a *config hash* (its own config sections
chained with the hashes of every stage before it, so changing a stage's config re-runs it and
everything after it, never what came before) and an *inputs hash* (the output hashes of the stages
it reads). `erpo run` skips a stage whose record matches; an interrupted stage has no record and
is run again, resuming from its own checkpoints where it has them (SFT/DPO trainer checkpoints,
finished stage-3 rounds, saved eval completions).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from erpo.artifacts import Manifest, hash_obj, hash_path, write_text
from erpo.config import RunConfig, dump_config
from erpo.errors import ErpoError
from erpo.resources import timed_with_memory


@dataclass(frozen=True)
class Stage:
    name: str
    target: str                         # "module:function" taking (config, run_dir)
    sections: tuple[str, ...]           # config sections that define the stage's result
    outputs: tuple[str, ...]            # paths (relative to the run dir) hashed as its result
    reads: tuple[str, ...] = field(default=())   # stages whose outputs it consumes

    def function(self) -> Callable:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


STAGES: tuple[Stage, ...] = (
    Stage("data", "erpo.stages.build_data:build_stage1_data", ("data", "build_data"),
          ("01_data/sft.jsonl", "01_data/negatives.jsonl")),
    Stage("sft", "erpo.stages.sft:run_sft", ("sft",), ("02_sft/model",), reads=("data",)),
    Stage("dpo", "erpo.stages.dpo:run_dpo", ("dpo",), ("03_dpo/model",), reads=("data", "sft")),
    Stage("iterate", "erpo.stages.iterate:run_iterate", ("iterate",), ("04_iterate/final",), reads=("data", "dpo")),
    Stage("eval", "erpo.pipeline:evaluate_all_checkpoints", ("eval",), ("eval",), reads=("sft", "dpo", "iterate")),
    Stage("report", "erpo.pipeline:write_run_report", (), ("report.md",), reads=("eval",)),
)
STAGE_NAMES = [s.name for s in STAGES]
GLOBAL_SECTIONS = ("model", "policy", "dtype", "seed")


def stage_config_hashes(config: RunConfig) -> dict[str, str]:
    """Chained hash per stage: own sections + global settings + the previous stage's hash."""
    dumped = config.model_dump()
    previous = hash_obj({k: dumped[k] for k in GLOBAL_SECTIONS})
    hashes = {}
    for stage in STAGES:
        previous = hash_obj([previous, stage.name, {k: dumped[k] for k in stage.sections}])
        hashes[stage.name] = previous
    return hashes


def run_pipeline(config: RunConfig, *, force: list[str] | None = None, stop_after: str | None = None,
                 log: Callable[[str], None] = print) -> Path:
    """Run every unfinished stage in order; return the run directory."""
    run_dir = config.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.resolved.yaml", dump_config(config))
    manifest = Manifest(run_dir)
    _forget_forced(manifest, force or [])
    config_hashes = stage_config_hashes(config)
    for stage in STAGES:
        inputs_hash = hash_obj([manifest.data["stages"].get(r, {}).get("outputs_hash") for r in stage.reads])
        if manifest.is_done(stage.name, config_hashes[stage.name], inputs_hash):
            log(f"[skip] {stage.name}: finished earlier with the same config and inputs")
        else:
            log(f"[run ] {stage.name}")
            manifest.forget(stage.name)
            _, usage = timed_with_memory(stage.function(), config, run_dir)
            manifest.record(stage.name, config_hashes[stage.name], inputs_hash,
                            outputs_hash=_outputs_hash(run_dir, stage), **usage)
        if stop_after == stage.name:
            break
    return run_dir


def _forget_forced(manifest: Manifest, force: list[str]) -> None:
    """`--force STAGE` re-runs that stage (and, through the chained hashes, those after it)."""
    for name in force:
        if name not in STAGE_NAMES:
            raise ErpoError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")
        for later in STAGE_NAMES[STAGE_NAMES.index(name):]:
            manifest.forget(later)


def _outputs_hash(run_dir: Path, stage: Stage) -> str:
    missing = [o for o in stage.outputs if not (run_dir / o).exists()]
    if missing:
        raise ErpoError(f"stage {stage.name} finished without writing {', '.join(missing)}")
    return hash_obj([hash_path(run_dir / o) for o in stage.outputs])


def stage_usage(run_dir: Path) -> list[tuple[str, dict]]:
    """(stage, manifest record) for each pipeline stage that ran, in stage order; the records carry
    `seconds`, `peak_rss_gib` and `rss_increase_gib` (see `erpo.resources`)."""
    if not (Path(run_dir) / "manifest.json").exists():
        return []
    records = Manifest(run_dir).data["stages"]
    return [(name, records[name]) for name in STAGE_NAMES if "seconds" in records.get(name, {})]


def checkpoints(config: RunConfig, run_dir: Path) -> dict[str, str]:
    """Every model the run produced, in stage order, labelled for evaluation: base, sft, dpo, iter_NN."""
    models = {"base": config.model}
    for label, rel in (("sft", "02_sft/model"), ("dpo", "03_dpo/model")):
        if (run_dir / rel / "config.json").exists():
            models[label] = str(run_dir / rel)
    for round_dir in sorted((run_dir / "04_iterate").glob("round_*")):
        if (round_dir / "model" / "config.json").exists():
            models[f"iter_{round_dir.name.split('_')[-1]}"] = str(round_dir / "model")
    return models


def evaluate_all_checkpoints(config: RunConfig, run_dir: Path) -> None:
    from erpo.stages.evaluate import evaluate_model
    for label, model in checkpoints(config, run_dir).items():
        evaluate_model(model, config.eval.suites, run_dir / "eval", config.eval, label=label,
                       dtype=config.dtype, data_config=config.data, policy=config.policy)


def write_run_report(config: RunConfig, run_dir: Path) -> None:
    from erpo.stages.report import write_report
    write_report(run_dir)
