"""Batched sampling backends behind one interface: hf (default), vllm, openai-compatible, mock.

Every backend takes chat conversations and returns, per conversation, `n` `Generation`s with the
text, token counts and latency, so judges and the `length` metrics never care which backend ran.
A conversation that ends with an assistant message is a reply prefix: the backend continues that
message (transformers' and vLLM's `continue_final_message`) and returns only the continuation.

The package owns the backend registry and `get_backend`; the protocol and value types live in
`erpo.generation.base` (re-exported here), one backend per module: `mock`, `hf`, `vllm`, `openai`.
The registry is lazy: `mock` and `openai` never import torch.
"""

from __future__ import annotations

from typing import Any

from erpo.generation.base import (
    Conversation,
    Generation,
    GenerationBackend,
    SamplingParams,
    check_params,
    continues_reply,
    timed,
    user_turn,
)
from erpo.generation.mock import MockBackend
from erpo.registry import Registry

__all__ = ["BACKENDS", "Conversation", "Generation", "GenerationBackend", "MockBackend", "SamplingParams",
           "check_params", "continues_reply", "get_backend", "timed", "user_turn"]

BACKENDS = Registry("generation backend")
BACKENDS.add("mock", "erpo.generation.mock:MockBackend")
BACKENDS.add("hf", "erpo.generation.hf:HFBackend")
BACKENDS.add("openai", "erpo.generation.openai:OpenAIBackend")
BACKENDS.add("vllm", "erpo.generation.vllm:VLLMBackend")


def get_backend(name: str, **kwargs: Any) -> GenerationBackend:
    """Build a backend by registry name, e.g. `get_backend("hf", model="smollm2-135m")`."""
    return BACKENDS.get(name)(**kwargs)
