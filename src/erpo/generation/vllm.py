"""Generation with vLLM (the `[vllm]` extra), for GPU users sampling at scale."""

from __future__ import annotations

import time
from typing import Any, Sequence

from erpo.errors import ErpoError
from erpo.generation.base import Conversation, Generation, SamplingParams, check_params, continues_reply


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str = "smollm2-135m", *, dtype: str = "auto", gpu_memory_utilization: float = 0.85,
                 trust_remote_code: bool = False, **_: Any):
        try:
            from vllm import LLM
        except ImportError:
            raise ErpoError("the vllm backend needs vLLM: pip install 'erpo[vllm]'") from None
        from erpo.models import resolve_model_path
        self.model_name = model
        self.llm = LLM(model=resolve_model_path(model), dtype="auto" if dtype == "auto" else
                       {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[dtype],
                       gpu_memory_utilization=gpu_memory_utilization, trust_remote_code=trust_remote_code)

    def generate(self, conversations: Sequence[Conversation], params: SamplingParams,
                 *, progress: str | None = None) -> list[list[Generation]]:
        from vllm import SamplingParams as VSampling
        check_params(params)
        sp = VSampling(n=params.n, temperature=params.temperature, top_p=params.top_p,
                       max_tokens=params.max_new_tokens, seed=params.seed)
        results: list[list[Generation]] = [[] for _ in conversations]
        for cont in (False, True):   # vLLM takes continue_final_message per call, not per conversation
            idx = [i for i, c in enumerate(conversations) if continues_reply(c) == cont]
            if not idx:
                continue
            start = time.perf_counter()
            outputs = self.llm.chat([conversations[i] for i in idx], sp, use_tqdm=progress is not None,
                                    add_generation_prompt=not cont, continue_final_message=cont)
            seconds = time.perf_counter() - start
            for i, o in zip(idx, outputs):
                results[i] = [Generation(c.text, prompt_tokens=len(o.prompt_token_ids),
                                         completion_tokens=len(c.token_ids), latency_s=seconds,
                                         finish_reason=c.finish_reason or "stop") for c in o.outputs]
        return results
