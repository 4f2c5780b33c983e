"""Generation through any OpenAI-compatible endpoint (vLLM server, erpo serve, hosted APIs).

Uses httpx directly rather than the `openai` client so the core install stays small; requests for
different prompts run concurrently in a thread pool.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from tqdm.auto import tqdm

from erpo.errors import ErpoError
from erpo.generation.base import Conversation, Generation, SamplingParams, check_params, continues_reply


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str = "default", *, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 8, timeout_s: float = 300.0, **_: Any):
        self.model_name = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "http://127.0.0.1:8000/v1").rstrip("/")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "")
        self.concurrency, self.timeout_s = concurrency, timeout_s

    def generate(self, conversations: Sequence[Conversation], params: SamplingParams,
                 *, progress: str | None = None) -> list[list[Generation]]:
        import httpx
        check_params(params)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=self.timeout_s) as client, \
                ThreadPoolExecutor(self.concurrency) as pool:
            futures = [pool.submit(self._one, client, conv, params) for conv in conversations]
            return [f.result() for f in tqdm(futures, desc=progress, disable=progress is None, unit="prompt")]

    def _one(self, client: Any, conv: Conversation, params: SamplingParams) -> list[Generation]:
        body = {"model": self.model_name, "messages": conv, "max_tokens": params.max_new_tokens,
                "temperature": params.temperature, "top_p": params.top_p, "n": params.n, "seed": params.seed}
        if continues_reply(conv):   # vLLM and SGLang servers read these; plain OpenAI starts a new turn
            body.update(continue_final_message=True, add_generation_prompt=False)
        start = time.perf_counter()
        resp = client.post("/chat/completions", json=body)
        seconds = time.perf_counter() - start
        if resp.status_code != 200:
            raise ErpoError(f"{self.base_url}/chat/completions answered {resp.status_code}: {resp.text[:300]}")
        data = resp.json()
        usage = data.get("usage") or {}
        gens = []
        for choice in data["choices"]:
            msg = choice["message"]
            text = msg.get("content") or ""
            if msg.get("reasoning_content"):   # servers that split the thought out (erpo serve does)
                text = f"<think>\n{msg['reasoning_content']}\n</think>\n\n{text}"
            gens.append(Generation(text, prompt_tokens=usage.get("prompt_tokens", 0),
                                   completion_tokens=usage.get("completion_tokens", 0) // max(1, len(data["choices"])),
                                   latency_s=seconds, finish_reason=choice.get("finish_reason") or "stop"))
        return gens
