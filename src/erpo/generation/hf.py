"""The default generation backend: transformers `generate` with length-sorted batches.

Why length-sorted: padding is wasted compute, and on a CPU it is most of the cost of naive
batching; sorting prompts by token length before batching keeps every batch nearly pad-free.
Prompts are left-padded so all sequences in a batch end at the same position.

Batches are also capped by a token budget (`max_batch_tokens`: rows × (longest prompt + new
tokens), samples included): a few long prompts (jailbreak templates run to 2,500 tokens) then go in
small batches of their own instead of padding a full batch of short prompts to their length.
"""

from __future__ import annotations

from typing import Any, Sequence

from tqdm.auto import tqdm

from erpo.generation.base import Conversation, Generation, SamplingParams, check_params, continues_reply, timed


class HFBackend:
    name = "hf"

    def __init__(self, model: Any = "smollm2-135m", tokenizer: Any = None, *, dtype: str = "auto",
                 device: str | None = None, batch_size: int = 16, max_batch_tokens: int | None = 16384,
                 trust_remote_code: bool = False, **_: Any):
        if isinstance(model, str):
            from erpo.models import load_policy
            self.model_name = model
            model, tokenizer = load_policy(model, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
        else:
            self.model_name = getattr(model, "name_or_path", "model")
        if tokenizer is None:
            raise ValueError("HFBackend needs a tokenizer when given a model object")
        self.model, self.tokenizer = model, tokenizer
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens

    def encode(self, conv: Conversation) -> list[int]:
        cont = continues_reply(conv)
        ids = self.tokenizer.apply_chat_template(conv, add_generation_prompt=not cont, continue_final_message=cont,
                                                 tokenize=True)
        return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)

    def generate(self, conversations: Sequence[Conversation], params: SamplingParams,
                 *, progress: str | None = None, **generate_kwargs: Any) -> list[list[Generation]]:
        """Generate `params.n` replies per conversation; extra kwargs go to `model.generate`."""
        check_params(params)
        encoded = [self.encode(c) for c in conversations]
        results: list[list[Generation]] = [[] for _ in conversations]
        batches = token_budget_batches([len(e) for e in encoded], self.batch_size, self.max_batch_tokens,
                                       params.max_new_tokens, params.n)
        bar = tqdm(total=len(encoded), desc=progress, disable=progress is None, unit="prompt")
        for batch in batches:
            for idx, gens in zip(batch, self._generate_batch([encoded[i] for i in batch], params, generate_kwargs)):
                results[idx] = gens
            bar.update(len(batch))
        bar.close()
        return results

    def _generate_batch(self, prompts: list[list[int]], params: SamplingParams,
                        extra: dict) -> list[list[Generation]]:
        import torch
        pad = self.tokenizer.pad_token_id
        width = max(len(p) for p in prompts)
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.model.device)
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.model.device)
        sampling = params.temperature > 0
        kwargs = dict(max_new_tokens=params.max_new_tokens, do_sample=sampling, num_return_sequences=params.n,
                      pad_token_id=pad, **extra)
        if sampling:
            torch.manual_seed(params.seed)
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out, seconds = timed(lambda: self.model.generate(input_ids=input_ids, attention_mask=attention, **kwargs))
        new_tokens = out[:, width:]
        eos = set(_as_list(self.model.generation_config.eos_token_id)) | {self.tokenizer.eos_token_id}
        gens = []
        for row, prompt in zip(new_tokens.tolist(), [p for p in prompts for _ in range(params.n)]):
            length = next((i for i, t in enumerate(row) if t in eos), len(row))
            text = self.tokenizer.decode(row[:length], skip_special_tokens=True)
            gens.append(Generation(text, prompt_tokens=len(prompt), completion_tokens=length,
                                   latency_s=seconds, finish_reason="stop" if length < len(row) else "length"))
        return [gens[i * params.n:(i + 1) * params.n] for i in range(len(prompts))]


def token_budget_batches(lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None,
                         new_tokens: int, rows_per_prompt: int = 1) -> list[list[int]]:
    """Prompt indices sorted by `lengths` (tokens per prompt) and cut into batches of at most
    `batch_size` prompts whose padded size, prompts × rows_per_prompt × (longest prompt + new
    tokens), stays within `max_batch_tokens`; a prompt over the budget on its own gets a batch alone."""
    batches: list[list[int]] = []
    current: list[int] = []
    for idx in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        # sorted ascending, so the prompt being added is the longest of its batch
        cost = (len(current) + 1) * rows_per_prompt * (lengths[idx] + new_tokens)
        if current and (len(current) >= batch_size or (max_batch_tokens and cost > max_batch_tokens)):
            batches.append(current)
            current = []
        current.append(idx)
    if current:
        batches.append(current)
    return batches


def _as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]
