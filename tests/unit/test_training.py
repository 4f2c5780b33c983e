from erpo.training import checkpoint_to_resume, last_checkpoint


def _checkpoint(root, step, complete=True):
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"w")
    if complete:
        for name in ("optimizer.pt", "scheduler.pt", "trainer_state.json"):
            (folder / name).write_text("x")


def test_partial_checkpoint_from_a_kill_is_skipped(tmp_path):
    assert last_checkpoint(tmp_path / "missing") is None
    _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 12, complete=False)      # killed while saving
    assert last_checkpoint(tmp_path).endswith("checkpoint-10")   # numeric, not lexical, order


def test_no_complete_checkpoint(tmp_path):
    _checkpoint(tmp_path, 1, complete=False)
    assert last_checkpoint(tmp_path) is None


def test_checkpoints_of_other_settings_are_removed_not_resumed(tmp_path):
    """Changing the learning rate and rerunning must train anew, not continue the old schedule."""
    root = tmp_path / "checkpoints"
    assert checkpoint_to_resume(root, "run-a") is None             # first run: stamps the folder
    _checkpoint(root, 4)
    assert checkpoint_to_resume(root, "run-a").endswith("checkpoint-4")   # same settings: resumed
    assert checkpoint_to_resume(root, "run-b") is None             # other settings: removed
    assert not (root / "checkpoint-4").exists()
    _checkpoint(root, 2)
    assert checkpoint_to_resume(root, "run-b").endswith("checkpoint-2")


def test_full_logits_head_gives_trls_fused_outputs_and_gradients(tiny_tokenizer):
    """The CPU path must be a pure speed change: same log-probs, metrics, loss and gradients."""
    import torch
    from trl.trainer.utils import add_fused_lm_head

    from erpo.testing import tiny_llama
    from erpo.training import _full_logits_forward

    torch.manual_seed(0)
    ids = torch.randint(3, 300, (2, 12))
    labels = ids.clone()
    labels[:, :5] = -100                                   # prompt tokens
    results = []
    for full_logits in (False, True):
        model = tiny_llama(tiny_tokenizer)
        add_fused_lm_head(model, outputs=("log_probs", "entropy", "mean_logits", "is_top1", "log_sum_sq_probs"))
        if full_logits:
            model.forward = _full_logits_forward(model.forward)
        out = model(input_ids=ids, labels=labels, fused_lm_head=True)
        out.loss.backward()
        grad = model.get_input_embeddings().weight.grad.clone()
        results.append((out, grad))
    (fused, fused_grad), (full, full_grad) = results
    for field in ("log_probs", "entropy", "mean_logits", "log_sum_sq_probs"):
        assert torch.allclose(getattr(fused, field), getattr(full, field), atol=1e-4), field
    assert torch.equal(fused.is_top1.bool(), full.is_top1.bool()) and torch.equal(fused.label_mask, full.label_mask)
    assert torch.allclose(fused.loss, full.loss, atol=1e-5)
    assert torch.allclose(fused_grad, full_grad, atol=1e-5) and full_grad.abs().sum() > 0
    plain = model(input_ids=ids)                           # without fused_lm_head: the model's own forward
    assert plain.logits.shape == (2, 12, model.config.vocab_size)
