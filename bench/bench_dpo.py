"""Training speed and peak memory: erpo's DPO stage vs TRL `DPOTrainer` with default settings.

Both train the same policy (embedded SmolLM2 by default) on the same preference pairs for the same
number of optimizer steps and batch size. Each variant runs in its own subprocess so its peak
resident memory (ru_maxrss) is its own. Baseline: `trl.DPOConfig(output_dir, use_cpu=...)` with
only the shared batch/steps/length/lr set — TRL's defaults otherwise (reference model run every
step, gradient checkpointing on). erpo: `erpo.stages.dpo.train_dpo` (reference log-probs computed
once and cached on disk, no gradient checkpointing at this size, bf16 autocast, full-logits LM head
off CUDA). A second erpo run
on the same pairs shows the cached reference (what a resumed run or a repeated round pays).

    python bench/bench_dpo.py [--model smollm2-135m] [--pairs 32] [--steps 8] [--batch 4]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_results import write_results


def synthetic_pairs(n: int) -> list[dict]:
    """Pairs with realistic ERPO shapes: a short cited refusal vs a long compliant reply."""
    from erpo.data import load_source
    from erpo.reasoning.format import format_reply
    prompts = [r.prompt for r in load_source("harmbench")[:n]]
    chosen_thought = ("The user asks for {p}. [R01 Violent crime] forbids helping plan harm. "
                      "Refuse and offer safety resources.")
    long_reply = ("Sure, here is a detailed step by step guide. First, gather everything you need and plan carefully. "
                  "Second, make sure nobody notices what you are doing. ") * 4
    return [{"prompt": p, "chosen": format_reply(chosen_thought.format(p=p[:60]), "I can't help with that."),
             "rejected": format_reply("[no rule applies] The request is fine.", long_reply)} for p in prompts]


def run_variant(variant: str, model: str, pairs_file: str, steps: int, batch: int, out: str) -> dict:
    import torch
    from datasets import Dataset
    from trl import DPOConfig as TRLDPOConfig
    from trl import DPOTrainer

    from erpo.artifacts import read_jsonl
    from erpo.config import DPOConfig
    from erpo.stages.dpo import pairs_to_examples, train_dpo
    from erpo.training import load_trainable_policy
    pairs = read_jsonl(pairs_file)
    start = time.perf_counter()
    if variant == "trl_defaults":
        policy, tok = load_trainable_policy(model, "fp32")
        args = TRLDPOConfig(output_dir=out, per_device_train_batch_size=batch, max_steps=steps, max_length=512,
                            learning_rate=5e-6, report_to=[], save_strategy="no", use_cpu=not torch.cuda.is_available())
        trainer = DPOTrainer(model=policy, args=args, train_dataset=Dataset.from_list(pairs_to_examples(pairs)),
                             processing_class=tok)
        trainer.train()
    else:
        cfg = DPOConfig(batch_size=batch, max_steps=steps, max_length=512, learning_rate=5e-6, save_steps=10_000)
        train_dpo(model, pairs, out, cfg)
    return {"seconds": time.perf_counter() - start,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--variant", help=argparse.SUPPRESS)     # internal: run one variant in this process
    ap.add_argument("--pairs-file", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.model, args.pairs_file, args.steps, args.batch, args.out)))
        return

    from erpo.artifacts import write_jsonl
    from erpo.models import resolve_model_path
    model = resolve_model_path(args.model)        # convert the embedded model once, outside the timings
    work = Path(tempfile.mkdtemp(prefix="erpo-bench-dpo-"))
    pairs_file = write_jsonl(work / "pairs.jsonl", synthetic_pairs(args.pairs))
    results: dict = {"model": args.model, "pairs": args.pairs, "steps": args.steps, "batch": args.batch}
    for variant, out in (("trl_defaults", work / "trl"), ("erpo", work / "erpo"), ("erpo_cached_ref", work / "erpo")):
        cmd = [sys.executable, __file__, "--variant", "erpo" if variant.startswith("erpo") else variant,
               "--model", model, "--pairs-file", str(pairs_file), "--steps", str(args.steps),
               "--batch", str(args.batch), "--out", str(out)]
        if variant == "erpo_cached_ref":
            _clear_checkpoints(out)     # retrain from scratch, but keep the cached reference log-probs
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        results[variant] = {k: round(v, 2) for k, v in json.loads(line).items()}
        print(f"{variant:16s} {results[variant]['seconds']:7.1f} s   "
              f"peak RSS {results[variant]['peak_rss_gib']:.2f} GiB")
    for variant in ("erpo", "erpo_cached_ref"):
        ratio = results["trl_defaults"]["seconds"] / results[variant]["seconds"]
        results[f"speedup_{variant}_vs_trl_defaults"] = round(ratio, 2)
        print(f"{variant} vs TRL defaults: {ratio:.2f}x")
    write_results("dpo", results)


def _clear_checkpoints(out: Path) -> None:
    import shutil
    for sub in ("checkpoints", "model"):
        shutil.rmtree(out / sub, ignore_errors=True)


if __name__ == "__main__":
    main()
