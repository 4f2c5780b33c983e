"""Files in a run directory: atomic writes, JSONL I/O and the manifest of finished stages.

Stages talk only through these files (HarmBench style). Every write goes to a temporary name in
the same directory and is renamed into place, so a kill at any moment leaves either the old file
or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Sequence

from erpo.errors import InputError
from erpo.layout import RunLayout


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(_to_plain(row), ensure_ascii=False, default=_json_default) + "\n")
    return Path(path)


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", file=path, line=exc.lineno) from None


def read_jsonl(path: str | Path) -> list[dict]:
    """Read a JSONL file; a bad line raises an error naming the file and line."""
    return [row for _, row in read_jsonl_numbered(path)]


def read_jsonl_numbered(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line, so callers can point at a bad row."""
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg}", file=path, line=lineno) from None
            if not isinstance(row, dict):
                raise InputError("each line must be a JSON object", file=path, line=lineno)
            rows.append((lineno, row))
    return rows


def read_jsonl_required(path: str | Path, fields: tuple[str, ...], *, missing_hint: str,
                        choices: dict[str, tuple] | None = None) -> list[dict]:
    """Rows of a JSONL file that must carry non-empty `fields` (and, per `choices`, one of the
    allowed values); a bad row names file, line and field. `missing_hint` says how to produce the
    file when it does not exist (e.g. which command)."""
    path = Path(path)
    if not path.exists():
        raise InputError(missing_hint, file=path)
    rows = []
    for lineno, row in read_jsonl_numbered(path):
        for key in fields:
            value = row.get(key)
            if not value or (isinstance(value, str) and not value.strip()):
                raise InputError("missing or empty", file=path, line=lineno, field=key)
        for key, allowed in (choices or {}).items():
            if row.get(key) not in allowed:
                raise InputError(f"must be one of {', '.join(map(str, allowed))}, got {row.get(key)!r}",
                                 file=path, line=lineno, field=key)
        rows.append(row)
    return rows


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging directory beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield staging
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


class JsonRecord(Mapping):
    """Base of a dataclass that is saved as one JSON object: its fields in declaration order, those
    named in `OMITTED_WHEN_NONE` left out while None (keys only some rows of a file carry).

    It also reads like that object (`record["field"]`, `record.get`, `dict(record)`, `{**record}`),
    so code and tests that take the rows of a saved file take a record the same way; `of` turns such
    a row back into the record."""

    OMITTED_WHEN_NONE: ClassVar[frozenset[str]] = frozenset()

    def _present(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)
                if not (f.name in self.OMITTED_WHEN_NONE and getattr(self, f.name) is None)]

    def __getitem__(self, key: str) -> Any:
        if key in self._present():
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._present())

    def __len__(self) -> int:
        return len(self._present())

    def to_dict(self) -> dict:
        """The JSON object: nested records as plain dicts, keys in file order."""
        return {key: _to_plain(getattr(self, key)) for key in self._present()}

    @classmethod
    def of(cls, row: Mapping) -> Any:
        """`row` as this record (a row read from a file, or a plain dict); a record is returned as is."""
        return row if isinstance(row, cls) else cls(**row)


def _to_plain(row: Any) -> Any:
    if hasattr(row, "model_dump"):
        return row.model_dump()
    if isinstance(row, JsonRecord):
        return row.to_dict()
    return row


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    if isinstance(obj, JsonRecord):
        return obj.to_dict()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set):
        return sorted(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def hash_obj(obj: Any) -> str:
    """Stable short hash of a JSON-serialisable object (config sections, input lists)."""
    blob = json.dumps(_to_plain(obj), sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def hash_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_path(path: str | Path) -> str:
    """Hash a file, or every file under a directory (names and contents), for manifest inputs."""
    path = Path(path)
    if path.is_file():
        return hash_file(path)[:16]
    h = hashlib.sha256()
    for sub in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(sub.relative_to(path)).encode())
        h.update(hash_file(sub).encode())
    return h.hexdigest()[:16]


def remove_outputs_of_other_runs(folder: str | Path, fingerprint: str, pattern: str, *,
                                 keep_unstamped: bool = False) -> list[Path]:
    """Remove what matches `pattern` in `folder` unless it was written by a run with `fingerprint`
    (a hash of that run's settings and inputs); then stamp the folder with `fingerprint`.
    `keep_unstamped` trusts a folder written before stamps existed (no stamp) instead of clearing it.

    Resumable stages reuse what an interrupted run left behind (checkpoints, finished stage-3
    rounds); reusing it after the settings or inputs changed would silently continue the old run.
    Returns the removed paths.
    """
    import shutil
    folder = Path(folder)
    stamp = folder / "erpo_run_fingerprint.txt"
    stale: list[Path] = []
    other_run = stamp.read_text().strip() != fingerprint if stamp.exists() else not keep_unstamped
    if folder.is_dir() and other_run:
        stale = sorted(folder.glob(pattern))
        for path in stale:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    write_text(stamp, fingerprint + "\n")
    return stale


class Manifest:
    """`manifest.json` of a run: which stages finished, with their config and input hashes.

    A stage is *done* when its record exists and both hashes match the current ones; the pipeline
    (its one writer) then skips it. Records are written atomically after the stage's outputs are in place.
    """

    def __init__(self, run_dir: str | Path):
        self.path = RunLayout(run_dir).manifest
        self.data: dict = read_json(self.path) if self.path.exists() else {"stages": {}}

    def is_done(self, stage: str, config_hash: str, inputs_hash: str) -> bool:
        rec = self.data["stages"].get(stage)
        return bool(rec) and rec.get("config_hash") == config_hash and rec.get("inputs_hash") == inputs_hash

    def record(self, stage: str, config_hash: str, inputs_hash: str, *, order: Sequence[str] = (),
               **extra: Any) -> None:
        """Record `stage` as finished. With `order` (the pipeline's stage names) the records are kept
        in that order, so readers list the stages as they run, whichever ran last."""
        self.reload()
        self.data["stages"][stage] = {
            **self.data["stages"].get(stage, {}),
            "config_hash": config_hash,
            "inputs_hash": inputs_hash,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **extra,
        }
        if order:
            rank = {name: i for i, name in enumerate(order)}
            self.data["stages"] = dict(sorted(self.data["stages"].items(), key=lambda kv: rank.get(kv[0], len(rank))))
        write_json(self.path, self.data)

    def reload(self) -> None:
        """Re-read the file: another process (a stage verb, a second rank) may have recorded since."""
        if self.path.exists():
            self.data = read_json(self.path)

    def forget(self, stage: str) -> None:
        self.reload()
        if self.data["stages"].pop(stage, None) is not None:
            write_json(self.path, self.data)
