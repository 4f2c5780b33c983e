"""SFT step speed: erpo's SFT trainer vs TRL's `SFTTrainer` as it comes, same data, same steps.

Both build the trainer through `erpo.stages.sft.build_trainer` (same model, examples, batch, bf16
autocast, schedule and seed); the baseline then restores TRL's own loss path, the fused LM head
(vocabulary tiles recomputed in backward, gradient GEMMs in fp32). erpo serves those calls from
the full logits off CUDA (`erpo.training.use_full_logits_off_cuda`). The per-step losses are
printed side by side: the change is for speed only.

    python bench/bench_sft.py [--model smollm2-135m] [--examples 64] [--steps 6] [--batch 8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench_results import write_results


def examples(n: int) -> list[dict]:
    """Stage-1-shaped examples: a prompt, a cited thought and a refusal or an answer."""
    from erpo.data import load_source
    from erpo.reasoning.format import format_reply
    prompts = [r.prompt for r in load_source("harmbench")[:n]]
    thought = ("Intent: the user asks for “{p}”. Rule check: [R01 Violent crime] forbids helping plan harm. "
               "Judgement: not allowed. Plan: refuse briefly and point to safe resources.")
    answer = "I can't help with that. If you or someone else is at risk, please contact local emergency services."
    return [{"prompt": [{"role": "user", "content": p}],
             "completion": [{"role": "assistant", "content": format_reply(thought.format(p=p), answer)}]}
            for p in prompts]


def run(variant: str, model_name: str, data: list[dict], steps: int, batch: int, out: Path) -> dict:
    from erpo.config import SFTConfig
    from erpo.stages import sft
    from erpo.training import load_trainable_policy
    model, tokenizer = load_trainable_policy(model_name, "auto")
    cfg = SFTConfig(max_steps=steps, batch_size=batch, max_length=320, save_steps=10_000)
    if variant == "trl_fused_head":
        real = sft.use_full_logits_off_cuda
        sft.use_full_logits_off_cuda = lambda trainer: trainer     # keep TRL's own LM head
        trainer = sft.build_trainer(model, tokenizer, data, cfg, out / variant)
        sft.use_full_logits_off_cuda = real
    else:
        trainer = sft.build_trainer(model, tokenizer, data, cfg, out / variant)
    trainer.args.save_strategy = "no"
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    losses = [round(h["loss"], 4) for h in trainer.state.log_history if "loss" in h]
    return {"seconds": round(seconds, 1), "seconds_per_step": round(seconds / steps, 2), "losses": losses}


def main() -> None:
    import tempfile
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--examples", type=int, default=64)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    from erpo.models import resolve_model_path
    model = resolve_model_path(args.model)       # convert the embedded model once, outside the timings
    data = examples(args.examples)
    out = Path(tempfile.mkdtemp(prefix="erpo-bench-sft-"))
    results: dict = {"model": args.model, "steps": args.steps, "batch": args.batch}
    for variant in ("trl_fused_head", "erpo"):
        results[variant] = run(variant, model, data, args.steps, args.batch, out)
        print(f"{variant:15s} {results[variant]['seconds']:7.1f} s  ({results[variant]['seconds_per_step']} s/step)"
              f"  losses {results[variant]['losses']}", flush=True)
    results["speedup_erpo_vs_trl"] = round(results["trl_fused_head"]["seconds"] / results["erpo"]["seconds"], 2)
    print(f"erpo vs TRL SFTTrainer: {results['speedup_erpo_vs_trl']:.2f}x")
    write_results("sft", results)


if __name__ == "__main__":
    main()
