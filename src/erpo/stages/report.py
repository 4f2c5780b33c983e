"""Report stage: `report.md` + a self-contained `report.html` from a run's evaluation files.

Reads `eval/<model>/<suite>/<attack>/{metrics.json, completions.jsonl, judgments.*.jsonl}` (the
judgments also give the Differences table: each checkpoint against the one before it and against
base, paired by prompt, with paired-bootstrap CIs) and, when present, `04_iterate/metrics.jsonl` (one
row per stage-3 round, tabled and plotted) and
`manifest.json` (time and peak memory per pipeline stage). Plots are drawn with
matplotlib (Agg backend, no display) and embedded in the HTML as base64 PNGs, so the file can be
mailed or opened offline; the Markdown links the same PNGs, saved under `report_files/`.
Every text taken from model outputs is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import yaml

from erpo.artifacts import Manifest, read_jsonl, write_text
from erpo.config import RunConfig
from erpo.generalization import CHANGE_TITLE, TITLE, generalization_tables
from erpo.layout import RunLayout
from erpo.metrics import (
    distribution,
    guard_resolution,
    load_model_metrics,
    paired_differences,
    summarize_eval,
    trained_attacks,
    with_current_names,
)
from erpo.policy import load_policy_file
from erpo.tables import (
    DIFF_COLUMNS,
    DIFF_TITLE,
    EVAL_COLUMNS,
    ROUND_COLUMNS,
    STAGE_COLUMNS,
    html_table,
    markdown,
    present,
)

DISTRIBUTION_NOTE = ("ID = in-distribution suites (held-out halves of the training sources); OOD = sources no "
                     "training stage saw (data.holdout_sources), scored whole.")


def stage_usage(run_dir: str | Path) -> list[tuple[str, dict]]:
    """(stage, manifest record) for each pipeline stage that ran, in stage order (the pipeline keeps
    the manifest in that order); the records carry `seconds`, `peak_rss_gib` and `rss_increase_gib`
    (see `erpo.resources`)."""
    if not RunLayout(run_dir).manifest.exists():
        return []
    return [(name, record) for name, record in Manifest(run_dir).data["stages"].items() if "seconds" in record]


def iterate_rows(run_dir: Path) -> list[dict]:
    """Per-round rows of stage 3 (round 0 = the stage-2 model), flattened to refusal/tokens."""
    path = RunLayout(run_dir).iterate_metrics
    rows = []
    for row in read_jsonl(path) if path.exists() else []:
        flat = with_current_names({**row, **(row.get("metrics") or {})})
        if flat.get("harmful_refusal") is not None and flat.get("mean_tokens") is not None:
            rows.append({"round": flat.get("round"), "harmful_refusal": flat["harmful_refusal"],
                         "mean_tokens": flat["mean_tokens"], "accepted": flat.get("accepted", True)})
    return rows


def extra_tables(run_dir: Path) -> list[tuple[str, tuple, list[dict]]]:
    """(title, columns, rows) for the stage-3 rounds (held-out guard prompts) and the stage costs."""
    tables = []
    rounds_file = RunLayout(run_dir).iterate_metrics
    if rounds_file.exists():
        rows = [with_current_names(row) for row in read_jsonl(rounds_file)]
        noise = guard_resolution(rows)
        tables.append((f"Stage 3 rounds (guard prompts, in-distribution{': ' + noise if noise else ''}; "
                       "round 0 = the stage-2 model)",
                       ROUND_COLUMNS, rows))
    rows = [{"stage": name, **rec} for name, rec in stage_usage(run_dir)]
    if rows:
        tables.append(("Stages: wall time and peak memory (process RSS)", STAGE_COLUMNS, rows))
    return tables


# --- plots ------------------------------------------------------------------------------------

def _figure(width: float = 7.0, height: float = 4.2):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    ax.grid(alpha=0.3)
    return fig, ax


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def plot_safety_vs_tokens(rows: list[dict], rounds: list[dict]) -> bytes | None:
    points = [r for r in rows if r["harmful_refusal"] is not None and r["mean_tokens"] is not None]
    if not points and not rounds:
        return None
    fig, ax = _figure()
    for r in points:
        ax.scatter(r["mean_tokens"], 100 * r["harmful_refusal"], s=60, zorder=3)
        ax.annotate(r["model"], (r["mean_tokens"], 100 * r["harmful_refusal"]), textcoords="offset points",
                    xytext=(6, 4), fontsize=9)
    if rounds:
        ax.plot([r["mean_tokens"] for r in rounds], [100 * r["harmful_refusal"] for r in rounds], "--o",
                color="gray", alpha=0.8, label="stage-3 rounds (guard set)")
        for r in rounds:
            ax.annotate(f"r{r['round']}", (r["mean_tokens"], 100 * r["harmful_refusal"]), fontsize=8,
                        textcoords="offset points", xytext=(4, -10), color="gray")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("mean reply tokens (thought + answer)")
    ax.set_ylabel("refusal rate on harmful prompts (%)")
    ax.set_ylim(-5, 105)
    ax.set_title("Safety vs. length, per evaluated model")
    return _png(fig)


def _grouped_bars(groups: list[str], series: dict[str, list[float | None]], title: str, ylabel: str) -> bytes | None:
    import numpy as np
    if not groups or not series:
        return None
    fig, ax = _figure(width=min(12.0, max(7.0, 2 + 0.3 * len(groups) * len(series))), height=4.6)
    width = 0.8 / len(series)
    x = np.arange(len(groups))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + i * width - 0.4 + width / 2, [100 * (v or 0) for v in values], width, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=30, ha="right", fontsize=9)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _png(fig)


def plot_attack_success(rows: list[dict]) -> bytes | None:
    attacks = sorted({a for r in rows for a in r["attack_success_by_attack"]})
    series = {r["model"]: [r["attack_success_by_attack"].get(a) for a in attacks]
              for r in rows if r["attack_success_by_attack"]}
    return _grouped_bars(attacks, series, "Attack success rate (harmful prompts not refused)", "ASR (%)")


def _rule_title(rule_id: str) -> str:
    """`R04` → `R04 Weapons of mass harm` (default policy names), for legible axis labels."""
    try:
        return f"{rule_id} {load_policy_file('default').get(rule_id).name}"
    except Exception:   # an id outside the default policy (custom policy, "none"): show as is
        return rule_id


def plot_category_refusal(per_model: dict[str, dict]) -> bytes | None:
    cats_by_model = {m: (s.get("harmful", {}).get("none") or {}).get("by_category") or {} for m, s in per_model.items()}
    cats = sorted({c for cats in cats_by_model.values() for c in cats})
    series = {m: [(cats.get(c) or {}).get("value") for c in cats] for m, cats in cats_by_model.items() if cats}
    return _grouped_bars([_rule_title(c) for c in cats], series, "Refusal rate on harmful prompts, by policy category",
                         "refusal (%)")


# --- sample replies ---------------------------------------------------------------------------

def sample_replies(model_dir: Path, per_suite: int) -> list[dict]:
    """The first few replies of each suite/attack, with the refusal judge's verdict."""
    samples = []
    for folder in sorted(p.parent for p in model_dir.glob("*/*/completions.jsonl")):
        verdicts = {}
        if (folder / "judgments.refusal.jsonl").exists():
            verdicts = {j["id"]: j["label"] for j in read_jsonl(folder / "judgments.refusal.jsonl")}
        for row in read_jsonl(folder / "completions.jsonl")[:per_suite]:
            samples.append({"where": f"{folder.parent.name}/{folder.name} ({distribution(folder.parent.name)})",
                            "prompt": row["attacked_prompt"],
                            "thought": row.get("thought", ""), "answer": row.get("answer", ""),
                            "verdict": verdicts.get(row["id"], "?"), "label": row["label"]})
    return samples


# --- the report -------------------------------------------------------------------------------

def run_trained_attacks(run_dir: str | Path) -> set[str] | None:
    """The attacks the run trained on (`erpo.metrics.trained_attacks` of its resolved config), or None
    when the run directory has no readable config."""
    path = RunLayout(run_dir).config_file
    try:
        return trained_attacks(RunConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))))
    except (OSError, ValueError, TypeError, AttributeError):   # no config, or one of another erpo version
        return None


def attack_note(rows: list[dict], trained: set[str] | None) -> str:
    """Which jailbreak attacks count as trained and which as unseen, for the line under the table."""
    attacks = sorted({a for r in rows for a in r.get("attack_success_by_attack", {}) if a != "none"})
    if trained is None or not attacks:
        return ""
    seen = [a for a in attacks if a in trained]
    unseen = [a for a in attacks if a not in trained]
    return (f"Jailbreak attacks used in training: {', '.join(seen) or 'none'}; never used in training: "
            f"{', '.join(unseen) or 'none'}.")


def write_report(run_dir: str | Path, *, samples: int = 3, trained: set[str] | None = None) -> list[Path]:
    """Write `report.md`, `report.html` and `report_files/*.png`; returns the two report paths.
    `trained` (the attacks some training stage used; default: from the run's resolved config) splits
    the jailbreak ASR into trained and unseen attacks."""
    layout = RunLayout(run_dir)
    run_dir, eval_root = layout.root, layout.eval_dir
    trained = run_trained_attacks(run_dir) if trained is None else trained
    rows = summarize_eval(eval_root, trained)
    labels = [r["model"] for r in rows]
    per_model = {m: load_model_metrics(eval_root / m) for m in labels}
    plots = {
        "safety_vs_tokens": plot_safety_vs_tokens(rows, iterate_rows(run_dir)),
        "attack_success": plot_attack_success(rows),
        "category_refusal": plot_category_refusal(per_model),
    }
    plots = {k: v for k, v in plots.items() if v}
    for name, png in plots.items():
        out = layout.report_files / f"{name}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)
    replies = {m: sample_replies(eval_root / m, samples) for m in labels}
    per_reply: dict = {}   # each eval folder's per-reply values, read once for both tables
    diffs = paired_differences(eval_root, cache=per_reply)
    note = attack_note(rows, trained)
    general = generalization_tables(eval_root, trained, cache=per_reply)
    md = write_text(layout.report_md, _markdown(run_dir, rows, plots, replies, diffs, note, general))
    page = write_text(layout.report_html, _html(run_dir, rows, plots, replies, diffs, note, general))
    return [md, page]


def report_stage(config: RunConfig, run_dir: str | Path) -> None:
    """The pipeline's report stage: the report of the run's eval files."""
    write_report(run_dir)


def _markdown(run_dir: Path, rows: list[dict], plots: dict, replies: dict, diffs: list[dict] = (),
              note: str = "", general: tuple = ((), [], (), [])) -> str:
    lines = [f"# ERPO report — {run_dir.name}", ""]
    if not rows:
        lines += ["No evaluation results yet (run `erpo eval` or `erpo run`).", ""]
    lines += markdown(present(EVAL_COLUMNS, rows), rows)
    lines += ["", "Rates are point estimates; `eval/<model>/<suite>/<attack>/metrics.json` has 95% bootstrap CIs.",
              DISTRIBUTION_NOTE] + ([note] if note else []) + [""]
    rate_columns, rate_rows, change_columns, change_rows = general
    if rate_rows:
        lines += ["## Generalization", "", TITLE + ".", ""] + markdown(rate_columns, rate_rows) + [""]
    if change_rows and len(change_columns) > 2:
        lines += [CHANGE_TITLE + ".", ""] + markdown(change_columns, change_rows) + [""]
    if diffs:
        lines += ["## Differences", "", DIFF_TITLE + ".", ""] + markdown(DIFF_COLUMNS, diffs) + [""]
    for title, columns, table in extra_tables(run_dir):
        lines += [f"## {title}", ""] + markdown(columns, table) + [""]
    folder = RunLayout(run_dir).report_files.name   # the Markdown links the PNGs relative to itself
    lines += [f"![{name}]({folder}/{name}.png)" for name in plots]
    for model, samples in replies.items():
        lines += ["", f"## Sample replies — {model}", ""]
        for s in samples:
            lines += [f"**{s['where']}** ({s['label']}, judged {s['verdict']})", "",
                      "> " + s["prompt"][:400].replace("\n", "\n> "), ""]
            if s["thought"]:
                lines += ["*Thought:* " + s["thought"][:600].replace("\n", " "), ""]
            lines += ["*Answer:* " + (s["answer"][:600].replace("\n", " ") or "(empty)"), ""]
    return "\n".join(lines) + "\n"


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:1em 0}
.reply{border-left:4px solid #ccc;padding:4px 12px;margin:12px 0}.refusal{border-color:#2a7}\
.compliance{border-color:#d54}
.thought{color:#666;font-style:italic;white-space:pre-wrap}.answer,.prompt{white-space:pre-wrap}.prompt{color:#225}"""


def _html(run_dir: Path, rows: list[dict], plots: dict, replies: dict, diffs: list[dict] = (), note: str = "",
          general: tuple = ((), [], (), [])) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>ERPO report — {esc(run_dir.name)}</title>",
             f"<style>{CSS}</style></head><body><h1>ERPO report — {esc(run_dir.name)}</h1>"]
    parts.append(html_table(present(EVAL_COLUMNS, rows), rows))
    parts.append("<p>95% bootstrap CIs are in "
                 "<code>eval/&lt;model&gt;/&lt;suite&gt;/&lt;attack&gt;/metrics.json</code>.</p>")
    parts += [f"<p>{esc(text)}</p>" for text in (DISTRIBUTION_NOTE, note) if text]
    rate_columns, rate_rows, change_columns, change_rows = general
    if rate_rows:
        parts.append(f"<h2>Generalization</h2><p>{esc(TITLE)}.</p>" + html_table(rate_columns, rate_rows))
    if change_rows and len(change_columns) > 2:
        parts.append(f"<p>{esc(CHANGE_TITLE)}.</p>" + html_table(change_columns, change_rows))
    if diffs:
        parts.append(f"<h2>Differences</h2><p>{esc(DIFF_TITLE)}.</p>" + html_table(DIFF_COLUMNS, diffs))
    parts += [f"<h2>{esc(title)}</h2>" + html_table(columns, table) for title, columns, table in extra_tables(run_dir)]
    for name, png in plots.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<img alt='{esc(name)}' src='data:image/png;base64,{data}'>")
    for model, samples in replies.items():
        parts.append(f"<h2>Sample replies — {esc(model)}</h2>")
        for s in samples:
            parts.append(f"<div class='reply {esc(s['verdict'])}'><b>{esc(s['where'])}</b> ({esc(s['label'])}, "
                         f"judged {esc(s['verdict'])})<div class='prompt'>{esc(s['prompt'][:600])}</div>"
                         + (f"<div class='thought'>{esc(s['thought'][:1200])}</div>" if s["thought"] else "")
                         + f"<div class='answer'>{esc(s['answer'][:1200] or '(empty)')}</div></div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
