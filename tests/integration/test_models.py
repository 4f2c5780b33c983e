"""The embedded SmolLM2: fetched from its wheel, converted once, reloaded, generates a reply."""

import pytest

pytestmark = pytest.mark.integration


def test_embedded_model_loads_trains_and_generates(tmp_path):
    import torch

    from erpo.generation import SamplingParams, get_backend, user_turn
    from erpo.models import load_policy, resolve_model_path, save_policy
    model, tok = load_policy("smollm2-135m")
    assert "quantization_config" not in model.config.to_dict()     # a plain, trainable checkpoint
    assert model.config.num_hidden_layers == 30 and tok.chat_template
    # one training step works (Trainers refuse GGUF-flagged models; this one is plain)
    model.train()
    batch = tok(["Hello there, how are you?"], return_tensors="pt")
    loss = model(**batch, labels=batch["input_ids"]).loss
    loss.backward()
    assert torch.isfinite(loss) and model.model.layers[0].mlp.up_proj.weight.grad is not None
    model.eval()
    out = save_policy(model, tok, tmp_path / "copy")
    assert (out / "model.safetensors").exists() and (out / "tokenizer_config.json").exists()
    backend = get_backend("hf", model=resolve_model_path("smollm2-135m"))
    reply = backend.generate([user_turn("What is the capital of France?")], SamplingParams(max_new_tokens=16))[0][0]
    assert "Paris" in reply.text and reply.completion_tokens > 0
