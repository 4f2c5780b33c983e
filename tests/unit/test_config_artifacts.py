import json
import os

import pytest

from erpo.artifacts import Manifest, atomic_path, read_jsonl, write_jsonl
from erpo.config import load_config
from erpo.errors import InputError


def test_unknown_key_names_file_line_and_field(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("name: x\nsft:\n  epochs: 1\n  learnig_rate: 0.1\n")
    with pytest.raises(InputError) as err:
        load_config(cfg)
    msg = str(err.value)
    assert f"{cfg}:4" in msg and "sft.learnig_rate" in msg


def test_wrong_type_and_overrides(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("name: x\nsft:\n  epochs: many\n")
    with pytest.raises(InputError, match="sft.epochs"):
        load_config(cfg)
    ok = load_config(None, ["sft.epochs=3", "eval.suites=[harmful]", "name=demo"])
    assert ok.sft.epochs == 3 and ok.eval.suites == ["harmful"] and ok.run_dir.name == "demo"


def test_invalid_yaml_reports_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: x\nsft: [unclosed\n")
    with pytest.raises(InputError, match=r"bad.yaml:\d+"):
        load_config(cfg)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "rows.jsonl"
    write_jsonl(target, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise RuntimeError("killed mid-write")
    with pytest.raises(RuntimeError):
        write_jsonl(target, rows())
    assert read_jsonl(target) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]   # no temp file left behind


def test_read_jsonl_bad_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(InputError, match=r"x.jsonl:2"):
        read_jsonl(path)


def test_manifest_round_trip(tmp_path):
    m = Manifest(tmp_path)
    assert not m.is_done("sft", "c", "i")
    m.record("sft", "c", "i", outputs_hash="o")
    again = Manifest(tmp_path)
    assert again.is_done("sft", "c", "i") and not again.is_done("sft", "c2", "i")
    again.forget("sft")
    assert not Manifest(tmp_path).is_done("sft", "c", "i")
    assert json.loads((tmp_path / "manifest.json").read_text())["stages"] == {}


def test_atomic_path_renames_only_on_success(tmp_path):
    target = tmp_path / "f.txt"
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise ValueError
    assert not target.exists() and os.listdir(tmp_path) == []
