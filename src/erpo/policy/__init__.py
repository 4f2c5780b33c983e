"""The written safety policy: `Rule`/`Policy` models, the default 14-category YAML and its loader.

`load_policy_file("default")` returns the packaged policy; any other argument is a YAML file.
Validation reports *every* problem at once, each located as `file:line: field: problem`, so a
user editing a policy fixes it in one pass. Line numbers come from PyYAML's node marks: the file
is composed into a node tree and each pydantic error location is walked down that tree.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from erpo.errors import ErpoError, InputError

POLICY_DIR = Path(__file__).parent
RULE_ID_PATTERN = r"^R\d\d$"
RESPONSE_MODES = ("refuse", "safe_complete", "comply_with_care")

NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Rule(BaseModel):
    """One risk category: what is forbidden, what stays allowed, and how to respond."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=RULE_ID_PATTERN)] = Field(
        description="rule id such as R04, cited in the reasoning")
    name: NonEmptyText = Field(description="short category name, cited after the id")
    rule: NonEmptyText = Field(description="what is not allowed")
    allowed: NonEmptyText = Field(description="what stays allowed (guards against over-refusal)")
    response_mode: Literal["refuse", "safe_complete", "comply_with_care"] = Field(
        description="refuse | safe_complete (help safely, e.g. support resources) | comply_with_care")
    examples: list[NonEmptyText] = Field(min_length=1, description="example harmful prompts (train the classifier)")
    allowed_examples: list[NonEmptyText] = Field(default_factory=list, description=(
        "benign requests on the rule's topic that `allowed` permits (train the classifier as 'none')"))
    keywords: list[NonEmptyText] = Field(default_factory=list, description="optional lowercase hint words")

    @property
    def citation(self) -> str:
        from erpo.reasoning.format import rule_citation
        return rule_citation(self.id, self.name)


class Policy(BaseModel):
    """A safety policy: an ordered list of rules with unique ids."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("custom", description="policy name")
    version: int | str = Field(1, description="policy version")
    description: str = Field("", description="what the policy is for")
    rules: list[Rule] = Field(min_length=1, description="the risk categories")

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def get(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        close = difflib.get_close_matches(rule_id, self.ids, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ErpoError(f"policy {self.name!r} has no rule {rule_id!r}.{hint} Known: {', '.join(self.ids)}")

    def citation(self, rule_id: str) -> str:
        """`"[R04 Weapons of mass harm]"`: the form the reasoning cites a rule in."""
        return self.get(rule_id).citation


class PolicyError(InputError):
    """A policy file with one or more problems; `problems` lists each as `file:line: field: msg`."""

    def __init__(self, file: str | Path, problems: list[str]):
        self.problems = problems
        ErpoError.__init__(self, f"{file}: {len(problems)} problem(s) in policy:\n  " + "\n  ".join(problems))
        self.problem, self.file, self.line, self.field = problems[0], file, None, None


def resolve_policy_path(path_or_name: str | Path) -> Path:
    """`"default"` (or any packaged name) → the packaged YAML; anything else is a file path."""
    text = str(path_or_name)
    packaged = POLICY_DIR / f"{text}.yaml"
    if re.fullmatch(r"[\w-]+", text) and packaged.exists():
        return packaged
    path = Path(path_or_name)
    if not path.exists():
        known = sorted(p.stem for p in POLICY_DIR.glob("*.yaml"))
        raise InputError(f"no such policy file (packaged policies: {', '.join(known)})", file=path)
    return path


def load_policy_file(path_or_name: str | Path = "default") -> Policy:
    """Load and validate a policy; raise `PolicyError` listing every problem with its line."""
    path = resolve_policy_path(path_or_name)
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=path,
                         line=None if mark is None else mark.line + 1) from None
    problems = policy_problems(raw, root, path)
    if problems:
        raise PolicyError(path, problems)
    return Policy.model_validate(raw)


def policy_problems(raw: Any, root: yaml.Node | None, file: str | Path) -> list[str]:
    """Every problem of a parsed policy, located; empty when the policy is valid."""
    located: list[tuple[int, str]] = []
    if not isinstance(raw, dict):
        return [f"{file}:1: the policy must be a mapping with a `rules:` list"]
    try:
        Policy.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            located.append(_locate(root, err["loc"], _message(err)))
    located += _duplicate_id_problems(raw, root)
    located += _duplicate_key_problems(root)
    located.sort(key=lambda item: item[0])
    return [f"{file}:{line}: {msg}" for line, msg in located]


def _message(err: dict) -> str:
    if err["type"] == "literal_error":
        return f"must be one of {', '.join(RESPONSE_MODES)} (got {err.get('input')!r})"
    if err["type"] == "string_pattern_mismatch":
        return f"must look like R01..R99 (got {err.get('input')!r})"
    if err["type"] == "string_too_short":
        return "must not be empty"
    if err["type"] == "too_short":
        return "needs at least one entry"
    if err["type"] == "extra_forbidden":
        return "unknown field (allowed: " + ", ".join(Rule.model_fields if "rules" in err["loc"]
                                                      else Policy.model_fields) + ")"
    return err["msg"].lower() if err["type"] == "missing" else err["msg"]


def _field_name(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _locate(root: yaml.Node | None, loc: tuple, message: str) -> tuple[int, str]:
    """(line, "field: message") for a pydantic error location, walking the YAML node tree."""
    return _node_line(root, loc), f"{_field_name(loc)}: {message}"


def _node_line(root: yaml.Node | None, loc: tuple) -> int:
    """1-based line of the deepest node on `loc`; a key's own line when the key exists."""
    node, line = root, (root.start_mark.line + 1 if root is not None else 1)
    for part in loc:
        child = _child(node, part)
        if child is None:
            break   # e.g. a missing field: report the line of the enclosing mapping
        node, line = child[1], child[0].start_mark.line + 1
    return line


def _child(node: yaml.Node | None, part: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """(node whose line to report, node to descend into) for a key or index, or None."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part], node.value[part]
    return None


def _duplicate_id_problems(raw: dict, root: yaml.Node | None) -> list[tuple[int, str]]:
    rules = raw.get("rules")
    if not isinstance(rules, list):
        return []
    first_seen: dict[str, int] = {}
    found = []
    for index, rule in enumerate(rules):
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if not isinstance(rule_id, str):
            continue
        line = _node_line(root, ("rules", index, "id"))
        if rule_id in first_seen:
            found.append((line, f"rules[{index}].id: duplicate id {rule_id!r} "
                                f"(first used by rules[{first_seen[rule_id]}])"))
        else:
            first_seen[rule_id] = index
    return found


def _duplicate_key_problems(node: yaml.Node | None, path: str = "") -> list[tuple[int, str]]:
    """YAML silently keeps the last of two equal keys; a policy author almost never means that."""
    found: list[tuple[int, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            where = f"{path}.{key.value}" if path else str(key.value)
            if key.value in seen:
                found.append((key.start_mark.line + 1, f"{where}: key given twice"))
            seen.add(key.value)
            found += _duplicate_key_problems(value, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_key_problems(item, f"{path}[{index}]")
    return found


__all__ = ["Policy", "PolicyError", "Rule", "RESPONSE_MODES", "load_policy_file", "policy_problems"]
