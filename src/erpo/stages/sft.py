"""Stage 1 training: supervised fine-tuning on `<think>thought</think> answer` targets.

Reads `01_data/sft.jsonl`, trains with TRL's `SFTTrainer` and writes `02_sft/model/`.

- Loss on the assistant reply only: the data is given to TRL as a *conversational
  prompt-completion* dataset (`prompt=[user turn]`, `completion=[assistant turn]`) with
  `completion_only_loss=True`. Why not `assistant_only_loss`: that needs `{% generation %}`
  markers in the chat template, which most templates (SmolLM2's included) lack.
- bf16 where the hardware computes it natively (autocast over fp32 master weights, so small
  updates are not rounded away), fp32 otherwise.
- `decision_weight` > 1 counts the decision tokens (risk area, rule citation) that many times in
  the loss (`weight_decision_tokens`).
- Checkpoints every `save_steps` into `02_sft/checkpoints/`; a rerun resumes from the last one.
- The result is saved with `erpo.models.save_policy` (LoRA merged, chat template kept), and the
  training numbers (examples, steps, losses) in `02_sft/train_stats.json`, which the pipeline
  copies into the stage's manifest record.
"""

from __future__ import annotations

import functools
import itertools
import re
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from erpo.artifacts import hash_obj, hash_path, read_jsonl, write_json
from erpo.config import RunConfig, SFTConfig
from erpo.errors import ErpoError, InputError
from erpo.layout import RunLayout
from erpo.models import apply_lora, dtype_name, resolve_dtype, save_policy
from erpo.reasoning.format import NO_RULE_CITATION, RULE_CITATION
from erpo.reasoning.thoughts import RISK_AREA_LABEL
from erpo.training import checkpoint_to_resume, load_trainable_policy, use_full_logits_off_cuda, warmup_steps


def load_sft_examples(path: str | Path) -> list[dict]:
    """Rows of `sft.jsonl` → TRL conversational prompt/completion examples (bad row → file+line+field)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no SFT data; run `erpo build-data` first", file=path)
    examples = []
    for lineno, row in enumerate(read_jsonl(path), start=1):
        messages = row.get("messages")
        if messages:
            if not isinstance(messages, list) or len(messages) < 2 or messages[-1].get("role") != "assistant":
                raise InputError("must be a list of turns ending with the assistant reply", file=path,
                                 line=lineno, field="messages")
            prompt, completion = messages[:-1], messages[-1:]
        else:
            for key in ("prompt", "completion"):
                if not isinstance(row.get(key), str) or not row[key].strip():
                    raise InputError("missing or empty", file=path, line=lineno, field=key)
            prompt = [{"role": "user", "content": row["prompt"]}]
            completion = [{"role": "assistant", "content": row["completion"]}]
        examples.append({"prompt": prompt, "completion": completion})
    if not examples:
        raise InputError("no examples", file=path)
    return examples


def build_trainer(model: Any, tokenizer: Any, examples: list[dict], cfg: SFTConfig, output_dir: str | Path,
                  *, dtype: str = "auto") -> Any:
    """An `SFTTrainer` for `examples` (prompt/completion conversations), loss on completions only."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    device = str(next(model.parameters()).device)
    use_bf16 = resolve_dtype(dtype, device) == torch.bfloat16
    if cfg.lora and not hasattr(model, "peft_config"):
        model = apply_lora(model, r=cfg.lora_r, alpha=cfg.lora_alpha)
    args = TRLSFTConfig(
        output_dir=str(output_dir), learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, max_length=cfg.max_length, seed=cfg.seed,
        save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=2, logging_steps=1,
        completion_only_loss=True, activation_checkpointing=False, bf16=use_bf16, fp16=False,
        lr_scheduler_type="cosine", warmup_steps=warmup_steps(_total_steps(len(examples), cfg), 0.05),
        report_to=[], disable_tqdm=False, dataloader_num_workers=0, use_cpu=device == "cpu",
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples),
                         processing_class=tokenizer)
    return weight_decision_tokens(use_full_logits_off_cuda(trainer), tokenizer, cfg.decision_weight)


# the decision inside a thought: the risk area of the Intent part and the bracketed rule citation,
# built from the patterns the thought writer and the citation judge use
DECISION_SPANS = re.compile(rf"{re.escape(RISK_AREA_LABEL)} (?P<area>[^.\n]+)"
                            rf"|(?P<citation>{RULE_CITATION.pattern}|{re.escape(NO_RULE_CITATION)})")


def decision_token_mask(ids: Sequence[int], decode_token: Callable[[int], str]) -> list[bool]:
    """Which of `ids` (a completion's tokens) spell the decision: the risk area and the rule citation.

    Offsets come from the tokens' own decoded pieces, so they stay consistent even where a
    multi-byte character is split across tokens (each piece then decodes to a placeholder)."""
    pieces = [decode_token(t) for t in ids]
    ends = list(itertools.accumulate(len(p) for p in pieces))
    spans = [m.span("area" if m.group("area") is not None else "citation")
             for m in DECISION_SPANS.finditer("".join(pieces))]
    return [any(end - len(piece) < span_end and end > span_start for span_start, span_end in spans)
            for piece, end in zip(pieces, ends)]


def weight_decision_tokens(trainer: Any, tokenizer: Any, weight: float) -> Any:
    """Count the decision tokens `weight` times in the SFT loss.

    TRL's SFT loss is −Σ log p(token) over the completion tokens, taken from the per-token
    `log_probs` of the policy's fused-head forward; scaling those at the decision positions
    reweights the loss without a second forward pass (TRL has no per-token loss weights)."""
    if weight == 1.0:
        return trainer
    import torch
    from peft import PeftModel
    model = trainer.model
    target = model.get_base_model() if isinstance(model, PeftModel) else model
    forward = target.forward
    decode = functools.lru_cache(maxsize=None)(lambda token: tokenizer.decode([token]))

    @functools.wraps(forward)
    def weighted(*args: Any, fused_lm_head: bool = False, labels: Any = None, **kwargs: Any) -> Any:
        outputs = forward(*args, fused_lm_head=fused_lm_head, labels=labels, **kwargs)
        if not fused_lm_head or labels is None or not torch.is_grad_enabled():
            return outputs
        weights = torch.ones(labels.shape, dtype=outputs.log_probs.dtype, device=outputs.log_probs.device)
        for row, row_labels in enumerate(labels.tolist()):
            positions = [i for i, token in enumerate(row_labels) if token != -100]
            mask = decision_token_mask([row_labels[i] for i in positions], decode)
            weights[row, [i for i, hit in zip(positions, mask) if hit]] = weight
        outputs.log_probs = outputs.log_probs * weights[:, 1:]   # log_probs[:, j] scores labels[:, j + 1]
        return outputs

    target.forward = weighted
    return trainer


def _total_steps(n_examples: int, cfg: SFTConfig) -> int:
    if cfg.max_steps > 0:
        return cfg.max_steps
    per_step = cfg.batch_size * cfg.grad_accum
    return max(1, int(cfg.epochs * -(-n_examples // per_step)))


def run_sft(config: RunConfig, run_dir: str | Path | None = None, *, model: Any = None,
            tokenizer: Any = None) -> Path:
    """Train stage 1 and return the saved model directory `02_sft/model/`.

    `model`/`tokenizer` may be passed in (tests); by default `config.model` is loaded.
    """
    layout = RunLayout(run_dir or config.run_dir)
    examples = load_sft_examples(layout.sft_data)
    if model is None:
        model, tokenizer = load_trainable_policy(config.model, config.dtype)
    elif tokenizer is None:
        raise ErpoError("run_sft: pass the tokenizer together with the model")
    trainer = build_trainer(model, tokenizer, examples, config.sft, layout.sft_checkpoints, dtype=config.dtype)
    # the checkpoints are resumed only by a run with the same settings, data and precision (`auto`
    # is bf16 on one machine and fp32 on another, so the resolved dtype is what counts)
    config_hash, data_hash = hash_obj({"model": config.model, "sft": config.sft}), hash_path(layout.sft_data)
    precision = dtype_name(config.dtype, str(next(model.parameters()).device))
    resume = checkpoint_to_resume(layout.sft_checkpoints, hash_obj([config_hash, precision, data_hash]))
    if resume:
        print(f"resuming SFT from {resume}")
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    trained = trainer.model
    if resolve_dtype(config.dtype, str(next(trained.parameters()).device)).itemsize < 4:
        trained = trained.to(resolve_dtype(config.dtype, str(next(trained.parameters()).device)))
    out = save_policy(trained, tokenizer, layout.sft_model)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    write_json(layout.sft_train_stats, {"examples": len(examples), "steps": trainer.state.global_step,
                                        "train_seconds": round(seconds, 1), "first_loss": losses[0] if losses else None,
                                        "last_loss": losses[-1] if losses else None,
                                        "train_loss": getattr(result, "training_loss", None)})
    return out
