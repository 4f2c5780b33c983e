"""What every training stage shares: loading a trainable policy, the warm-up length, the LM head
off CUDA, and finding a checkpoint to resume.

The stages themselves (SFT, DPO, stage-3 rounds) go through TRL's trainers; this module only owns
the decisions they must make the same way.
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


def use_full_logits_off_cuda(trainer: Any) -> Any:
    """Serve TRL's fused-LM-head calls from the full logits unless training runs on CUDA.

    TRL's trainers patch the policy so that `model(..., fused_lm_head=True)` returns per-token
    log-probabilities computed over vocabulary tiles, which saves GPU memory. Off CUDA the tiles
    are recomputed in backward and their gradient GEMMs run in fp32, which on a CPU costs more
    than the whole bf16 forward pass (`bench/bench_sft.py`: 1.87× faster this way, same losses). The
    full (batch × length × vocabulary) logits fit in host memory at the sizes a CPU trains, so
    here the same outputs come from one bf16 projection and an fp32 log-softmax.
    """
    if trainer.args.device.type == "cuda":
        return trainer
    from peft import PeftModel
    model = trainer.model
    target = model.get_base_model() if isinstance(model, PeftModel) else model
    if not getattr(target.forward, "full_logits", False):   # once: DPO patches before its reference pass
        target.forward = _full_logits_forward(target.forward)
    return trainer


def _full_logits_forward(fused_forward: Any) -> Any:
    """`fused_forward` (TRL's patched forward), with `fused_lm_head=True` computed from full logits."""
    import functools

    import torch
    from trl.trainer.utils import FusedCausalLMOutput

    @functools.wraps(fused_forward)
    def forward(*args: Any, fused_lm_head: bool = False, labels: Any = None, shift_labels: Any = None,
                num_items_in_batch: Any = None, **kwargs: Any) -> Any:
        if not fused_lm_head:
            return fused_forward(*args, labels=labels, shift_labels=shift_labels,
                                 num_items_in_batch=num_items_in_batch, **kwargs)
        kwargs["use_cache"] = False
        outputs = fused_forward(*args, **kwargs)            # the model's own forward: logits, no loss
        logits = outputs.logits if shift_labels is not None else outputs.logits[:, :-1]
        labels = shift_labels if shift_labels is not None else labels[:, 1:]
        mask = labels != -100
        log_softmax = torch.log_softmax(logits.float(), dim=-1)
        log_probs = log_softmax.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
        metrics = _logit_metrics(log_softmax.detach(), logits.detach(), labels, mask, skip=not torch.is_grad_enabled())
        count = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(loss=-log_probs.sum() / count, log_probs=log_probs, label_mask=mask,
                                   aux_loss=getattr(outputs, "aux_loss", None), **metrics)

    forward.full_logits = True
    return forward


def _logit_metrics(log_softmax: Any, logits: Any, labels: Any, mask: Any, skip: bool = False) -> dict:
    """TRL's per-token metrics (entropy, log Σp², mean logit, top-1 hit), one sequence at a time so
    their vocabulary-sized temporaries never exceed one row's worth of memory.

    `skip` (forward passes without gradients: the reference log-probs, which only read
    `log_probs`) returns zeros instead; erpo's trainers never run an evaluation loop."""
    import torch
    if skip:
        zeros = torch.zeros_like(mask, dtype=torch.float32)
        return {"entropy": zeros, "log_sum_sq_probs": zeros, "mean_logits": zeros, "is_top1": mask & False}
    rows = []
    with torch.no_grad():
        for ls, lg, lab, m in zip(log_softmax, logits, labels, mask):
            rows.append((-(ls.exp() * ls).sum(-1) * m, torch.logsumexp(2 * ls, dim=-1) * m,
                         lg.float().mean(-1) * m, (lg.argmax(-1) == lab) & m))
    entropy, log_sum_sq_probs, mean_logits, is_top1 = (torch.stack(col) for col in zip(*rows))
    return {"entropy": entropy, "log_sum_sq_probs": log_sum_sq_probs, "mean_logits": mean_logits, "is_top1": is_top1}


def checkpoint_to_resume(checkpoint_dir: str | Path, fingerprint: str) -> str | None:
    """The checkpoint a rerun resumes from: only one written by a run with the same `fingerprint`
    (a hash of the settings and inputs), else None.

    A checkpoint carries its optimizer state and schedule, so resuming one written under another
    learning rate or other data would silently continue, or even just finish, the old run; such
    checkpoints are removed (and said so).
    """
    from erpo.artifacts import remove_outputs_of_other_runs
    stale = remove_outputs_of_other_runs(checkpoint_dir, fingerprint, "checkpoint-*")
    if stale:
        print(f"{checkpoint_dir}: {len(stale)} checkpoint(s) from other settings or inputs, removed, not resumed")
    return last_checkpoint(checkpoint_dir)


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
