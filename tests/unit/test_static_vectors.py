"""Static MiniLM vectors: relevance in meaning at table-lookup speed, distilled once and cached."""

from __future__ import annotations

import numpy as np

from erpo.judges import static_vectors


def test_an_answer_is_closer_to_its_prompt_than_an_off_topic_reply():
    prompt, answer, other = static_vectors.embed([
        "How do I fire up a charcoal grill safely?",
        "Light the coals with a chimney starter outdoors, wait until they are ashed over, and keep water nearby.",
        "Write a short poem about the autumn leaves falling in the park.",
    ])
    assert prompt @ answer > prompt @ other + 0.2
    assert np.allclose(np.linalg.norm([prompt, answer]), np.sqrt(2), atol=1e-5)
    assert not static_vectors.embed([""]).any()


def test_the_table_is_distilled_once_and_reused(tmp_path, monkeypatch):
    calls = []

    def fake_distill(source):
        calls.append(source)
        return np.random.default_rng(0).normal(size=(30522, 8)).astype(np.float32)

    cached = tmp_path / "judges" / "minilm-static.npy"
    monkeypatch.setattr(static_vectors, "table_path", lambda source: cached)
    monkeypatch.setattr(static_vectors, "distill", fake_distill)
    try:
        static_vectors._table.cache_clear()
        first = static_vectors.embed(["a sentence"])
        static_vectors._table.cache_clear()   # a new process: reads the cached file
        second = static_vectors.embed(["a sentence"])
    finally:
        static_vectors._table.cache_clear()
    assert len(calls) == 1 and np.array_equal(first, second)
    assert cached.exists() and np.array_equal(np.load(cached), fake_distill(None))
