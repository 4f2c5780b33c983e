"""The generation protocol every backend implements: conversations in, `Generation`s out.

Owns the value types (`SamplingParams`, `Generation`, `Conversation`), the `GenerationBackend`
protocol and the helpers the backends share (parameter checks, reply prefixes, timing). Kept apart
from the package's `__init__` so the backends can import it without importing the registry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from erpo.errors import ErpoError

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


def continues_reply(conv: Conversation) -> bool:
    """True when `conv` ends with an assistant message: a reply prefix to continue, not a new turn."""
    return bool(conv) and conv[-1].get("role") == "assistant"


def user_turn(prompt: str, system: str | None = None) -> Conversation:
    conv = [{"role": "system", "content": system}] if system else []
    return conv + [{"role": "user", "content": prompt}]


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
