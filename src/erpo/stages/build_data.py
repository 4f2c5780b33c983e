"""Stage 1 data: classify prompts, write ex-ante thoughts and safe answers, sample negatives.

Reads the prompt sources named in `config.data`, and writes into `<run>/01_data/`:

    prompts.jsonl           the chosen train-split prompts (PromptRecord)
    classifier_report.json  held-out accuracy + confusion matrix of the risk classifier
    classified.jsonl        id, prompt, label, gold category, predicted category, confidence
    sft.jsonl               id, prompt, label, category, style (full|brief), thought, answer, completion, messages
    negatives.jsonl         id, prompt, label, category, kind, thought, answer, completion

Top to bottom: load policy and prompts → fit the risk classifier on the train split and report it
on the eval split → pick train prompts (never one of `data.holdout_sources`) → rewrite a share of the
harmful ones in attack styles (`build_data.attacks`) → a style per prompt (full or brief) → answers (templated
safe answers for harmful prompts, the teacher's own filtered answers for benign ones) → thoughts
(template or llm teacher) → negatives.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Sequence

from erpo.artifacts import write_json, write_jsonl
from erpo.attacks import get_attack
from erpo.config import RunConfig
from erpo.data import holdout_records, training_records
from erpo.errors import ErpoError
from erpo.generation import get_backend
from erpo.layout import RunLayout
from erpo.policy import load_policy_file
from erpo.reasoning.answers import brief_answer, safe_answer, teacher_answers
from erpo.reasoning.classifier import NONE, evaluate_classifier, get_risk_classifier, print_report
from erpo.reasoning.format import format_reply
from erpo.reasoning.negatives import build_negatives
from erpo.reasoning.thoughts import ThoughtRequest, get_thought_writer


def choose_train_prompts(records: Sequence[Any], label: str, n: int | None, seed: int | str) -> list[Any]:
    """`n` train-split records of `label` (None = all), drawn round-robin across sources so none dominates."""
    by_source: dict[str, list[Any]] = defaultdict(list)
    for rec in records:
        if rec.label == label and rec.split == "train":
            by_source[rec.source].append(rec)
    rng = random.Random(f"choose:{seed}:{label}")
    queues = []
    for source in sorted(by_source):
        group = sorted(by_source[source], key=lambda r: r.id)
        rng.shuffle(group)
        queues.append(group)
    chosen: list[Any] = []
    n = sum(len(q) for q in queues) if n is None else n
    while len(chosen) < n and any(queues):
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop())
    return chosen


def make_teacher_backend(config: RunConfig) -> Any:
    """The teacher for benign answers and llm thoughts: by default the base policy itself."""
    cfg = config.build_data
    kwargs: dict[str, Any] = {"model": cfg.teacher or config.model}
    if cfg.teacher_backend == "hf":
        kwargs.update(dtype=config.dtype, batch_size=cfg.teacher_batch_size)
    return get_backend(cfg.teacher_backend, **kwargs)


def run_records(data: Any) -> list[Any]:
    """Every prompt of the run's sources (`config.data`) with its train/eval split, less the held-out
    sources (`data.holdout_sources`): every training stage and the classifier start from these."""
    return training_records(data.harmful_sources + data.benign_sources, getattr(data, "holdout_sources", []),
                            eval_fraction=data.eval_fraction, seed=data.seed)


def risk_classifier_for(config: RunConfig, policy: Any, records: Sequence[Any], teacher: Any = None) -> Any:
    """The configured risk classifier (`build_data.classifier`), fitted on the train split of `records`;
    the llm classifier asks `teacher` (default: the configured teacher backend)."""
    if teacher is None and config.build_data.classifier == "llm":
        teacher = make_teacher_backend(config)
    classifier = get_risk_classifier(config.build_data.classifier, policy, backend=teacher)
    return fit_on_train_split(classifier, records, policy, config.data.allowed_examples)


def fit_on_train_split(classifier: Any, records: Sequence[Any], policy: Any, allowed_examples: bool = True) -> Any:
    """`classifier` fitted on the train-split records only (eval-split prompts are held out), and on
    the policy's allowed examples as "none" unless `allowed_examples` is false (`data.allowed_examples`)."""
    return classifier.fit([r for r in records if r.split == "train"], policy, allowed_examples=allowed_examples)


def classify(classifier: Any, chosen: Sequence[Any]) -> list[dict]:
    """Classifier output per prompt; a harmful prompt predicted "none" falls back to its most likely rule."""
    predicted = classifier.predict([r.prompt for r in chosen])
    harmful_missed = [i for i, (r, (c, _)) in enumerate(zip(chosen, predicted)) if r.label == "harmful" and c == NONE]
    fallback = dict(zip(harmful_missed, classifier.top_rule([chosen[i].prompt for i in harmful_missed])))
    rows = []
    for i, (rec, (cat, conf)) in enumerate(zip(chosen, predicted)):
        used = NONE if rec.label == "benign" else fallback.get(i, cat)
        rows.append({"id": rec.id, "prompt": rec.prompt, "label": rec.label, "source": rec.source,
                     "gold_category": rec.category, "predicted": cat, "confidence": round(conf, 4),
                     "category": used, "contrast": bool(rec.meta.get("contrast")), **allowed_fields(rec)})
    return rows


def allowed_fields(rec: Any) -> dict:
    """An allowed-topic prompt's rule and kind of allowed use (`erpo.data.benign`); {} for any other,
    so rows of other prompts keep their keys."""
    if rec.label != "benign" or not rec.meta.get("rule"):
        return {}
    return {"allowed_rule": rec.meta["rule"], "allowed_kind": rec.meta.get("allowed_kind", "information")}


def stage1_negatives(rows: Sequence[dict], policy: Any, config: RunConfig,
                     suspected_rules: dict[str, str] | None = None, *, false_allowed: bool = False) -> list[dict]:
    """The negatives of `rows` with build-data's settings (`build_data.negatives_per_prompt`, seed);
    `false_allowed`: see `build_negatives`."""
    return build_negatives(rows, policy, per_prompt=config.build_data.negatives_per_prompt,
                           seed=config.build_data.seed, suspected_rules=suspected_rules, false_allowed=false_allowed)


def unseen_prompt_rows(config: RunConfig, seen_ids: set[str], n: int, *, records: Sequence[Any] | None = None,
                       classifier: Any = None, allowed: int = 0,
                       false_allowed: bool = False) -> tuple[list[dict], list[dict]]:
    """`n` train-split prompts stage 1 did not use (harmful and benign in equal parts), plus up to
    `allowed` more allowed-topic benign ones, classified as build-data classifies, with
    stage-1-style negatives (`false_allowed`: see `build_negatives`): the prompt pool of stages 2
    and 3 when `prompt_pool` is "unseen".

    Why: the SFT model has fitted its own training prompts, so its samples on them rarely fail and
    pairs there teach little about the prompts it gets wrong; on unseen prompts its own failures
    (a harmful prompt judged "Risk area: none", a benign one refused) become the rejected replies.
    """
    policy = load_policy_file(config.policy)
    records = run_records(config.data) if records is None else records
    classifier = classifier or risk_classifier_for(config, policy, records)
    unseen = [r for r in records if r.split == "train" and r.id not in seen_ids]
    seed = f"unseen:{config.data.seed}"
    chosen = (choose_train_prompts(unseen, "harmful", n - n // 2, seed)
              + choose_train_prompts(unseen, "benign", n // 2, seed))
    if allowed:   # their negatives are the over-cautious refusals citing the rule whose topic they touch
        picked = {r.id for r in chosen}
        topical = [r for r in unseen if r.id not in picked and allowed_fields(r)]
        chosen += choose_train_prompts(topical, "benign", allowed, f"{seed}:allowed")
    if not chosen:
        raise ErpoError("no train-split prompts left that stage 1 did not use; set prompt_pool: stage1 "
                        "or lower data.train_harmful/train_benign")
    rows = classify(classifier, chosen)
    suspected = dict(zip([r["id"] for r in rows], classifier.top_rule([r["prompt"] for r in rows])))
    return rows, stage1_negatives(rows, policy, config, suspected, false_allowed=false_allowed)


def rewrite_attacked(rows: list[dict], attacks: Sequence[str], share: float, seed: int) -> list[dict]:
    """`rows` with a seeded `share` of the harmful ones rewritten by `attacks`, in turn (id
    `<id>~<attack>`, same rule): stage 1 then refuses harmful requests in those styles as well
    (long, multi-part, "without getting caught", a list of methods), not only in the sources' own."""
    if not attacks or share <= 0:
        return rows
    picked = [r for r in rows
              if r["label"] == "harmful" and random.Random(f"s1attack:{seed}:{r['id']}").random() < share]
    which = {r["id"]: attacks[i % len(attacks)] for i, r in enumerate(picked)}
    out = []
    for row in rows:
        name = which.get(row["id"])
        out.append(row if name is None else {**row, "id": f"{row['id']}~{name}", "attack": name, "attack_of": row["id"],
                                             "prompt": get_attack(name)(row["prompt"], seed=seed)})
    return out


def assign_styles(rows: list[dict], brief_share: float, seed: int) -> None:
    """Set `brief` in place: a seeded draw per prompt id, so a row keeps its style across re-runs."""
    for row in rows:
        row["brief"] = random.Random(f"brief:{seed}:{row['id']}").random() < brief_share


def write_answers(rows: list[dict], policy: Any, config: RunConfig, teacher: Any, stats: Counter) -> None:
    """Fill `answer` in place: safe answers for harmful rows, filtered teacher answers for benign ones
    (cut to their opening sentences for brief-style rows)."""
    for row in rows:
        if row["label"] == "harmful":
            row["answer"] = safe_answer(row["id"], row["prompt"], policy.get(row["category"]),
                                        seed=config.build_data.seed, brief=row.get("brief", False))
    benign = [row for row in rows if row["label"] == "benign"]
    if benign:
        results = teacher_answers([r["prompt"] for r in benign], teacher,
                                  max_new_tokens=config.build_data.benign_answer_tokens)
        for row, (answer, reason) in zip(benign, results):
            if answer and row.get("brief"):
                answer = brief_answer(answer, prompt=row["prompt"], min_words=config.build_data.brief_answer_min_words,
                                      max_sentences=config.build_data.brief_answer_sentences)
            row["answer"] = answer
            if reason:
                stats[f"benign_answer_rejected_{reason.replace(' ', '_')}"] += 1


def write_thoughts(rows: list[dict], policy: Any, config: RunConfig, teacher: Any, stats: Counter) -> None:
    cfg = config.build_data
    writer = get_thought_writer(cfg.reasoning_backend, policy, backend=teacher, retries=cfg.llm_retries, seed=cfg.seed)
    requests = [ThoughtRequest(r["id"], r["prompt"], r["category"], r["answer"] or "", r["contrast"],
                               r.get("brief", False), r.get("allowed_rule"), r.get("allowed_kind", ""))
                for r in rows]
    thoughts, tstats = writer.write(requests, progress="thoughts")
    stats["thoughts_retried"] += tstats.retried
    stats["thoughts_dropped"] += tstats.dropped
    for row, thought in zip(rows, thoughts):
        row["thought"] = thought


def sft_row(row: dict) -> dict:
    completion = format_reply(row["thought"], row["answer"])
    return {"id": row["id"], "prompt": row["prompt"], "label": row["label"], "category": row["category"],
            "style": "brief" if row.get("brief") else "full", "thought": row["thought"], "answer": row["answer"],
            "completion": completion,
            "messages": [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": completion}],
            **{k: row[k] for k in ("allowed_rule", "attack") if row.get(k)}}


def report_classifier(classifier: Any, records: Sequence[Any], out: Path, limit: int = 600,
                      holdout: Sequence[str] = ()) -> dict:
    """Held-out accuracy of the classifier on eval-split records (a seeded sample of at most `limit`),
    and under "ood" on every prompt of the `holdout` sources, which it never saw: there a classifier
    that learned topics rather than intent flags the safe prompts."""
    held_out = [r for r in records if r.split == "eval" and (r.label == "benign" or r.category)]
    random.Random(0).shuffle(held_out)
    report = evaluate_classifier(classifier, held_out[:limit])
    print_report(report)
    if holdout:
        report["ood"] = {"sources": list(holdout), **evaluate_classifier(classifier, holdout_records(holdout))}
        print_report(report["ood"], title=f"risk classifier (out of distribution: {', '.join(holdout)})")
    write_json(out, report)
    return report


def build_stage1_data(config: RunConfig, run_dir: str | Path | None = None, *, records: Sequence[Any] | None = None,
                      teacher: Any = None, classifier: Any = None) -> dict:
    """Write `01_data/` for stage 1 and return its statistics (also in `01_data/stats.json`).

    `records` (PromptRecords with splits), `teacher` (a generation backend) and `classifier` may be
    injected (tests); by default they come from `config`.
    """
    layout = RunLayout(run_dir or config.run_dir)
    policy = load_policy_file(config.policy)
    records = run_records(config.data) if records is None else records
    teacher = teacher or make_teacher_backend(config)
    classifier = classifier or get_risk_classifier(config.build_data.classifier, policy, backend=teacher)
    fit_on_train_split(classifier, records, policy, config.data.allowed_examples)
    report = report_classifier(classifier, records, layout.classifier_report, holdout=config.data.holdout_sources)

    chosen = (choose_train_prompts(records, "harmful", config.data.train_harmful, config.data.seed)
              + choose_train_prompts(records, "benign", config.data.train_benign, config.data.seed))
    if not chosen:
        raise ErpoError("no train-split prompts to build stage 1 data from; check data.harmful_sources/benign_sources")
    write_jsonl(layout.prompts, chosen)
    rows = classify(classifier, chosen)
    write_jsonl(layout.classified, rows)
    rows = rewrite_attacked(rows, config.build_data.attacks, config.build_data.attack_share, config.build_data.seed)

    stats: Counter = Counter()
    assign_styles(rows, config.build_data.brief_share, config.build_data.seed)
    write_answers(rows, policy, config, teacher, stats)
    rows = [r for r in rows if r["answer"]]
    write_thoughts(rows, policy, config, teacher, stats)
    rows = [r for r in rows if r["thought"]]
    sft = [sft_row(r) for r in rows]
    write_jsonl(layout.sft_data, sft)

    suspected = dict(zip([r["id"] for r in rows], classifier.top_rule([r["prompt"] for r in rows]))) if rows else {}
    negatives = stage1_negatives(rows, policy, config, suspected)
    write_jsonl(layout.negatives, negatives)

    result = {"prompts": len(chosen), "sft": len(sft),
              "sft_harmful": sum(r["label"] == "harmful" for r in sft),
              "sft_benign": sum(r["label"] == "benign" for r in sft),
              "sft_brief": sum(r["style"] == "brief" for r in sft),
              "negatives": len(negatives), "negative_kinds": dict(Counter(n["kind"] for n in negatives)),
              "categories": dict(Counter(r["category"] for r in sft)),
              **({"sft_attacked": dict(Counter(r["attack"] for r in sft if r.get("attack")))}
                 if config.build_data.attacks else {}),
              **({"sft_allowed_topic": sum(bool(r.get("allowed_rule")) for r in sft)}
                 if any(r.get("allowed_rule") for r in sft) else {}),
              "classifier_harmful_vs_benign_accuracy": report["harmful_vs_benign_accuracy"],
              "classifier_category_accuracy": report["category_accuracy"],
              **({"classifier_ood_harmful_detected": report["ood"]["harmful_detected"],
                  "classifier_ood_benign_passed": report["ood"]["benign_passed"]} if "ood" in report else {}),
              **stats}
    write_json(layout.data_stats, result)
    return result
