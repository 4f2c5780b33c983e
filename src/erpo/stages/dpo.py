"""Stage 2: DPO for safety, usefulness and efficiency (TRL `DPOTrainer`), and the DPO step stage 3 reuses.

Reads `03_dpo/pairs.jsonl` (the pipeline's `pairs` stage, `erpo.stages.pairs`), trains against the
SFT model as reference and writes `03_dpo/model/` and `03_dpo/train_stats.json`.

- Reference log-probs are computed ONCE (TRL `precompute_ref_log_probs`) and cached on disk in
  `ref_logps.pt`, keyed by the hash of the tokenised pairs and of the reference weights, so a
  resumed or repeated run never recomputes them; the reference model is then not kept in memory.
- LoRA (`dpo.lora`): TRL uses the policy with the adapter switched off as the reference.
- Loss: `sigmoid` (DPO), `ipo`, `length_normalized` (TRL's `sigmoid_norm`), optionally plus an
  SFT term on the chosen side (`sft_weight`, RPO style, TRL's `sft` loss) and LD-DPO (`ld_alpha`).
- Optional R-DPO length margin (stage 3): the DPO logit becomes β·Δ + α·(|y_w| − |y_l|). TRL has
  no such option, so it is folded into the cached reference log-probs (ref −= (α/β)·|y|), which
  shifts Δ by exactly (α/β)·(|y_w| − |y_l|) and needs no change to TRL's loss code.
- bf16 autocast over fp32 master weights where the hardware computes bf16 natively.
- Checkpoints every `save_steps` into `checkpoints/`; a rerun resumes from the last one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from erpo.artifacts import atomic_path, hash_obj, read_jsonl_required, write_json
from erpo.config import DPOConfig, RunConfig
from erpo.errors import ErpoError, InputError
from erpo.layout import PreferenceDir, RunLayout
from erpo.models import apply_lora, dtype_name, resolve_dtype, save_policy
from erpo.training import checkpoint_to_resume, load_trainable_policy, use_full_logits_off_cuda, warmup_steps

TRL_LOSS = {"sigmoid": "sigmoid", "ipo": "ipo", "length_normalized": "sigmoid_norm"}


def load_pairs(path: str | Path) -> list[dict]:
    """`pairs.jsonl` rows; a row without prompt/chosen/rejected names file, line and field."""
    path = Path(path)
    rows = read_jsonl_required(path, ("prompt", "chosen", "rejected"),
                               missing_hint="no preference pairs; run `erpo pairs` first")
    if not rows:
        raise InputError("no pairs (every prompt was skipped: see pairs.stats.json)", file=path)
    return rows


def pairs_to_examples(pairs: list[dict]) -> list[dict]:
    """Conversational preference examples for TRL: prompt turns, one assistant turn per side."""
    return [{"prompt": p.get("conversation") or [{"role": "user", "content": p["prompt"]}],
             "chosen": [{"role": "assistant", "content": p["chosen"]}],
             "rejected": [{"role": "assistant", "content": p["rejected"]}]} for p in pairs]


def _trainer_class() -> type:
    """`DPOTrainer` whose reference log-probs come from (and go to) a file on disk."""
    import torch
    from trl import DPOTrainer

    class CachedRefDPOTrainer(DPOTrainer):
        def __init__(self, *args: Any, ref_cache: Path, length_margin_alpha: float = 0.0, **kwargs: Any):
            self.ref_cache, self.length_margin_alpha = Path(ref_cache), length_margin_alpha
            self.ref_computations = 0   # how often the reference model actually ran (tests read it)
            super().__init__(*args, **kwargs)

        def _precompute_ref_logps(self, dataset: Any, name: str, batch_size: int) -> Any:
            use_full_logits_off_cuda(self)   # TRL runs this pass inside its __init__, before we could patch
            dataset = dataset.remove_columns([c for c in ("ref_chosen_logps", "ref_rejected_logps")
                                              if c in dataset.column_names])
            ids = {c: list(map(list, dataset[c])) for c in ("prompt_ids", "chosen_ids", "rejected_ids")}
            key = hash_obj({"ids": ids,
                            "ref": self._precompute_model_hash, "ld_alpha": self.ld_alpha,
                            "max_length": self.args.max_length})
            cached = torch.load(self.ref_cache) if self.ref_cache.exists() else None
            if cached is None or cached.get("key") != key:
                self.ref_computations += 1
                computed = super()._precompute_ref_logps(dataset, name, batch_size)
                cached = {"key": key, "chosen": torch.tensor(computed["ref_chosen_logps"]),
                          "rejected": torch.tensor(computed["ref_rejected_logps"])}
                _atomic_torch_save(cached, self.ref_cache)
            chosen, rejected = cached["chosen"], cached["rejected"]
            if self.length_margin_alpha:
                shift = self.length_margin_alpha / self.beta
                chosen = chosen - shift * torch.tensor([float(len(x)) for x in ids["chosen_ids"]])
                rejected = rejected - shift * torch.tensor([float(len(x)) for x in ids["rejected_ids"]])
            dataset = dataset.add_column("ref_chosen_logps", chosen.tolist())
            return dataset.add_column("ref_rejected_logps", rejected.tolist())

    return CachedRefDPOTrainer


def _atomic_torch_save(obj: Any, path: Path) -> None:
    import torch
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def trl_args(cfg: DPOConfig, output_dir: str | Path, *, use_bf16: bool, use_cpu: bool, n_examples: int) -> Any:
    """TRL `DPOConfig` from our section (reference log-probs always precomputed and cached)."""
    from trl import DPOConfig as TRLDPOConfig
    loss_type, loss_weights = [TRL_LOSS[cfg.loss_type]], [1.0]
    if cfg.sft_weight > 0:
        loss_type, loss_weights = loss_type + ["sft"], loss_weights + [cfg.sft_weight]
    per_step = cfg.batch_size * cfg.grad_accum
    total = cfg.max_steps if cfg.max_steps > 0 else max(1, int(cfg.epochs * -(-n_examples // per_step)))
    return TRLDPOConfig(
        output_dir=str(output_dir), beta=cfg.beta, loss_type=loss_type, loss_weights=loss_weights,
        ld_alpha=cfg.ld_alpha, precompute_ref_log_probs=True, precompute_ref_batch_size=cfg.batch_size * 2,
        learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        max_length=cfg.max_length, seed=cfg.seed, save_strategy="steps", save_steps=cfg.save_steps,
        save_total_limit=2, logging_steps=1, gradient_checkpointing=cfg.gradient_checkpointing,
        bf16=use_bf16, fp16=False, lr_scheduler_type="cosine", warmup_steps=warmup_steps(total, 0.1),
        report_to=[], dataloader_num_workers=0, use_cpu=use_cpu)


def build_dpo_trainer(model: Any, tokenizer: Any, pairs: list[dict], cfg: DPOConfig, output_dir: str | Path, *,
                      ref_cache: str | Path, dtype: str = "auto", length_margin_alpha: float = 0.0) -> Any:
    """A DPO trainer whose reference is `model` as given (adapter-off model under LoRA)."""
    import torch
    from datasets import Dataset
    if length_margin_alpha and cfg.loss_type != "sigmoid":
        raise ErpoError("length_margin_alpha (R-DPO) needs loss_type 'sigmoid'")
    device = str(next(model.parameters()).device)
    if cfg.lora and not hasattr(model, "peft_config"):
        model = apply_lora(model, r=cfg.lora_r, alpha=cfg.lora_alpha)
    args = trl_args(cfg, output_dir, use_bf16=resolve_dtype(dtype, device) == torch.bfloat16,
                    use_cpu=device == "cpu", n_examples=len(pairs))
    trainer = _trainer_class()(model=model, args=args, train_dataset=Dataset.from_list(pairs_to_examples(pairs)),
                               processing_class=tokenizer, ref_cache=Path(ref_cache),
                               length_margin_alpha=length_margin_alpha)
    return use_full_logits_off_cuda(trainer)


def train_dpo(policy: str | Path, pairs: list[dict], out_dir: str | Path, cfg: DPOConfig, *, dtype: str = "auto",
              length_margin_alpha: float = 0.0, model: Any = None, tokenizer: Any = None) -> tuple[Path, dict]:
    """DPO of `policy` (also the reference) on `pairs`; writes `out_dir/model` and returns (path, stats).

    `out_dir` holds `ref_logps.pt` and `checkpoints/` too, so a rerun reuses both.
    """
    folder = PreferenceDir(out_dir)
    if model is None:
        model, tokenizer = load_trainable_policy(policy, dtype)
    trainer = build_dpo_trainer(model, tokenizer, pairs, cfg, folder.checkpoints, ref_cache=folder.ref_logps,
                                dtype=dtype, length_margin_alpha=length_margin_alpha)
    fingerprint = hash_obj({"cfg": cfg, "pairs": pairs, "policy": str(policy), "alpha": length_margin_alpha,
                            "dtype": dtype_name(dtype, str(next(model.parameters()).device))})
    resume = checkpoint_to_resume(folder.checkpoints, fingerprint)
    if resume:
        print(f"resuming DPO from {resume}")
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    trained = trainer.model
    device = str(next(trained.parameters()).device)
    if resolve_dtype(dtype, device).itemsize < 4:
        trained = trained.to(resolve_dtype(dtype, device))
    path = save_policy(trained, tokenizer, folder.model)
    return path, train_stats(trainer, seconds, len(pairs))


def train_stats(trainer: Any, seconds: float, n_pairs: int) -> dict:
    logs = [h for h in trainer.state.log_history if "loss" in h]
    first, last = (logs[0], logs[-1]) if logs else ({}, {})
    return {"pairs": n_pairs, "steps": trainer.state.global_step, "train_seconds": round(seconds, 1),
            "ref_computations": trainer.ref_computations,
            "first_loss": first.get("loss"), "last_loss": last.get("loss"),
            "first_margin": first.get("rewards/margins"), "last_margin": last.get("rewards/margins"),
            "last_accuracy": last.get("rewards/accuracies")}


def sequence_logps(model: Any, tokenizer: Any, pairs: list[dict]) -> tuple[list[float], list[float]]:
    """Summed log-probs of each pair's chosen and rejected reply under `model` (diagnostics, tests)."""
    import torch
    out: tuple[list[float], list[float]] = ([], [])
    model.eval()
    for example in pairs_to_examples(pairs):
        prompt_ids = _ids(tokenizer.apply_chat_template(example["prompt"], add_generation_prompt=True, tokenize=True))
        for side, bucket in (("chosen", out[0]), ("rejected", out[1])):
            full = _ids(tokenizer.apply_chat_template(example["prompt"] + example[side], tokenize=True))
            ids = torch.tensor([full], device=model.device)
            with torch.no_grad():
                logits = model(input_ids=ids).logits[0, :-1].float()
            logps = torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None])[:, 0]
            bucket.append(float(logps[len(prompt_ids) - 1:].sum()))
    return out


def _ids(encoded: Any) -> list[int]:
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


# --- the stage --------------------------------------------------------------------------------

def run_dpo(config: RunConfig, run_dir: str | Path | None = None) -> Path:
    """Stage 2: DPO against the SFT model on the pairs of the `pairs` stage; returns `03_dpo/model`.

    Always trains (resuming from its checkpoints): skipping a finished DPO is the pipeline's
    (`erpo.pipeline.run_stage`)."""
    layout = RunLayout(run_dir or config.run_dir)
    pairs = load_pairs(layout.dpo.pairs)
    model_path, stats = train_dpo(layout.sft_model, pairs, layout.dpo.path, config.dpo, dtype=config.dtype)
    write_json(layout.dpo.train_stats, stats)
    return model_path
