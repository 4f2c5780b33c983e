from erpo.training import last_checkpoint


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
