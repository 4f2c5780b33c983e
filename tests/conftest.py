"""Shared fixtures: a tiny offline model for unit tests, the real SmolLM2 for integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from erpo.testing import tiny_tokenizer
    return tiny_tokenizer()


@pytest.fixture
def tiny_model(tiny_tokenizer):
    from erpo.testing import tiny_llama
    return tiny_llama(tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved tiny llama checkpoint directory (loadable by every erpo loader)."""
    from erpo.testing import save_tiny_model
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """An empty ERPO_CACHE so asset tests never touch (or depend on) the real cache."""
    monkeypatch.setenv("ERPO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ERPO_WHEEL_DIR", raising=False)
    return tmp_path / "cache"
