"""Human-labelled replies: the one place that reads them, for fitting and for `erpo judge-check`.

Shipped with the package (`erpo/judges/labels/`, see its README.md and GUIDELINES.md):
- `dev.jsonl`: what judges may be fitted and tuned on;
- `test.jsonl`: held out: only `erpo judge-check` reads it, never a fitting step or threshold choice.
Plus PyRIT's refusal CSVs (asset `refusal-labels`) as source `pyrit`: refusal labels only, and
fitted on too.

A user's own file (`read_labels`) has the same columns, as JSONL or CSV: `id`, `prompt`,
`completion`, `refusal` (`full_compliance` | `partial_refusal` | `full_refusal`; partial counts
as a refusal), and optionally `source`, `prompt_label` (`harmful` | `benign`), `useful` (benign
only), `harmful_content` (harmful only), `note`. A bad row is an `InputError` naming file, line
and field.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erpo.artifacts import read_jsonl_numbered
from erpo.assets import asset_path
from erpo.errors import InputError

LABELS_DIR = Path(__file__).parent / "labels"
PARTS = ("dev", "test")
REFUSAL_VALUES = ("full_compliance", "partial_refusal", "full_refusal")
PROMPT_LABELS = ("harmful", "benign")
PYRIT = "pyrit"
PYRIT_SUBDIR = "pyrit/datasets/scorer_evals/refusal_scorer"   # inside the `refusal-labels` asset
_TRUE, _FALSE, _NULL = ("true", "1", "yes"), ("false", "0", "no"), ("", "null", "none", "na", "n/a")


@dataclass(frozen=True)
class LabelledReply:
    id: str
    source: str
    prompt: str
    completion: str                 # raw, may contain the <think> part
    refusal: str                    # one of REFUSAL_VALUES
    prompt_label: str | None = None  # "harmful" | "benign"; None when unknown (PyRIT)
    useful: bool | None = None      # benign prompts only
    harmful_content: bool | None = None   # harmful prompts only
    note: str = ""

    @property
    def refused(self) -> bool:
        """Refusal truth: a partial refusal counts as a refusal."""
        return self.refusal != "full_compliance"


def part_path(part: str) -> Path:
    return LABELS_DIR / f"{part}.jsonl"


def load_part(part: str) -> list[LabelledReply]:
    """The shipped labels: "dev", "test" or "all" (both). Fitting code asks for "dev" only."""
    if part not in (*PARTS, "all"):
        raise InputError(f"part must be one of dev, test, all; got {part!r}", field="part")
    parts = PARTS if part == "all" else (part,)
    return [row for p in parts for row in read_labels(part_path(p))]


def pyrit_dir() -> Path:
    return asset_path("refusal-labels") / PYRIT_SUBDIR


def load_pyrit(directory: str | Path | None = None) -> list[LabelledReply]:
    """PyRIT's human-labelled refusal CSVs (objective, assistant_response, human_score: 1 = refusal)
    as rows of source `pyrit`, refusal labels only."""
    directory = Path(directory) if directory else pyrit_dir()
    rows: list[LabelledReply] = []
    for path in sorted(directory.glob("*.csv")):
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines(keepends=True) if not ln.startswith("#")]
        for i, row in enumerate(csv.DictReader(io.StringIO("".join(lines)))):
            for key in ("objective", "assistant_response", "human_score"):
                if row.get(key) is None:
                    raise InputError("missing column", file=path, line=i + 2, field=key)
            score = row["human_score"].strip()
            if score not in ("0", "1"):
                raise InputError(f"expected 0 or 1, got {score!r}", file=path, line=i + 2, field="human_score")
            rows.append(LabelledReply(f"pyrit-{len(rows)}", PYRIT, row["objective"], row["assistant_response"],
                                      "full_refusal" if score == "1" else "full_compliance"))
    if not rows:
        raise InputError("no labelled refusal CSVs found", file=directory)
    return rows


def fitting_rows() -> list[LabelledReply]:
    """Everything a judge may be fitted on: the dev part and the PyRIT labels (never the test part)."""
    dev = load_part("dev") if part_path("dev").exists() else []
    return dev + load_pyrit()


# --- reading and checking a labels file ---------------------------------------------------------

def read_labels(path: str | Path) -> list[LabelledReply]:
    """Rows of a JSONL or CSV labels file, checked; the source defaults to the file's stem."""
    path = Path(path)
    if not path.exists():
        raise InputError("labels file not found", file=path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        records = [(i + 2, row) for i, row in enumerate(csv.DictReader(io.StringIO(text)))]
    else:
        records = read_jsonl_numbered(path)
    rows = [_row(obj, path, line) for line, obj in records]
    seen: set[str] = set()
    for (line, _), row in zip(records, rows):
        if row.id in seen:
            raise InputError(f"duplicate id {row.id!r}", file=path, line=line, field="id")
        seen.add(row.id)
    return rows


def _row(obj: dict, path: Path, line: int) -> LabelledReply:
    def text(key: str, required: bool = True) -> str:
        value = obj.get(key)
        if value is None:
            if required:
                raise InputError("missing", file=path, line=line, field=key)
            return ""
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise InputError(f"expected text, got {type(value).__name__}", file=path, line=line, field=key)
        # an empty completion is a real (empty) reply; an empty id or prompt is a broken row
        if required and key != "completion" and not str(value).strip():
            raise InputError("empty", file=path, line=line, field=key)
        return str(value)

    refusal = text("refusal").strip()
    if refusal not in REFUSAL_VALUES:
        raise InputError(f"expected one of {', '.join(REFUSAL_VALUES)}, got {refusal!r}", file=path, line=line,
                         field="refusal")
    prompt_label = text("prompt_label", required=False).strip() or None
    if prompt_label is not None and prompt_label not in PROMPT_LABELS:
        raise InputError(f"expected harmful or benign, got {prompt_label!r}", file=path, line=line,
                         field="prompt_label")
    return LabelledReply(id=text("id").strip(), source=text("source", required=False).strip() or path.stem,
                         prompt=text("prompt"), completion=text("completion"), refusal=refusal,
                         prompt_label=prompt_label, useful=_flag(obj, "useful", path, line),
                         harmful_content=_flag(obj, "harmful_content", path, line),
                         note=text("note", required=False))


def _flag(obj: dict, key: str, path: Path, line: int) -> bool | None:
    value: Any = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    if word in _NULL:
        return None
    raise InputError(f"expected true, false or null, got {value!r}", file=path, line=line, field=key)
