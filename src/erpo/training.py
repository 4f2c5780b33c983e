"""What every training stage shares: loading a trainable policy and finding a checkpoint to resume.

The stages themselves (SFT, DPO, stage-3 rounds) go through TRL's trainers; this module only owns
the two decisions they must make the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Files the HF Trainer writes into every checkpoint; `trainer_state.json` comes after the weights
# and the optimizer, so a folder holding all of them was written to the end.
_CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def load_trainable_policy(name: str | Path, dtype: str = "auto") -> tuple[Any, Any]:
    """The policy in fp32 master weights; bf16 compute comes from autocast in the Trainer,
    so small updates are not rounded away."""
    from erpo.models import load_policy
    model, tokenizer = load_policy(str(name), dtype="fp32" if dtype in ("auto", "bf16") else dtype)
    model.train()
    return model, tokenizer


def warmup_steps(total_steps: int, fraction: float) -> int:
    """Linear warm-up length: `fraction` of the run, rounded down.

    Why rounded down rather than at least one step: the first warm-up step trains at learning rate
    0, so a short run (a stage-3 round with a handful of pairs is often a single step) would
    otherwise change nothing at all.
    """
    return int(fraction * total_steps)


def last_checkpoint(checkpoint_dir: str | Path) -> str | None:
    """The newest *complete* `checkpoint-N` folder, or None.

    The Trainer writes a checkpoint file by file, so a run killed while saving leaves a partial
    folder behind; resuming from it would crash. Partial folders are skipped (and left for the
    Trainer's rotation to delete).
    """
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return None
    complete = [p for p in checkpoint_dir.glob("checkpoint-*")
                if p.name.split("-")[-1].isdigit() and all((p / f).exists() for f in _CHECKPOINT_FILES)
                and any(p.glob("*.safetensors"))]
    if not complete:
        return None
    return str(max(complete, key=lambda p: int(p.name.split("-")[-1])))
