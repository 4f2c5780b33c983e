"""`PromptRecord`: the one shape every prompt source is converted to."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Label = Literal["harmful", "benign"]
Split = Literal["train", "eval"]


class PromptRecord(BaseModel):
    """A prompt with its label and provenance; `category` is a policy rule id when known."""
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="stable id: source + index, or source + text hash")
    prompt: str = Field(description="the user request")
    label: Label = Field(description="harmful (should be refused or answered safely) or benign")
    source: str = Field(description="registry name of the source")
    source_category: str | None = Field(None, description="the source's own category label")
    category: str | None = Field(None, description="policy rule id (e.g. R04) when known")
    split: Split | None = Field(None, description="train or eval, set by erpo.data.splits")
    meta: dict[str, Any] = Field(default_factory=dict, description="source-specific extras")

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("prompt is empty")
        return value


def text_id(source: str, text: str) -> str:
    """An id that survives re-ordering of a source: source name + short hash of the text."""
    return f"{source}-{hashlib.sha256(text.strip().encode()).hexdigest()[:10]}"
