"""The scripted backend for fast, exact tests: no model, no torch."""

from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

from erpo.generation.base import Conversation, Generation, SamplingParams


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
