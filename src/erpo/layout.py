"""Where every file of a run directory lives: the one place that spells the layout.

    runs/<name>/config.resolved.yaml  manifest.json  report.md  report.html  report_files/
      01_data/{prompts,classified,sft,negatives}.jsonl  classifier_report.json  stats.json
      02_sft/checkpoints/  02_sft/model/
      03_dpo/{candidates,judgments,pairs}.jsonl  pairs.stats.json  ref_logps.pt  checkpoints/  model/
      04_iterate/round_NN/{samples,judgments,pairs,guard_replies}.jsonl  round.json  model/ (model.rolled_back/)
      04_iterate/{metrics,guard}.jsonl  final/  final.json
      eval/<label>/<suite>/<attack>/{completions.jsonl, judgments.<judge>.jsonl, metrics.json}

Stages, commands and the report ask a `RunLayout` for paths instead of joining names themselves,
so renaming a folder is a change here only. `PreferenceDir` is the part shared by 03_dpo/ and each
stage-3 round: the folder where pairs are built and one DPO run trains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROUND_PATTERN = "round_*"


@dataclass(frozen=True)
class PreferenceDir:
    """Pairs and one DPO run: candidates (samples in stage 3), judgments, pairs, the cached reference
    log-probs, trainer checkpoints and the trained model."""

    path: Path
    candidates_name: str = "candidates.jsonl"

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def candidates(self) -> Path:
        return self.path / self.candidates_name

    @property
    def judgments(self) -> Path:
        return self.path / "judgments.jsonl"

    @property
    def pairs(self) -> Path:
        return self.path / "pairs.jsonl"

    @property
    def pairs_stats(self) -> Path:
        return self.path / "pairs.stats.json"

    @property
    def ref_logps(self) -> Path:
        return self.path / "ref_logps.pt"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def train_stats(self) -> Path:
        return self.path / "train_stats.json"


@dataclass(frozen=True)
class RoundDir(PreferenceDir):
    """One stage-3 round: a `PreferenceDir` whose candidates are the round's samples, plus the
    round record, the guard's replies and the model a rollback moved aside."""

    candidates_name: str = "samples.jsonl"

    @property
    def samples(self) -> Path:
        return self.candidates

    @property
    def record(self) -> Path:
        return self.path / "round.json"

    @property
    def guard_replies(self) -> Path:
        return self.path / "guard_replies.jsonl"

    @property
    def rolled_back(self) -> Path:
        return self.path / "model.rolled_back"


@dataclass(frozen=True)
class RunLayout:
    """Every path of the run directory `root`; builds nothing on disk."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # --- the run --------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.root / "config.resolved.yaml"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def report_md(self) -> Path:
        return self.root / "report.md"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def report_files(self) -> Path:
        return self.root / "report_files"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    # --- stage 1 data ---------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "01_data"

    @property
    def prompts(self) -> Path:
        return self.data_dir / "prompts.jsonl"

    @property
    def classified(self) -> Path:
        return self.data_dir / "classified.jsonl"

    @property
    def sft_data(self) -> Path:
        return self.data_dir / "sft.jsonl"

    @property
    def negatives(self) -> Path:
        return self.data_dir / "negatives.jsonl"

    @property
    def classifier_report(self) -> Path:
        return self.data_dir / "classifier_report.json"

    @property
    def data_stats(self) -> Path:
        return self.data_dir / "stats.json"

    # --- stage 1 training -----------------------------------------------------------------------
    @property
    def sft_dir(self) -> Path:
        return self.root / "02_sft"

    @property
    def sft_checkpoints(self) -> Path:
        return self.sft_dir / "checkpoints"

    @property
    def sft_model(self) -> Path:
        return self.sft_dir / "model"

    @property
    def sft_train_stats(self) -> Path:
        return self.sft_dir / "train_stats.json"

    # --- stage 2 --------------------------------------------------------------------------------
    @property
    def dpo(self) -> PreferenceDir:
        return PreferenceDir(self.root / "03_dpo")

    @property
    def dpo_model(self) -> Path:
        return self.dpo.model

    # --- stage 3 --------------------------------------------------------------------------------
    @property
    def iterate_dir(self) -> Path:
        return self.root / "04_iterate"

    def round(self, t: int) -> RoundDir:
        return RoundDir(self.iterate_dir / f"round_{t:02d}")

    def rounds(self) -> list[RoundDir]:
        """The round folders on disk, in round order (round_00, the stage-2 baseline, included)."""
        return [RoundDir(p) for p in sorted(self.iterate_dir.glob(ROUND_PATTERN)) if p.is_dir()]

    @property
    def iterate_metrics(self) -> Path:
        return self.iterate_dir / "metrics.jsonl"

    @property
    def guard_log(self) -> Path:
        return self.iterate_dir / "guard.jsonl"

    @property
    def final_model(self) -> Path:
        return self.iterate_dir / "final"

    @property
    def final_record(self) -> Path:
        return self.iterate_dir / "final.json"

    # --- models by stage name -------------------------------------------------------------------
    def stage_model(self, stage: str) -> Path | None:
        """The model folder of `stage` (sft, dpo, final, iter_NN or round_NN), None for an unknown name."""
        match = re.fullmatch(r"(?:iter|round)_?(\d+)", stage)
        if match:
            return self.round(int(match.group(1))).model
        return {"sft": self.sft_model, "dpo": self.dpo_model, "final": self.final_model}.get(stage)

    def relative(self, path: Path) -> str:
        """`path` relative to the run directory, as the manifest names a stage's outputs."""
        return str(Path(path).relative_to(self.root))
