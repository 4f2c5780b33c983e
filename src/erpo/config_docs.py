"""The config seen from outside: a resolved config as annotated YAML, and docs/config.md.

`resolved_yaml(config)` prints every value of a loaded config, marking each that no file or
override set (`# default`); `config_reference()` renders every section and field of the pydantic
models in `erpo.config` (type, default, description) as Markdown, in the models' field order, so
the generated file only changes when the models do. Both back `erpo config show|docs`.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from erpo.config import REMOVAL, RunConfig, Section

DEFAULT_MARK = "# default"


def flow(value: Any) -> str:
    """`value` as one line of YAML (flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


# --- erpo config show ---------------------------------------------------------------------------

def resolved_yaml(config: BaseModel) -> str:
    """Every value of `config` as YAML; a value no file or override set ends in `# default`."""
    return "\n".join(_yaml_lines(config, 0, all_default=False)) + "\n"


def _yaml_lines(model: BaseModel, depth: int, all_default: bool) -> list[str]:
    lines, pad = [], "  " * depth
    for name in type(model).model_fields:
        value = getattr(model, name)
        default = all_default or name not in model.model_fields_set
        if isinstance(value, BaseModel):   # a section: its own values say where they came from
            lines += [f"{pad}{name}:", *_yaml_lines(value, depth + 1, default)]
        else:
            lines.append(f"{pad}{name}: {flow(value)}" + (f"  {DEFAULT_MARK}" if default else ""))
    return lines


# --- erpo config docs ---------------------------------------------------------------------------

INTRO = f"""\
# Configuration reference

Generated from the pydantic models in `src/erpo/config.py` by `erpo config docs`; do not edit by
hand (a unit test fails when this file is stale).

A run config is a YAML file of the sections below; unknown keys are an error that names the file,
line and key. A file may start with `base: other.yaml` (a path relative to the file): it is then
deep-merged over that file (which may have a base of its own), so a recipe states only what it
changes. `--set section.key=value` overrides come last. `erpo config show CONFIG` prints every
resolved value, marking those that came from a default. Keys marked deprecated are read, with a
FutureWarning, until {REMOVAL}.
"""


def config_reference() -> str:
    """docs/config.md: every section and field of `RunConfig`, with types, defaults and descriptions."""
    defaults = RunConfig()
    parts = [INTRO, _section("Top level", RunConfig, defaults, "")]
    for name in RunConfig.model_fields:
        value = getattr(defaults, name)
        if isinstance(value, BaseModel):
            parts += _sections(name, value)
    parts.append(_moved_keys())
    return "\n".join(parts)


def _sections(path: str, default: BaseModel) -> list[str]:
    """The section at dotted `path` and, after it, each of its own sections."""
    out = [_section(f"`{path}`", type(default), default, path)]
    for name in type(default).model_fields:
        value = getattr(default, name)
        if isinstance(value, BaseModel):
            out += _sections(f"{path}.{name}", value)
    return out


def _section(title: str, model: type[BaseModel], default: BaseModel, path: str) -> str:
    level = "#" * min(2 + path.count("."), 4)
    doc = inspect.cleandoc(model.__doc__ or "")
    rows = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        value = getattr(default, name)
        if isinstance(value, BaseModel):
            shown, kind = f"see `{path + '.' if path else ''}{name}`", "section"
        else:
            shown, kind = f"`{flow(value)}`", type_name(field.annotation)
        about = _cell(field.description or "").replace("<", "\\<")   # <name> is not an HTML tag
        rows.append(f"| `{name}` | {_cell(kind)} | {_cell(shown)} | {about} |")
    return "\n".join([f"{level} {title}", "", *([doc, ""] if doc else []), *rows, ""])


def type_name(annotation: Any) -> str:
    """A YAML reader's name for a field type: `int`, `float or null`, `stop / rollback`, `list of str`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " / ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict or annotation is dict:
        return "mapping"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _moved_keys() -> str:
    rows = ["| old key | new key |", "| --- | --- |"]
    for name in RunConfig.model_fields:
        section = RunConfig.model_fields[name].annotation
        if isinstance(section, type) and issubclass(section, Section):
            rows += [f"| `{name}.{old}` | `{name}.{new}` |" for old, new in section.MOVED.items()]
    return "\n".join([f"## Moved keys (read until {REMOVAL})", "",
                      "Flat keys that moved into a group; a file or `--set` that uses one still works, "
                      "with a FutureWarning naming the new key.", "", *rows, ""])
