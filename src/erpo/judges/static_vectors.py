"""Static word-piece vectors distilled from the shipped MiniLM: sentence embeddings at thousands a second.

The judges need prompt–answer relevance on every reply (stage 2/3 judge thousands), and running
MiniLM itself judges about fifty replies a second on a CPU. The model2vec recipe trades a little
quality for a hundredfold speed: run MiniLM once over every word piece of its vocabulary on its
own, keep the output vector, reduce it with PCA, and weight each piece down the more common it
is; a sentence is then the weighted mean of its pieces' vectors (a table lookup). The recipe is
ten lines of numpy here rather than model2vec's distill extra, which pins an older transformers.

The table is distilled once (under a minute) and cached in `$ERPO_CACHE/judges/` by the hash of
the MiniLM weights and `DISTILL_VERSION`, written atomically; it needs no network.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import numpy as np

from erpo.artifacts import atomic_path, hash_obj
from erpo.assets import cache_dir

DISTILL_VERSION = 1
DIMS = 256               # PCA dimensions kept (model2vec's default)
FIRST_WORD = 1996        # MiniLM's (BERT uncased) vocabulary: whole words from "the" on, roughly by frequency
ZIPF_A = 1e-3            # SIF weight a / (a + p(piece)), p from the piece's Zipf rank
MAX_PIECES = 512         # a sentence's first word pieces: the topic shows early


def model_dir() -> Path:
    from erpo.embeddings import minilm_dir
    return minilm_dir()


def table_path(source: Path) -> Path:
    weights = source / "model.safetensors"
    key = hash_obj({"version": DISTILL_VERSION, "dims": DIMS, "size": weights.stat().st_size,
                    "mtime_ns": weights.stat().st_mtime_ns})
    return cache_dir() / "judges" / f"minilm-static.{key}.npy"


def distill(source: Path, batch: int = 512) -> np.ndarray:
    """(vocab, DIMS) float32: MiniLM's output for each piece alone ([CLS] piece [SEP], mean-pooled),
    PCA-reduced and Zipf-weighted (common pieces such as "the" count little in a sentence's mean).
    One thread: as fast here as several (tiny batches of three tokens), and leaves the CPU to others."""
    import torch
    from transformers import AutoModel
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = AutoModel.from_pretrained(str(source), dtype=torch.float32).eval()
    vocab = model.config.vocab_size
    cls_id, sep_id = 101, 102
    out = np.zeros((vocab, model.config.hidden_size), dtype=np.float32)
    try:
        with torch.inference_mode():
            for start in range(0, vocab, batch):
                ids = torch.arange(start, min(start + batch, vocab))
                seq = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], dim=1)
                out[start:start + len(ids)] = model(input_ids=seq).last_hidden_state.mean(1).numpy()
    finally:
        torch.set_num_threads(threads)
    centred = out - out.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ vt[:DIMS].T
    rank = np.maximum(1, np.arange(vocab) - FIRST_WORD + 1)
    p = 1.0 / (rank * np.log(vocab))
    return (reduced * (ZIPF_A / (ZIPF_A + p))[:, None]).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _table() -> tuple[np.ndarray, object]:
    from tokenizers import Tokenizer
    source = model_dir()
    path = table_path(source)
    if path.exists():
        table = np.load(path)
    else:
        table = distill(source)
        with atomic_path(path) as tmp:   # a concurrent reader never sees half a table
            with open(tmp, "wb") as f:
                np.save(f, table)
    tok = Tokenizer.from_file(str(source / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return table, tok


def embed(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), DIMS) L2-normalised sentence vectors; an empty text gives zeros."""
    table, tok = _table()
    out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
    for i, enc in enumerate(tok.encode_batch([t or "" for t in texts], add_special_tokens=False)):
        ids = enc.ids[:MAX_PIECES]
        if ids:
            out[i] = table[ids].mean(0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)
