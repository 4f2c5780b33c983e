"""Sampling speed: erpo's batched HF backend vs plain `generate`, same prompts and token budget.

Baselines, measured in the same process:
  * one-at-a-time: `model.generate` per prompt, the model as transformers loads it (fp32)
  * naive batches: `model.generate` on batches in dataset order, fp32, left padding
erpo: `HFBackend` (length-sorted batches, bf16 where the CPU has native bf16).
Greedy decoding with min_new_tokens = max_new_tokens so every run produces exactly the same number
of tokens (a fair tokens/s comparison). Prints tokens/s and ratios; writes bench/results/generation.json.

    python bench/bench_generation.py [--model smollm2-135m] [--prompts 32] [--tokens 64] [--batch 16]
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_results import write_results


def prompts_for_bench(n: int) -> list[str]:
    from erpo.data import load_source
    records = load_source("benign-generated")
    # A mix of lengths, as a real prompt set has; fixed order so every run sees the same prompts.
    return [r.prompt for r in records[: n * 7 : 7]][:n]


def encode(tok, prompt: str) -> list[int]:
    ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)


def plain_generate(model, tok, prompts: list[str], tokens: int, batch: int) -> float:
    """transformers `generate` as most scripts call it: batches in the given order."""
    start = time.perf_counter()
    for i in range(0, len(prompts), batch):
        enc = [encode(tok, p) for p in prompts[i:i + batch]]
        width = max(map(len, enc))
        ids = torch.tensor([[tok.pad_token_id] * (width - len(e)) + e for e in enc])
        mask = (torch.arange(width)[None, :] >= torch.tensor([width - len(e) for e in enc])[:, None]).long()
        with torch.inference_mode():
            model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=tokens, min_new_tokens=tokens,
                           do_sample=False, pad_token_id=tok.pad_token_id)
    return time.perf_counter() - start


def erpo_generate(backend, prompts: list[str], tokens: int) -> float:
    from erpo.generation import SamplingParams, user_turn
    start = time.perf_counter()
    backend.generate([user_turn(p) for p in prompts], SamplingParams(max_new_tokens=tokens), min_new_tokens=tokens)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--skip-single", action="store_true", help="skip the slow one-at-a-time baseline")
    args = ap.parse_args()

    from erpo.generation.hf import HFBackend
    from erpo.models import load_policy
    prompts = prompts_for_bench(args.prompts)
    total_tokens = len(prompts) * args.tokens
    fp32_model, tok = load_policy(args.model, dtype="fp32")
    backend = HFBackend(args.model, batch_size=args.batch)          # dtype auto → bf16 on AMX CPUs
    plain_generate(fp32_model, tok, prompts[:2], 4, 2)               # warm-up
    erpo_generate(backend, prompts[:2], 4)

    results = {"prompts": len(prompts), "new_tokens_each": args.tokens, "batch": args.batch,
               "erpo_dtype": str(backend.model.dtype), "torch_threads": torch.get_num_threads()}
    timings = {}
    if not args.skip_single:
        timings["plain_one_at_a_time"] = plain_generate(fp32_model, tok, prompts, args.tokens, 1)
    timings["plain_naive_batches"] = plain_generate(fp32_model, tok, prompts, args.tokens, args.batch)
    timings["erpo_hf_backend"] = erpo_generate(backend, prompts, args.tokens)
    for name, seconds in timings.items():
        results[name] = {"seconds": round(seconds, 2), "tokens_per_s": round(total_tokens / seconds, 1)}
        print(f"{name:22s} {seconds:7.2f} s  {total_tokens / seconds:7.1f} tok/s")
    base = timings["plain_naive_batches"]
    results["speedup_vs_naive_batches"] = round(base / timings["erpo_hf_backend"], 2)
    print(f"erpo vs naive batches: {results['speedup_vs_naive_batches']}x")
    if "plain_one_at_a_time" in timings:
        results["speedup_vs_one_at_a_time"] = round(timings["plain_one_at_a_time"] / timings["erpo_hf_backend"], 2)
        print(f"erpo vs one at a time: {results['speedup_vs_one_at_a_time']}x")
    write_results("generation", results)


if __name__ == "__main__":
    main()
