"""The fixed ERPO stage order, with skip-if-finished and resume.

    data → sft → pairs → dpo → iterate → eval → report

The pipeline is the one writer of `manifest.json`, and `run_stage` its one way to run a stage: `erpo
run` runs every stage through it, the stage verbs (`erpo build-data`, `sft`, `pairs`, `dpo`,
`iterate`) their own, so a stage one of them finished is skipped by the other.

Each finished stage is recorded in `manifest.json` with a *config hash* (its own config sections
chained with the hashes of every stage before it, so changing a stage's config re-runs it and
everything after it, never what came before) and an *inputs hash* (the output hashes of the stages
it reads). `erpo run` skips a stage whose record matches; an interrupted stage has no record and
is run again, resuming from its own checkpoints where it has them (SFT/DPO trainer checkpoints,
finished stage-3 rounds, saved eval completions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from erpo.artifacts import Manifest, hash_obj, hash_path, read_json, write_text
from erpo.config import RunConfig, dump_config
from erpo.errors import ErpoError
from erpo.layout import RunLayout
from erpo.models import compute_label
from erpo.resources import timed_with_memory
from erpo.stages.build_data import build_stage1_data
from erpo.stages.dpo import run_dpo
from erpo.stages.evaluate import evaluate_run
from erpo.stages.iterate import run_iterate
from erpo.stages.pairs import pair_settings, run_pairs
from erpo.stages.report import report_stage
from erpo.stages.sft import run_sft

Log = Callable[[str], None]


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[..., Any]                      # (config, run_dir, **injected) → the stage's result
    sections: tuple[str, ...]                    # config sections that define the stage's result
    outputs: Callable[[RunLayout], tuple[Path, ...]]   # hashed as its result
    reads: tuple[str, ...] = field(default=())   # stages whose outputs it consumes
    stats: Callable[[RunLayout], Path] | None = None   # a JSON file of its numbers, copied into its record
    # more of what decides the result than whole sections: (config, **injected) → JSON-able
    settings: Callable[..., Any] | None = None


STAGES: tuple[Stage, ...] = (
    Stage("data", build_stage1_data, ("data", "build_data"), lambda lay: (lay.sft_data, lay.negatives),
          stats=lambda lay: lay.data_stats),
    Stage("sft", run_sft, ("sft",), lambda lay: (lay.sft_model,), reads=("data",),
          stats=lambda lay: lay.sft_train_stats),
    # the pair-building part of the dpo section only: a new learning rate does not sample again
    Stage("pairs", run_pairs, (), lambda lay: (lay.dpo.pairs,), reads=("data", "sft"),
          stats=lambda lay: lay.dpo.pairs_stats, settings=pair_settings),
    Stage("dpo", run_dpo, ("dpo",), lambda lay: (lay.dpo_model,), reads=("sft", "pairs"),
          stats=lambda lay: lay.dpo.train_stats),
    Stage("iterate", run_iterate, ("iterate",), lambda lay: (lay.final_model,), reads=("data", "dpo")),
    Stage("eval", evaluate_run, ("eval",), lambda lay: (lay.eval_dir,), reads=("sft", "dpo", "iterate")),
    Stage("report", report_stage, (), lambda lay: (lay.report_md,), reads=("eval",)),
)
STAGE_NAMES = [s.name for s in STAGES]
GLOBAL_SECTIONS = ("model", "policy", "dtype", "seed")


def stage_config_hashes(config: RunConfig, **injected: Any) -> dict[str, str]:
    """Chained hash per stage: own sections (and settings) + global settings + the previous stage's hash."""
    dumped = config.model_dump()
    previous = hash_obj({k: dumped[k] for k in GLOBAL_SECTIONS})
    hashes = {}
    for stage in STAGES:
        own: list[Any] = [previous, stage.name, {k: dumped[k] for k in stage.sections}]
        if stage.settings is not None:
            own.append(stage.settings(config, **injected))
        previous = hash_obj(own)
        hashes[stage.name] = previous
    return hashes


def run_pipeline(config: RunConfig, *, force: list[str] | None = None, stop_after: str | None = None,
                 log: Log = print) -> Path:
    """Run every unfinished stage in order; return the run directory."""
    layout = RunLayout(config.run_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    write_text(layout.config_file, dump_config(config))
    _forget_forced(Manifest(layout.root), force or [])
    config_hashes = stage_config_hashes(config)
    for stage in STAGES:
        _run_if_unfinished(config, stage, config_hashes[stage.name], log, {})
        if stop_after == stage.name:
            break
    return layout.root


def run_stage(config: RunConfig, name: str, *, force: bool = False, log: Log = print, **injected: Any) -> dict:
    """Run one stage unless it finished earlier with the same config and inputs (`force`: run it
    anyway); returns its manifest record. The stage verbs run their stage through this, as
    `run_pipeline` does, so either one skips what the other finished. `injected` goes to the stage
    function (tests pass scripted backends and judges) and to its `settings`."""
    stage = _stage(name)
    RunLayout(config.run_dir).root.mkdir(parents=True, exist_ok=True)
    if force:
        Manifest(config.run_dir).forget(name)
    config_hash = stage_config_hashes(config, **injected)[name]
    return _run_if_unfinished(config, stage, config_hash, log, injected)


def _run_if_unfinished(config: RunConfig, stage: Stage, config_hash: str, log: Log, injected: dict) -> dict:
    layout = RunLayout(config.run_dir)
    manifest = Manifest(layout.root)
    inputs_hash = hash_obj([manifest.data["stages"].get(r, {}).get("outputs_hash") for r in stage.reads])
    if manifest.is_done(stage.name, config_hash, inputs_hash) and all(p.exists() for p in stage.outputs(layout)):
        log(f"[skip] {stage.name}: finished earlier with the same config and inputs")
        return manifest.data["stages"][stage.name]
    log(f"[run ] {stage.name}")
    manifest.forget(stage.name)
    _, usage = timed_with_memory(stage.run, config, layout.root, **injected)
    manifest.record(stage.name, config_hash, inputs_hash, order=[s.name for s in STAGES],
                    outputs_hash=_outputs_hash(layout, stage), compute=compute_label(config.dtype),
                    **_stage_stats(layout, stage), **usage)
    return manifest.data["stages"][stage.name]


def _stage(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise ErpoError(f"unknown stage {name!r}; stages: {', '.join(s.name for s in STAGES)}")


def _forget_forced(manifest: Manifest, force: list[str]) -> None:
    """`--force STAGE` re-runs that stage (and, through the chained hashes, those after it)."""
    names = [s.name for s in STAGES]
    for name in force:
        _stage(name)
        for later in names[names.index(name):]:
            manifest.forget(later)


def _outputs_hash(layout: RunLayout, stage: Stage) -> str:
    outputs = stage.outputs(layout)
    missing = [layout.relative(o) for o in outputs if not o.exists()]
    if missing:
        raise ErpoError(f"stage {stage.name} finished without writing {', '.join(missing)}")
    return hash_obj([hash_path(o) for o in outputs])


def _stage_stats(layout: RunLayout, stage: Stage) -> dict:
    """The scalar numbers of the stats file the stage wrote (counts, steps, losses), for its record."""
    path = stage.stats(layout) if stage.stats else None
    if path is None or not path.exists():
        return {}
    return {k: v for k, v in read_json(path).items() if isinstance(v, (int, float, str, type(None)))}
