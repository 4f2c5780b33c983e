"""Batched sampling backends behind one interface: hf (default), vllm, openai-compatible, mock.

Every backend takes chat conversations and returns, per conversation, `n` `Generation`s with the
text, token counts and latency, so judges and the `length` metrics never care which backend ran.
A conversation that ends with an assistant message is a reply prefix: the backend continues that
message (transformers' and vLLM's `continue_final_message`) and returns only the continuation.
The backend registry is lazy: `mock` and `openai` never import torch.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from erpo.errors import ErpoError
from erpo.registry import Registry

Conversation = list[dict]   # [{"role": "user", "content": "..."}, ...]


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 256
    temperature: float = 0.0        # 0 = greedy
    top_p: float = 1.0
    n: int = 1                      # samples per conversation
    seed: int = 0


@dataclass
class Generation:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0          # wall time of the batch this reply was part of
    finish_reason: str = "stop"     # "stop" | "length"
    meta: dict = field(default_factory=dict)


class GenerationBackend(Protocol):
    name: str

    def generate(self, conversations: Sequence[Conversation], params: SamplingParams,
                 *, progress: str | None = None) -> list[list[Generation]]:
        ...


BACKENDS = Registry("generation backend")
BACKENDS.add("mock", "erpo.generation:MockBackend")
BACKENDS.add("hf", "erpo.generation_hf:HFBackend")
BACKENDS.add("openai", "erpo.generation_openai:OpenAIBackend")
BACKENDS.add("vllm", "erpo.generation_vllm:VLLMBackend")


def get_backend(name: str, **kwargs: Any) -> GenerationBackend:
    """Build a backend by registry name, e.g. `get_backend("hf", model="smollm2-135m")`."""
    return BACKENDS.get(name)(**kwargs)


def continues_reply(conv: Conversation) -> bool:
    """True when `conv` ends with an assistant message: a reply prefix to continue, not a new turn."""
    return bool(conv) and conv[-1].get("role") == "assistant"


def user_turn(prompt: str, system: str | None = None) -> Conversation:
    conv = [{"role": "system", "content": system}] if system else []
    return conv + [{"role": "user", "content": prompt}]


class MockBackend:
    """Scripted replies for fast, exact tests (in the spirit of inspect_ai's mockllm).

    `replies` is either a list cycled through in order, or a function
    `(conversation, sample_index) -> str`. Token counts are whitespace words.
    """

    name = "mock"

    def __init__(self, replies: Sequence[str] | Callable[[Conversation, int], str] | None = None,
                 model: str | None = None, **_: Any):
        self.model = model or "mock"
        if replies is None:
            replies = ["<think>\nThe request is benign; [no rule applies].\n</think>\n\nHere is an answer."]
        self._script = replies if callable(replies) else None
        self._cycle = None if callable(replies) else itertools.cycle(list(replies))
        self.calls: list[Conversation] = []

    def generate(self, conversations: Sequence[Conversation], params: SamplingParams,
                 *, progress: str | None = None) -> list[list[Generation]]:
        out = []
        for conv in conversations:
            self.calls.append(conv)
            replies = []
            for i in range(params.n):
                text = self._script(conv, i) if self._script else next(self._cycle)
                words = text.split()
                if len(words) > params.max_new_tokens:
                    text, reason = " ".join(words[: params.max_new_tokens]), "length"
                else:
                    reason = "stop"
                replies.append(Generation(text, prompt_tokens=sum(len(m["content"].split()) for m in conv),
                                          completion_tokens=min(len(words), params.max_new_tokens),
                                          latency_s=0.0, finish_reason=reason))
            out.append(replies)
        return out


def check_params(params: SamplingParams) -> None:
    if params.max_new_tokens < 1:
        raise ErpoError("max_new_tokens must be >= 1")
    if params.n < 1:
        raise ErpoError("n must be >= 1")
    if params.temperature < 0:
        raise ErpoError("temperature must be >= 0")


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
