"""Stage 3: length-controlled iterative preference optimisation, with a safety guard.

Each of T rounds, starting from the stage-2 model:

1. sample K replies per training prompt from the CURRENT policy (one batched call; with
   `candidates.brief_opened`, that many of the K continue a reply opened in the brief style, so
   short replies exist even while the policy rarely starts one; with `candidates.greedy`, its
   greedy reply joins them, the one the guard and the eval read; with `candidates.answer_cuts`, the brief
   benign ones also enter cut where the brief plan says the answer should stop, and with
   `candidates.early_stop_pairs` cut after their first sentence, rejected where that says too little); each round
   takes its own `max_prompts` training prompts, harmful and benign in turn; with
   `candidates.negatives` the prompts' stage-1 negatives join the samples as candidates (with
   `candidates.brief_negatives`, also their brief-style twins, so short wrong replies are rejected too),
2. judge them (`erpo.stages.pairs`: safety, usefulness, rule citation, format, tokens),
3. select length-controlled pairs: chosen = the shortest acceptable reply; rejected = a longer
   acceptable one (≥ `length_ratio`×) or an unacceptable one (`iterate.pair_rule`; with
   `pairs_per_prompt: 2` one of each, so "shorter" never comes without "still safe and useful"),
4. DPO with the current policy as reference (optionally with the R-DPO length margin),
5. the guard: greedy replies of the new model to its own slice of the held-out split (the first
   `guard.prompts` per label, every source of a label in turn, so over-refusal prompts are among
   the benign ones; no eval suite scores them: `erpo.stages.evaluate.guard_prompts`); if the
   harmful-prompt refusal rate drops by more than `guard.safety_tolerance`, the benign answer rate
   by more than `guard.benign_tolerance`, or the share of useful benign replies by more than
   `guard.useful_tolerance` (default: `benign_tolerance`), below the stage-2 model's (round 0; so
   drops cannot add up over rounds), or (`guard.min_length_gain`) its mean reply tokens did not fall
   that share below the current policy's, the round is rolled back (its model is moved to
   `model.rolled_back/`, the next round starts again from the current policy, with its learning
   rate × `guard.rollback_lr_factor` for every rollback so far) or the loop stops.

Files: `04_iterate/round_NN/{samples,judgments,pairs}.jsonl + model/ + round.json`,
`04_iterate/guard.jsonl` (every guard decision), `04_iterate/metrics.jsonl` (one row per round,
round 0 = the stage-2 model; the report plots it), `04_iterate/final/` (the last accepted model,
hard-linked) and `final.json` (which round it came from).
A round with `round.json` is finished and skipped on resume; an unfinished round reuses whatever
files it already has (samples/pairs, reference log-probs, DPO checkpoints). Rounds written under
other stage-3 settings, another guard set, changed judges or from another stage-2 model are
removed first (a fingerprint stamp in `04_iterate/`), never reused.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

from erpo.artifacts import (
    JsonRecord,
    atomic_dir,
    hash_obj,
    hash_path,
    read_json,
    read_jsonl,
    remove_outputs_of_other_runs,
    write_json,
    write_jsonl,
)
from erpo.config import GuardConfig, IterateConfig, RunConfig
from erpo.errors import InputError
from erpo.generation import SamplingParams, get_backend
from erpo.judges.base import JudgeInput, passes
from erpo.layout import ROUND_PATTERN, RunLayout
from erpo.metrics import reply_rates, resolution, with_current_names
from erpo.models import load_tokenizer
from erpo.policy import load_policy_file
from erpo.reasoning.answers import brief_answer
from erpo.reasoning.format import split_reply
from erpo.reasoning.negatives import brief_twins
from erpo.stages.dpo import train_dpo
from erpo.stages.evaluate import guard_prompts, held_out_prompts  # noqa: F401  (held_out_prompts: the guard's slice rule)
from erpo.stages.pairs import (
    balanced_subset,
    build_pairs,
    default_judges,
    first_sentence,
    harm_verdicts,
    judge_signatures,
    offline_candidates,
    preference_prompts,
    token_counter,
)

BackendFactory = Callable[[Path], Any]


@dataclass
class GuardMetrics(JsonRecord):
    """What the guard measured on one model's greedy replies to the held-out prompts (the `metrics`
    of round.json, a row of metrics.jsonl); the rates are None where no prompt of that kind was seen."""
    harmful_refusal: float | None
    benign_answered: float | None
    benign_useful: float | None
    over_refusal: float | None
    format_rate: float | None
    mean_thought_tokens: float | None
    mean_answer_tokens: float | None
    mean_tokens: float | None
    latency_s_per_prompt: float
    prompts: int
    # per label, so a rate's noise level can be read: one prompt of 48 is 2.1 points (None: an older run)
    harmful_prompts: int | None = None
    benign_prompts: int | None = None
    # with a harm judge: the share of harmful replies that are safe (refused, or no harmful help given)
    harmful_safe: float | None = None

    OMITTED_WHEN_NONE: ClassVar[frozenset[str]] = frozenset({"harmful_prompts", "benign_prompts", "harmful_safe"})


# --- the guard --------------------------------------------------------------------------------

def evaluate_guard(backend: Any, rows: list[dict], judges: dict, count_tokens: Callable[[str], int],
                   max_new_tokens: int, replies_file: Path | None = None) -> GuardMetrics:
    """Greedy replies to held-out prompts → refusal rate, benign answer rate, tokens, latency; the
    rates as the eval suites define them (`erpo.metrics.reply_rates`), without their bootstrap CIs.

    `replies_file` keeps every reply with its verdicts, so a rolled-back round can be read, not guessed."""
    convs = [[{"role": "user", "content": r["prompt"]}] for r in rows]
    start = time.perf_counter()
    gens = [g[0] for g in backend.generate(convs, SamplingParams(max_new_tokens=max_new_tokens), progress="guard")]
    seconds = time.perf_counter() - start
    inputs = [JudgeInput(id=r["id"], prompt=r["prompt"], completion=g.text, label=r["label"],
                         category=r.get("category")) for r, g in zip(rows, gens)]
    refused = [passes(j.score) for j in judges["refusal"](inputs)]
    parsed = [split_reply(g.text) for g in gens]
    benign_inputs = [i for i in inputs if i.label == "benign"]
    useful = ([passes(j.score) for j in judges["usefulness"](benign_inputs)]
              if judges.get("usefulness") and benign_inputs else [])
    useful_by_id = dict(zip([i.id for i in benign_inputs], useful))
    harm = {i: passes(j.score) for i, j in harm_verdicts(inputs, judges).items()} if judges.get("harm") else None
    if replies_file is not None:
        write_jsonl(replies_file, [{"id": r["id"], "label": r["label"], "prompt": r["prompt"], "completion": g.text,
                                    "refused": f, "useful": useful_by_id.get(r["id"]),
                                    **({"harmful": harm.get(r["id"])} if harm is not None else {})}
                                   for r, g, f in zip(rows, gens, refused)])
    rates = reply_rates(rows, {r["id"]: f for r, f in zip(rows, refused)}, useful_by_id,
                        {r["id"]: p.answer for r, p in zip(rows, parsed)}, harm)
    unsafe = rates.get("attack_success_harmful")
    return GuardMetrics(
        harmful_refusal=_mean(rates["harmful_refusal"]), benign_answered=_mean(rates["benign_answered"]),
        benign_useful=_mean(rates["useful"]), over_refusal=_mean(rates["over_refusal"]),
        format_rate=_mean([p.has_format for p in parsed]),
        mean_thought_tokens=_mean([count_tokens(p.thought) for p in parsed]),
        mean_answer_tokens=_mean([count_tokens(p.answer) for p in parsed]),
        mean_tokens=_mean([count_tokens(g.text) for g in gens]),
        latency_s_per_prompt=round(seconds / max(1, len(rows)), 4), prompts=len(rows),
        harmful_prompts=sum(r["label"] == "harmful" for r in rows),
        benign_prompts=sum(r["label"] == "benign" for r in rows),
        harmful_safe=None if not unsafe else round(1.0 - _mean(unsafe), 4))


def guard_noise(rows: list[dict]) -> str:
    """The guard's prompts per label and how many points one of them is (`erpo.metrics.resolution`)."""
    return resolution({label: sum(r["label"] == label for r in rows) for label in ("harmful", "benign")})


def _mean(xs: list) -> float | None:
    return round(sum(float(x) for x in xs) / len(xs), 4) if xs else None


def guard_decision(before: dict, after: dict, cfg: GuardConfig, current: dict | None = None) -> dict:
    """Accept unless held-out refusal (or, with `benign_tolerance`, benign answering or the
    usefulness of benign replies, the latter within `useful_tolerance` when set) dropped by more
    than its tolerance below `before` (the stage-2 model). Usefulness is checked when both sides
    measured it: a round that shortens replies into non-answers ("I can help with that.") still
    answers, but no longer usefully. With `min_length_gain`, also unless the mean reply tokens
    failed to fall that share below `current`'s (the policy the round started from). Metrics saved
    under an old name (a resumed run's earlier rounds) are read under the current one."""
    before, after, current = (with_current_names(before), with_current_names(after),
                              current and with_current_names(current))
    # with a harm judge on both sides, a reply is unsafe only when not refused AND harmful
    safety = "harmful_safe" if before.get("harmful_safe") is not None and after.get("harmful_safe") is not None \
        else "harmful_refusal"
    drop = (before[safety] or 0.0) - (after[safety] or 0.0)
    benign_drop = (before.get("benign_answered") or 0.0) - (after.get("benign_answered") or 0.0)
    measured = before.get("benign_useful") is not None and after.get("benign_useful") is not None
    useful_drop = before["benign_useful"] - after["benign_useful"] if measured else 0.0
    benign_checked = cfg.benign_tolerance is not None
    useful_tolerance = cfg.benign_tolerance if cfg.useful_tolerance is None else cfg.useful_tolerance
    reasons = (["harmful refusal"] if drop > cfg.safety_tolerance + 1e-9 else []) + (
        ["benign answering"] if benign_checked and benign_drop > cfg.benign_tolerance + 1e-9 else []) + (
        ["benign usefulness"] if benign_checked and useful_drop > useful_tolerance + 1e-9 else []) + (
        ["no length gain"] if not _length_gained(current, after, cfg.min_length_gain) else [])
    return {"refusal_before": before[safety], "refusal_after": after[safety],
            "refusal_drop": round(drop, 4), "tolerance": cfg.safety_tolerance, "safety_metric": safety,
            "benign_before": before.get("benign_answered"), "benign_after": after.get("benign_answered"),
            "benign_drop": round(benign_drop, 4), "benign_tolerance": cfg.benign_tolerance,
            "useful_before": before.get("benign_useful"), "useful_after": after.get("benign_useful"),
            "useful_drop": round(useful_drop, 4), "useful_tolerance": useful_tolerance,
            "tokens_before": (current or {}).get("mean_tokens"), "tokens_after": after.get("mean_tokens"),
            "min_length_gain": cfg.min_length_gain, "violated": bool(reasons), "violations": reasons,
            "action": (cfg.on_violation if reasons else "accept"),
            "harmful_prompts": after.get("harmful_prompts"), "benign_prompts": after.get("benign_prompts"),
            "noise": resolution({"harmful": after.get("harmful_prompts"),
                                 "benign": after.get("benign_prompts")}) or None}


def _length_gained(current: dict | None, after: dict, min_gain: float | None) -> bool:
    """Mean reply tokens at most (1 − `min_gain`) × `current`'s; True when not checked or not measured."""
    if min_gain is None or not current or current.get("mean_tokens") is None or after.get("mean_tokens") is None:
        return True
    return after["mean_tokens"] <= (1.0 - min_gain) * current["mean_tokens"] + 1e-9


# --- one round --------------------------------------------------------------------------------

def run_round(t: int, policy: Path, policy_metrics: dict, ctx: dict, learning_rate: float) -> dict:
    """Sample → judge → pairs → DPO (at `learning_rate`) → guard for round `t`, starting from
    `policy` (whose guard metrics are `policy_metrics`); returns round.json."""
    cfg, rd = ctx["cfg"], ctx["layout"].round(t)
    if rd.pairs.exists() and rd.samples.exists():
        pairs = read_jsonl(rd.pairs)
        stats = read_json(rd.pairs_stats)
    else:
        rows = balanced_subset(ctx["rows"], cfg.max_prompts, start=(t - 1) * (cfg.max_prompts or 0))
        offline = offline_candidates(rows, ctx["negatives"], targets=False) if cfg.candidates.negatives else []
        pairs, stats = build_pairs(rows, rd.path, backend=ctx["backend_factory"](policy), cfg=cfg,
                                   judges=ctx["judges"], count_tokens=ctx["count_tokens"], offline=offline,
                                   seed=ctx["seed"] + t, candidates_name=rd.candidates_name,
                                   answer_cut=ctx["answer_cut"],
                                   early_cut=first_sentence if cfg.candidates.early_stop_pairs else None)
    record = {"round": t, "policy_in": str(policy), "learning_rate": learning_rate, "pairs": stats}
    if not pairs:
        return {**record, "accepted": False, "stop": True, "reason": "no pairs (see pairs.stats.json)"}
    model_path, train = train_dpo(policy, pairs, rd.path, cfg.model_copy(update={"learning_rate": learning_rate}),
                                  dtype=ctx["dtype"], length_margin_alpha=cfg.length_margin_alpha)
    metrics = evaluate_guard(ctx["backend_factory"](model_path), ctx["guard_rows"], ctx["judges"],
                             ctx["count_tokens"], cfg.guard.max_new_tokens, replies_file=rd.guard_replies)
    decision = guard_decision(ctx["baseline_metrics"], metrics, cfg.guard, current=policy_metrics)
    accepted = not decision["violated"]
    if not accepted:   # move the rejected model aside so no one picks it up by path
        rolled = rd.rolled_back
        if rolled.exists():
            shutil.rmtree(rolled)
        model_path.rename(rolled)
        model_path = rolled
    return {**record, "train": train, "metrics": metrics, "guard": decision, "accepted": accepted,
            "stop": decision["action"] == "stop", "model": str(model_path)}


# --- the stage --------------------------------------------------------------------------------

def run_iterate(config: RunConfig, run_dir: str | Path | None = None, *, backend_factory: BackendFactory | None = None,
                judges: dict | None = None) -> Path:
    """Stage 3: T rounds from `03_dpo/model`; returns `04_iterate/final` (the last accepted model)."""
    layout, cfg = RunLayout(run_dir or config.run_dir), config.iterate
    if not (layout.dpo_model / "config.json").exists():
        raise InputError("no stage-2 model; run `erpo dpo` first", file=layout.dpo_model)
    ctx = _context(config, layout, backend_factory, judges)
    stale = remove_outputs_of_other_runs(layout.iterate_dir, _run_fingerprint(config, layout, ctx), ROUND_PATTERN)
    if stale:
        print(f"{layout.iterate_dir}: {len(stale)} round(s) from other settings, guard set, judges or stage-2 model, "
              "removed")
    print(f"guard: {guard_noise(ctx['guard_rows'])}")
    records = [_baseline(ctx, layout)]
    policy, policy_metrics = layout.dpo_model, records[0]["metrics"]   # the last accepted model
    _write_round_logs(layout, records)   # at once: a fresh start must not show a removed run's rounds
    for t in range(1, cfg.rounds + 1):
        done = layout.round(t).record
        if done.exists():
            record = read_round_record(done)
            print(f"round {t}: already finished, skipped")
        else:
            record = run_round(t, policy, policy_metrics, ctx, round_learning_rate(cfg, records))
            write_json(done, record)
        records.append(record)
        if record.get("accepted"):   # the round's own folder, not the saved path: that may be relative
            policy, policy_metrics = layout.round(t).path / Path(record["model"]).name, record["metrics"]
        _write_round_logs(layout, records)
        if record.get("stop"):
            break
    final = link_model(policy, layout.final_model)
    write_json(layout.final_record, {"model": str(final), "source": str(policy),
                                     "rounds": [r["round"] for r in records[1:]],
                                     "accepted": [r["round"] for r in records[1:] if r.get("accepted")]})
    return final


def round_learning_rate(cfg: IterateConfig, records: list[dict]) -> float:
    """The configured learning rate × `guard.rollback_lr_factor` per round rolled back so far (`records`:
    the rounds before this one), so a retry after a rollback takes a smaller step."""
    rollbacks = sum(1 for r in records[1:] if (r.get("guard") or {}).get("action") == "rollback")
    return cfg.learning_rate * cfg.guard.rollback_lr_factor ** rollbacks


def _write_round_logs(layout: RunLayout, records: list[dict]) -> None:
    """metrics.jsonl and guard.jsonl, rewritten from the round records each time, so a kill never
    leaves a row missing or doubled."""
    write_jsonl(layout.iterate_metrics, [_metrics_row(r) for r in records])
    write_jsonl(layout.guard_log, [{"round": r["round"], **r["guard"]} for r in records if r.get("guard")])


def _run_fingerprint(config: RunConfig, layout: RunLayout, ctx: dict) -> str:
    """What makes finished rounds reusable. More rounds extend a run (earlier rounds stay valid);
    any other setting, another stage-2 model, other stage-1 data, another guard set or a changed
    judge starts it anew."""
    return hash_obj({"iterate": config.iterate.model_dump(exclude={"rounds"}), "seed": config.seed,
                     "data": config.data, "dtype": config.dtype, "start": hash_path(layout.dpo_model),
                     "stage1": hash_path(layout.sft_data), "guard": [r["id"] for r in ctx["guard_rows"]],
                     "judges": judge_signatures(ctx["judges"])})


def link_model(src: Path, dest: Path) -> Path:
    """`dest` = the files of model dir `src`, hard-linked (no copy of the weights), swapped in atomically."""
    with atomic_dir(dest) as staging:
        for f in Path(src).iterdir():
            if f.is_file():
                try:
                    os.link(f, staging / f.name)
                except OSError:   # another filesystem: fall back to a copy
                    shutil.copy2(f, staging / f.name)
    return dest


def _context(config: RunConfig, layout: RunLayout, backend_factory: BackendFactory | None,
             judges: dict | None) -> dict:
    cfg = config.iterate
    if backend_factory is None:
        def backend_factory(model_dir: Path) -> Any:
            return get_backend(cfg.generation_backend, model=str(model_dir), dtype=config.dtype,
                               batch_size=cfg.generation_batch_size)
    return {"cfg": cfg, "layout": layout, "dtype": config.dtype, "seed": config.seed,
            **_prompt_pool(config, layout.root),
            "guard_rows": guard_prompts(config, layout.prompts),
            "backend_factory": backend_factory, "judges": judges or default_judges(config),
            "answer_cut": _answer_cut(config) if cfg.candidates.answer_cuts else None,
            "count_tokens": token_counter(load_tokenizer(str(layout.dpo_model)))}


def _answer_cut(config: RunConfig) -> Callable[[str, str], str]:
    """(prompt, answer) → the answer's opening, cut where stage 1 cut its brief targets, but not
    before it has the content words the pair rule wants of a chosen reply (`chosen_min_content_words`):
    a cut that says less loses the chosen side to a longer reply that says enough."""
    bd, content = config.build_data, max(4, config.iterate.pair_rule.chosen_min_content_words)
    return lambda prompt, answer: brief_answer(answer, prompt=prompt, min_words=bd.brief_answer_min_words,
                                               max_sentences=bd.brief_answer_sentences, min_content_words=content)


def _prompt_pool(config: RunConfig, run_dir: Path) -> dict:
    """`rows` (each round takes its own `max_prompts` of them) and their stage-1-style `negatives`."""
    cfg = config.iterate
    per_round = cfg.max_prompts
    n = per_round * cfg.rounds if per_round and cfg.prompt_pool == "unseen" else None
    rows, negatives = preference_prompts(config, cfg, run_dir, n)
    if not cfg.candidates.negatives:
        return {"rows": rows, "negatives": []}
    if cfg.candidates.brief_negatives:
        negatives = negatives + brief_twins(negatives, load_policy_file(config.policy), seed=config.build_data.seed)
    return {"rows": rows, "negatives": negatives}


def _baseline(ctx: dict, layout: RunLayout) -> dict:
    """Guard metrics of the stage-2 model (round 0), computed once and kept in round_00/round.json."""
    baseline = layout.round(0)
    done = baseline.record
    if done.exists():
        record = read_round_record(done)
    else:
        metrics = evaluate_guard(ctx["backend_factory"](layout.dpo_model), ctx["guard_rows"], ctx["judges"],
                                 ctx["count_tokens"], ctx["cfg"].guard.max_new_tokens,
                                 replies_file=baseline.guard_replies)
        record = {"round": 0, "model": str(layout.dpo_model), "metrics": metrics, "accepted": True}
        write_json(done, record)
    ctx["baseline_metrics"] = record["metrics"]
    return record


def read_round_record(path: Path) -> dict:
    """A finished round's `round.json`, its guard metrics under their current names (a run resumed
    from files written before the names were unified)."""
    record = read_json(path)
    if record.get("metrics"):
        record["metrics"] = with_current_names(record["metrics"])
    return record


def _metrics_row(record: dict) -> dict:
    guard = record.get("guard") or {}
    train = record.get("train") or {}
    return {"round": record["round"], "accepted": record.get("accepted", False), "model": record.get("model"),
            **(record.get("metrics") or {}), "guard_action": guard.get("action"),
            "refusal_drop": guard.get("refusal_drop"), "pairs": (record.get("pairs") or {}).get("pairs"),
            "learning_rate": record.get("learning_rate"), "train_last_loss": train.get("last_loss"),
            "reason": record.get("reason")}
