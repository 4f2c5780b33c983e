"""`ServeConfig`: every limit and switch of `erpo serve`, with a default and a help text each."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str = Field("smollm2-135m", description="embedded alias, local checkpoint dir or hub id")
    backend: str = Field("hf", description="generation backend: hf, vllm or mock (scripted demo replies)")
    served_model_name: str | None = Field(None, description="name clients use in `model` (default: the model argument)")
    host: str = Field("127.0.0.1", description="interface to bind; loopback unless you mean to expose it")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0 = any free port)")
    api_key: str | None = Field(default_factory=lambda: os.environ.get("ERPO_API_KEY") or None,
                                description="require 'Authorization: Bearer <key>' (default: $ERPO_API_KEY)")
    include_reasoning: bool = Field(True, description="return the thought as reasoning_content")
    max_batch_size: int = Field(8, ge=1, description="most requests answered by one generate call")
    batch_wait_ms: float = Field(10.0, ge=0, description="how long the worker collects requests for a batch")
    max_queue: int = Field(256, ge=1, description="waiting requests beyond this are refused with 503")
    max_tokens_limit: int = Field(2048, ge=1, description="largest max_tokens a client may ask for")
    default_max_tokens: int = Field(512, ge=1, description="max_tokens when the client sets none")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="largest accepted request body")
    dtype: str = Field("auto", description="model dtype: auto, bf16, fp16 or fp32")
    device: str | None = Field(None, description="torch device (default: cuda if available, else cpu)")

    def name(self) -> str:
        return self.served_model_name or self.model

    def accepted_names(self) -> set[str]:
        """Clients may name the model by its served name or by the argument it was started with."""
        return {self.name(), self.model}
