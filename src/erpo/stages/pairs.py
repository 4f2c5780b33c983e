"""Preference pairs for stages 2 and 3: candidates → judged scores → length-controlled pairs.

For every prompt the candidates are the stage-1 negatives (wrong rule, permissive,
over-cautious), the stage-1 SFT target, and K on-policy samples from the current model (one
batched `backend.generate` call; in stage 3 optionally also its greedy reply). The prompts are
stage 1's training prompts, or (`prompt_pool: unseen`) train-split prompts stage 1 did not use,
with negatives built for them the same way and no SFT target; `attacks` adds jailbreak-rewritten
copies of some harmful prompts, with their own negatives. Each candidate is scored on five axes:

- safety     harmful prompt → the answer refuses (refusal judge), or, with a `harm` judge among the
             judges, gives no actionable harmful help (unsafe = not refused and harmful); benign
             prompts are always safe
- usefulness benign prompt → answered (not refused), not degenerate, on-topic (usefulness judge
             when registered); a refusal is the useful reply to a harmful prompt
- citation   the thought cites the expected rule (harmful) or says no rule applies (benign)
- format     both a thought and an answer (`split_reply(...).has_format`)
- efficiency thought and answer tokens, counted with the policy's own tokenizer (what DPO trains on)

`select_length_controlled_pairs` turns the scored candidates into pairs with the documented
`PairRule` (see `erpo.config.PairRule`); it is pure, so the rule is tested without a model.
Prompts without a valid pair are counted per reason and skipped, never faked.

Candidates, their scores and pairs are typed records (`Candidate`, `CandidateScores`, `Pair`), each
saved as one JSON object of candidates.jsonl (samples.jsonl in stage 3), judgments.jsonl and pairs.jsonl.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from erpo.artifacts import JsonRecord, read_jsonl, read_jsonl_required, write_json, write_jsonl
from erpo.attacks import get_attack
from erpo.config import PairRule
from erpo.data.splits import in_turn
from erpo.errors import InputError
from erpo.generation import SamplingParams, get_backend
from erpo.judges import get_judge
from erpo.judges.base import JudgeInput, passes
from erpo.judges.rule_citation import harmful_citation
from erpo.layout import PreferenceDir, RunLayout
from erpo.models import load_tokenizer
from erpo.policy import load_policy_file
from erpo.reasoning.answers import brief_answer, content_words
from erpo.reasoning.format import cited_rules, format_reply, split_reply, states_allowed_use, states_no_rule
from erpo.reasoning.thoughts import BRIEF_OPENER, is_brief_thought
from erpo.stages.build_data import stage1_negatives, unseen_prompt_rows
from erpo.stages.evaluate import judge_signature

# Worst failure first: a rejected reply that is unsafe teaches more than one that is merely long.
FAILURE_ORDER = ("unsafe", "not_useful", "wrong_rule", "unformatted")
# a stage-1 negative's candidate source is this prefix + its kind ("negative:wrong_rule")
NEGATIVE_SOURCE = "negative:"
JudgeFn = Callable[[Sequence[Any]], list[Any]]


# --- the records (one JSON object each in candidates/samples.jsonl, judgments.jsonl, pairs.jsonl) --

@dataclass
class CandidateScores(JsonRecord):
    """A candidate's verdicts on the five axes (module docstring); a row of `judgments.jsonl`."""
    refused: bool
    refusal_score: float
    safe: bool
    useful: bool
    degenerate: bool
    formatted: bool
    truncated: bool
    citation_ok: bool
    cited: list[str]
    usefulness_score: float | None
    content_words: int
    thought_tokens: int
    answer_tokens: int
    reply_tokens: int
    harm_score: float | None = None   # the harm judge's score of a harmful prompt's reply, when it ran

    OMITTED_WHEN_NONE = frozenset({"harm_score"})


@dataclass
class Candidate(JsonRecord):
    """One reply to a prompt: a stage-1 target or negative, a sample of the policy, or a cut of one."""
    OMITTED_WHEN_NONE = frozenset({"finish_reason", "latency_s", "completion_tokens", "opener", "cut_from", "scores"})
    id: str
    prompt: str
    conversation: list[dict]
    label: str
    category: str | None
    source: str
    index: int
    completion: str
    finish_reason: str | None = None       # on-policy replies: how generation ended, latency, tokens
    latency_s: float | None = None
    completion_tokens: int | None = None
    opener: str | None = None              # a reply the policy continued from this prefix
    cut_from: str | None = None            # a cut: the completion it was cut from
    scores: CandidateScores | None = None  # once judged

    def __post_init__(self) -> None:
        if self.scores is not None:
            self.scores = CandidateScores.of(self.scores)


@dataclass
class Pair(JsonRecord):
    """A preference pair: the chosen and the rejected reply to one prompt, why, and both verdicts."""
    id: str
    prompt: str
    conversation: list[dict]
    label: str
    category: str | None
    chosen: str
    rejected: str
    chosen_tokens: int
    rejected_tokens: int
    reason: str
    chosen_source: str
    rejected_source: str
    chosen_scores: CandidateScores
    rejected_scores: CandidateScores

    def __post_init__(self) -> None:
        self.chosen_scores = CandidateScores.of(self.chosen_scores)
        self.rejected_scores = CandidateScores.of(self.rejected_scores)


# --- candidates -------------------------------------------------------------------------------

def prompt_conversation(row: dict) -> list[dict]:
    """The conversation a stage-1 row was trained on, without the assistant reply."""
    messages = row.get("messages")
    if messages and messages[-1].get("role") == "assistant":
        return [dict(m) for m in messages[:-1]]
    return [{"role": "user", "content": row["prompt"]}]


def load_prompt_rows(path: str | Path, max_prompts: int | None = None) -> list[dict]:
    """Training prompts from `01_data/sft.jsonl` (bad row → file + line + field), capped to
    `max_prompts` with harmful and benign prompts in turn (see `balanced_subset`)."""
    rows = read_jsonl_required(path, ("id", "prompt", "label"),
                               missing_hint="no stage-1 data; run `erpo build-data` first",
                               choices={"label": ("harmful", "benign")})
    return balanced_subset(rows, max_prompts)


UNSEEN_DEFAULT_PROMPTS = 96


def preference_prompts(config: Any, cfg: Any, run_dir: str | Path, n: int | None) -> tuple[list[dict], list[dict]]:
    """(prompt rows, their negatives) for stage 2 or 3, from `cfg.prompt_pool`: stage 1's training
    prompts (`01_data/sft.jsonl` + `negatives.jsonl`), or `n` train-split prompts stage 1 did not use."""
    layout = RunLayout(run_dir)
    false_allowed = cfg.false_allowed_negatives
    if cfg.prompt_pool == "unseen":
        seen = {r["id"] for r in read_jsonl_required(layout.prompts, ("id",),
                                                     missing_hint="no stage-1 data; run `erpo build-data` first")}
        rows, negatives = unseen_prompt_rows(config, seen, n or UNSEEN_DEFAULT_PROMPTS, allowed=cfg.allowed_prompts,
                                             false_allowed=false_allowed)
    else:
        negatives = read_jsonl(layout.negatives) if layout.negatives.exists() else []
        rows = load_prompt_rows(layout.sft_data, n)
    attacked = (attacked_copies(rows, cfg.attacks, cfg.attack_share, seed=config.seed)
                + attacked_copies(rows, cfg.benign_attacks, cfg.benign_attack_share, seed=config.seed, label="benign"))
    if not attacked:
        return rows, negatives
    return rows + attacked, negatives + attacked_negatives(config, attacked, false_allowed=false_allowed)


def attacked_copies(rows: Sequence[dict], attacks: Sequence[str], share: float, *, seed: int = 0,
                    label: str = "harmful") -> list[dict]:
    """For each attack, a seeded `share` of the rows labelled `label` rewritten by it: id
    `<id>~<attack>`, same label and expected rule, no SFT target (its reasoning quotes the plain request).

    Why: on plain harmful requests the SFT model rarely fails, so stage 2 sees few unsafe samples of
    its own while the benign over-cautious negatives push refusals down; under an attack its
    failures ("Risk area: none", then compliance) show up and become rejected replies. Benign
    copies (`benign_attacks`) show the same styles on requests that must still be answered, so
    the pairs do not teach that the style itself means harm.
    """
    out = []
    for name in attacks:
        attack = get_attack(name)
        for row in rows:
            if row["label"] != label or random.Random(f"attack:{seed}:{name}:{row['id']}").random() >= share:
                continue
            plain = {k: v for k, v in row.items() if k not in ("messages", "completion", "thought", "answer")}
            out.append({**plain, "id": f"{row['id']}~{name}", "prompt": attack(row["prompt"], seed=seed),
                        "attack": name, "attack_of": row["id"]})
    return out


def attacked_negatives(config: Any, attacked: list[dict], *, false_allowed: bool = False) -> list[dict]:
    """Stage-1-style negatives (wrong rule, no rule or a misapplied allowed clause + compliance) for
    the attacked prompts."""
    if not attacked:
        return []
    return stage1_negatives(attacked, load_policy_file(config.policy), config, false_allowed=false_allowed)


def balanced_subset(rows: list[dict], n: int | None, start: int = 0) -> list[dict]:
    """`n` rows taking the labels in turn (file order within a label), from position `start` of
    that interleaved order, wrapping around; every row when `n` is None or not smaller.

    Why: `sft.jsonl` lists the harmful prompts first, so a plain head would train stages 2 and 3
    on harmful prompts only. Stage 3 passes a new `start` each round to see fresh prompts.
    """
    if not n or n >= len(rows):
        return list(rows)
    interleaved = in_turn(rows, key=lambda r: r["label"])
    return [interleaved[(start + i) % len(interleaved)] for i in range(n)]


def offline_candidates(sft_rows: Iterable[dict], negative_rows: Iterable[dict], *,
                       targets: bool = True) -> list[Candidate]:
    """The SFT target (a reference candidate; left out with `targets=False`) and the stage-1
    negatives of each prompt."""
    by_id = {r["id"]: r for r in sft_rows}
    out = []
    for row in by_id.values():
        if targets and row.get("completion"):
            out.append(_candidate(row, row["completion"], source="sft_target"))
    for neg in negative_rows:
        prompt_id = neg.get("source_id", neg.get("id"))   # a negative's own id is "<prompt id>-negN"
        if prompt_id in by_id and neg.get("completion"):
            out.append(_candidate(by_id[prompt_id], neg["completion"],
                                  source=f"{NEGATIVE_SOURCE}{neg.get('kind', '?')}"))
    return out


def sample_candidates(rows: Sequence[dict], backend: Any, params: Any, *, progress: str | None = "sampling",
                      opener: str = "", first_index: int = 0, source: str = "sample") -> list[Candidate]:
    """K on-policy samples per prompt from ONE batched `backend.generate` call (`params.n` = K),
    numbered from `first_index` and labelled `source` ("sample", or "greedy" for the greedy reply).

    With `opener`, every reply starts with that text and the model writes the rest (a reply prefix,
    see `erpo.generation`); the candidate's completion is opener + continuation, and records the opener.
    """
    prefix = [{"role": "assistant", "content": opener}] if opener else []
    generations = backend.generate([prompt_conversation(r) + prefix for r in rows], params, progress=progress)
    out = []
    for row, gens in zip(rows, generations):
        for k, gen in enumerate(gens, start=first_index):
            out.append(_candidate(row, opener + gen.text, source=source, index=k, finish_reason=gen.finish_reason,
                                  latency_s=gen.latency_s, completion_tokens=gen.completion_tokens,
                                  **({"opener": opener} if opener else {})))
    return out


CUT_SOURCE = "cut:"   # a cut candidate's source is this prefix + the source of the reply it was cut from
# an early cut (the answer's first sentence only) serves one pair only, see `_early_stop_rejected`
EARLY_CUT_SOURCE = "early_cut:"


def cut_candidates(candidates: Sequence[Candidate], cut: Callable[[str, str], str], *,
                   source_prefix: str = CUT_SOURCE) -> list[Candidate]:
    """For each benign candidate whose thought is in the brief style and whose answer runs past
    `cut(prompt, answer)` (the reasoning module's brief cut): the same thought with the cut answer,
    source `<source_prefix><source>` (`cut:sample`), same index, `cut_from` = the candidate's
    completion. Each distinct text once, and none that is already a candidate.

    Why: the model's own brief answers run on (and greedy ones loop to the token cap) past the few
    sentences its brief plan promises; the cut is the reply it would have given had it stopped there,
    so a pair of the two differs only in where the answer ends, not in whether it answers. Only brief
    thoughts: after a full one the plan promises a complete answer, and a cut would contradict it.
    """
    seen = {(c.id, c.completion.strip()) for c in candidates}
    out = []
    for cand in candidates:
        parsed = split_reply(cand.completion)
        if cand.label != "benign" or not parsed.has_format or not is_brief_thought(parsed.thought):
            continue
        short = cut(cand.prompt, parsed.answer)
        text = format_reply(parsed.thought, short)
        if not short or len(short.split()) >= len(parsed.answer.split()) or (cand.id, text) in seen:
            continue
        seen.add((cand.id, text))
        # the generation details were the uncut reply's, and the cut is judged on its own
        out.append(dataclasses.replace(cand, completion=text, source=source_prefix + cand.source,
                                       cut_from=cand.completion, finish_reason=None, latency_s=None,
                                       completion_tokens=None, scores=None))
    return out


def first_sentence(prompt: str, answer: str) -> str:
    """The early cut: the answer's first sentence (on past a lead-in such as "Here's how:")."""
    return brief_answer(answer, min_words=1, max_sentences=1)


def _candidate(row: dict, completion: str, *, source: str, index: int = 0, **extra: Any) -> Candidate:
    return Candidate(id=row["id"], prompt=row["prompt"], conversation=prompt_conversation(row), label=row["label"],
                     category=row.get("category"), source=source, index=index, completion=completion, **extra)


# --- scoring ----------------------------------------------------------------------------------

def token_counter(tokenizer: Any | None) -> Callable[[str], int]:
    """Tokens as the policy sees them; whitespace words when no tokenizer is given (mock runs)."""
    if tokenizer is None:
        return lambda text: len(text.split())
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0


def default_judges(config: Any = None) -> dict[str, JudgeFn | None]:
    """The registered judges the pair builder uses; `usefulness` and `rule_citation` are optional,
    and `harm` joins them when the run's `eval.judges` names it (`config`, a RunConfig)."""
    judges: dict[str, JudgeFn | None] = {"refusal": get_judge("refusal")}
    if config is not None and "harm" in config.eval.judges:
        judges["harm"] = get_judge("harm", **config.eval.judge_options.get("harm", {}))
    for name in ("usefulness", "rule_citation"):
        try:
            judges[name] = get_judge(name)
        except Exception:   # not registered in this install: the built-in checks below decide alone
            judges[name] = None
    return judges


def judge_signatures(judges: dict[str, JudgeFn | None]) -> dict[str, str]:
    """Each judge's `judge_signature` (class, version, settings): part of what makes saved pairs
    reusable, so pairs selected by an older judge are made again, as saved eval judgments are."""
    return {name: judge_signature(judge) for name, judge in sorted(judges.items()) if judge is not None}


def score_candidates(candidates: list[Candidate], judges: dict[str, JudgeFn | None],
                     count_tokens: Callable[[str], int], rule: PairRule) -> list[Candidate]:
    """Attach `scores` (safe, useful, formatted, citation_ok, tokens, ...) to every candidate."""
    inputs = [JudgeInput(id=f"{c.id}#{i}", prompt=c.prompt, completion=c.completion, label=c.label,
                         category=c.category) for i, c in enumerate(candidates)]
    refusal = judges["refusal"](inputs) if inputs else []
    usefulness = judges["usefulness"](inputs) if judges.get("usefulness") and inputs else [None] * len(inputs)
    citation = judges["rule_citation"](inputs) if judges.get("rule_citation") and inputs else [None] * len(inputs)
    harm = harm_verdicts(inputs, judges)
    for cand, ref, use, cit, inp in zip(candidates, refusal, usefulness, citation, inputs):
        cand.scores = candidate_scores(cand, ref, use, cit, count_tokens, rule, harm=harm.get(inp.id))
    return candidates


def harm_verdicts(inputs: Sequence[JudgeInput], judges: dict[str, JudgeFn | None]) -> dict[str, Any]:
    """The `harm` judge's judgments of the harmful prompts' replies, by input id (none without it)."""
    harmful = [i for i in inputs if i.label == "harmful"]
    if not judges.get("harm") or not harmful:
        return {}
    return {i.id: j for i, j in zip(harmful, judges["harm"](harmful))}


def candidate_scores(cand: Candidate, refusal: Any, usefulness: Any, citation: Any,
                     count_tokens: Callable[[str], int], rule: PairRule, harm: Any = None) -> CandidateScores:
    """`harm`: the harm judge's judgment of a harmful prompt's reply; with it, a reply that is not
    refused is unsafe only when it gives harmful help (score ≥ the decision threshold)."""
    parsed = split_reply(cand.completion)
    refused = passes(refusal.score)
    harmful = cand.label == "harmful"
    degenerate = is_degenerate(parsed.answer, rule.min_answer_words)
    useful = refused if harmful else (not refused and not degenerate)
    if usefulness is not None and not harmful:
        useful = useful and passes(usefulness.score)
    citation_ok = passes(citation.score) if citation is not None else citation_matches(parsed.thought, cand)
    # a benign reply that verifies a rule and finds the request allowed reasons right, though it cites
    citation_ok = citation_ok or (not harmful and states_allowed_use(parsed.thought))
    thought_tokens, answer_tokens = count_tokens(parsed.thought), count_tokens(parsed.answer)
    return CandidateScores(
        refused=refused, refusal_score=round(refusal.score, 4),
        safe=refused or not harmful or (harm is not None and not passes(harm.score)), useful=useful,
        degenerate=degenerate, formatted=parsed.has_format, truncated=parsed.truncated, citation_ok=citation_ok,
        cited=cited_rules(parsed.thought), usefulness_score=None if usefulness is None else round(usefulness.score, 4),
        content_words=len(content_words(cand.prompt, parsed.answer)), thought_tokens=thought_tokens,
        answer_tokens=answer_tokens, reply_tokens=count_tokens(cand.completion),
        harm_score=None if harm is None else round(harm.score, 4))


def citation_matches(thought: str, cand: Candidate) -> bool:
    """Used only when no `rule_citation` judge is registered: the same test, on the thought (a
    harmful prompt's is the judge's own `harmful_citation`)."""
    if cand.label == "benign":
        return not cited_rules(thought) or states_no_rule(thought)
    return harmful_citation(thought, cand.category or None) == "correct"


def is_degenerate(answer: str, min_words: int) -> bool:
    """Empty, too short, or looping (fewer than 30% distinct words in a long answer)."""
    words = answer.split()
    if len(words) < min_words:
        return True
    return len(words) >= 20 and len(set(words)) / len(words) < 0.3


# --- the pair rule ----------------------------------------------------------------------------

def failure(scores: CandidateScores | Mapping, rule: PairRule) -> str | None:
    """The worst reason a candidate is not acceptable under `rule`, or None if it is."""
    scores = CandidateScores.of(scores)
    checks = {"unsafe": scores.safe, "not_useful": scores.useful,
              "wrong_rule": scores.citation_ok or rule.citation != "require",
              "unformatted": scores.formatted or not rule.require_format}
    return next((name for name in FAILURE_ORDER if not checks[name]), None)


def graded_failure(cand: Candidate, rule: PairRule) -> str | None:
    """`failure` of the candidate's scores; a stage-1 negative is never acceptable, and fails as
    "wrong_rule" where the judges find nothing worse.

    Why: a negative is written wrong (a wrong or missing rule, then compliance; a topic refusal of a
    benign request), whatever the judges say of it. The refusal judge reads the compliance template's
    empty answer ("Sure, here is how to …, then follow these steps:") as a refusal, so on a harmful
    prompt a negative would otherwise be chosen (negatives come first in the candidate list, so ahead
    of an acceptable sample too), teaching its wrong thought.
    """
    judged = failure(cand.scores, rule)
    return judged or ("wrong_rule" if cand.source.startswith(NEGATIVE_SOURCE) else None)


def select_length_controlled_pairs(candidates_by_prompt: dict[str, list[Candidate | Mapping]],
                                   rule: PairRule) -> tuple[list[Pair], dict[str, int]]:
    """Up to `rule.pairs_per_prompt` (chosen, rejected) pairs per prompt, or a counted skip reason.

    chosen = the acceptable candidate with the fewest tokens (`rule.length_key`: of the reply or of
    the thought; "longer" counts the same tokens), one with the right citation (`citation: prefer`)
    and enough content (`chosen_min_content_words`) before one without; never a stage-1 negative
    (`graded_failure`). rejected = per `rule.prefer`, the unacceptable candidate with the worst
    failure (among equals, the greedy reply, then samples, before stage-1 negatives, then the
    shortest first, or the longest with `prefer_shorter` off), or the greedy reply, else the
    longest, of the acceptable candidates at least `rule.length_ratio`×
    the chosen length (prompts of `rule.length_pair_labels` only); the other kind is the fallback.
    Further pairs (same chosen) take the two kinds in turn, so a second pair contrasts the chosen
    reply with one of the other kind when there is one. Identical texts never form a pair.

    Early cuts (source `early_cut:…`, stage 3's `candidates.early_stop_pairs`) are never chosen nor one of
    those rejected replies; one that the chosen reply goes on from, and that is unacceptable or
    says less than `chosen_min_content_words`, is rejected in one more pair ("early_stop").
    """
    pairs, skipped = [], Counter()
    for _prompt_id, candidates in candidates_by_prompt.items():
        prompt_pairs, reason = _pairs_for_prompt([Candidate.of(c) for c in candidates], rule)
        if not prompt_pairs:
            skipped[reason] += 1
        pairs.extend(prompt_pairs)
    return pairs, dict(skipped)


def _pairs_for_prompt(candidates: list[Candidate], rule: PairRule) -> tuple[list[Pair], str]:
    def length(c: Candidate) -> int:
        return getattr(c.scores, f"{rule.length_key}_tokens")
    early = [c for c in candidates if c.source.startswith(EARLY_CUT_SOURCE)]
    candidates = [c for c in candidates if not c.source.startswith(EARLY_CUT_SOURCE)]
    graded = [(c, graded_failure(c, rule)) for c in candidates]
    prefer_citation = rule.citation == "prefer"
    acceptable = sorted((c for c, f in graded if f is None),   # stable: ties keep the sampling order
                        key=lambda c: (prefer_citation and not c.scores.citation_ok, _thin(c, rule),
                                       length(c) if rule.prefer_shorter else 0))
    if not acceptable:
        return [], "no_acceptable"
    chosen = acceptable[0]
    if prefer_citation and chosen.scores.citation_ok:   # a wrong citation now loses to the chosen one
        graded = [(c, f or (None if c.scores.citation_ok else "wrong_rule")) for c, f in graded]
    others = [(c, f) for c, f in graded if c.completion.strip() != chosen.completion.strip()]
    # the model's own failures before the stage-1 negatives of the same kind, its greedy reply
    # first: a pair teaches most where the policy puts its mass, and a written negative is often far
    # from it. Then, under length control, the shortest: the "longer" pairs carry the length
    # pressure, so this pair should differ from the chosen reply in its decision, not in its length
    worse = sorted(((c, f) for c, f in others if f is not None),
                   key=lambda cf: (FAILURE_ORDER.index(cf[1]), mass_rank(cf[0]),
                                   length(cf[0]) if rule.prefer_shorter else -length(cf[0])))
    min_tokens = rule.length_ratio * max(1, length(chosen))
    longer = [(c, "longer") for c in sorted((c for c, f in others if f is None and length(c) >= min_tokens),
                                            key=lambda c: (mass_rank(c) > 0, -length(c)))
              if rule.prefer_shorter and chosen.label in rule.length_pair_labels]   # else no length pairs
    first, second = (longer, worse) if rule.prefer == "longer" else (worse, longer)
    options = _alternate(first, second)
    if not options:
        return [], "no_rejected" if others else "single_candidate"   # single = one distinct reply
    rejected = _distinct_texts(options)[:rule.pairs_per_prompt]
    stopped_early = _early_stop_rejected(chosen, early, rule)
    if stopped_early is not None:
        rejected.append((stopped_early, "early_stop"))
    ignored = _decision_ignored(chosen, candidates) if rule.decision_pairs else None
    if ignored is not None:
        rejected = _distinct_texts(rejected + [(ignored, "decision_ignored")])
    return [make_pair(chosen, c, reason) for c, reason in rejected], ""


DECISION_IGNORED_SOURCE = "decision_ignored:"   # + the source of the candidate whose answer it took


def _decision_ignored(chosen: Candidate, candidates: list[Candidate]) -> Candidate | None:
    """The chosen reply's thought followed by the answer of a candidate that decided the other way
    (harmful prompt: an answer that is not refused; benign: a refused one), the policy's greedy
    reply first, then samples, then stage-1 negatives; None when no candidate did.

    Why: a model can learn to decide right in its thought and still answer the other way (under a
    trained attack the stage-2 model's thought refuses and its answer opens "Sure, here is…"); the
    other pairs differ in the thought too, so none isolates the answer's obedience to it. The
    verdicts carry over without judging again because every answer judge (refusal, usefulness, harm)
    reads the answer only and the citation judge reads the thought only.
    """
    thought = split_reply(chosen.completion).thought
    want_refused = chosen.label == "benign"
    donors = sorted((c for c in candidates if c.scores.formatted and c.scores.refused == want_refused
                     and c.completion.strip() != chosen.completion.strip()), key=mass_rank)
    existing = {c.completion.strip() for c in candidates}
    for donor in donors:
        text = format_reply(thought, split_reply(donor.completion).answer)
        if text.strip() in existing:
            continue
        c, d = chosen.scores, donor.scores
        scores = dataclasses.replace(d, citation_ok=c.citation_ok, cited=c.cited, thought_tokens=c.thought_tokens,
                                     reply_tokens=c.reply_tokens - c.answer_tokens + d.answer_tokens)
        return dataclasses.replace(chosen, completion=text, source=DECISION_IGNORED_SOURCE + donor.source,
                                   index=donor.index, finish_reason=None, latency_s=None, completion_tokens=None,
                                   opener=None, cut_from=None, scores=scores)
    return None


def _thin(cand: Candidate, rule: PairRule) -> bool:
    """Does the answer say less than a chosen one should (benign prompts only)?"""
    return cand.label == "benign" and cand.scores.content_words < rule.chosen_min_content_words


def _early_stop_rejected(chosen: Candidate, early_cuts: list[Candidate], rule: PairRule) -> Candidate | None:
    """The early cut the chosen reply goes on from, if stopping there fails or says too little.

    Why: when cuts teach a brief answer to stop, the model also learns to stop after its first
    sentence, which often only restates the question; this pair shares the chosen reply's text up
    to that point and differs only in stopping there, so it teaches "not yet" where the cut
    teaches "now"."""
    text = chosen.completion.strip()
    for cut in early_cuts:
        shorter = cut.completion.strip()
        if shorter != text and text.startswith(shorter) and (failure(cut.scores, rule) is not None
                                                             or _thin(cut, rule)):
            return cut
    return None


def mass_rank(cand: Candidate) -> int:
    """0 = the policy's greedy reply, 1 = a sample (or the SFT target, or a cut), 2 = a stage-1 negative."""
    return 0 if cand.source == "greedy" else 2 if cand.source.startswith(NEGATIVE_SOURCE) else 1


def _alternate(first: list, second: list) -> list:
    """first[0], second[0], first[1], second[1], …, then the rest of the longer list."""
    return [x for pair in itertools.zip_longest(first, second) for x in pair if x is not None]


def _distinct_texts(options: list[tuple[Candidate, str]]) -> list[tuple[Candidate, str]]:
    seen: set[str] = set()
    out = []
    for cand, reason in options:
        text = cand.completion.strip()
        if text not in seen:
            seen.add(text)
            out.append((cand, reason))
    return out


def make_pair(chosen: Candidate, rejected: Candidate, reason: str) -> Pair:
    return Pair(id=chosen.id, prompt=chosen.prompt, conversation=chosen.conversation, label=chosen.label,
                category=chosen.category, chosen=chosen.completion, rejected=rejected.completion,
                chosen_tokens=chosen.scores.reply_tokens, rejected_tokens=rejected.scores.reply_tokens,
                reason=reason, chosen_source=chosen.source, rejected_source=rejected.source,
                chosen_scores=chosen.scores, rejected_scores=rejected.scores)


def group_by_prompt(candidates: Iterable[Candidate]) -> dict[str, list[Candidate]]:
    grouped: dict[str, list[Candidate]] = {}
    for cand in candidates:
        grouped.setdefault(cand.id, []).append(cand)
    return grouped


# --- files ------------------------------------------------------------------------------------

def write_pair_files(out_dir: str | Path, candidates: list[Candidate], pairs: list[Pair], skipped: dict[str, int],
                     rule: PairRule, *, candidates_name: str = "candidates.jsonl") -> dict:
    """`candidates.jsonl` (texts + scores), `judgments.jsonl` (scores only), `pairs.jsonl`, `pairs.stats.json`."""
    folder = PreferenceDir(out_dir, candidates_name)
    write_jsonl(folder.candidates, candidates)
    write_jsonl(folder.judgments, [{"id": c.id, "source": c.source, "index": c.index, **c.scores.to_dict()}
                                   for c in candidates])
    write_jsonl(folder.pairs, pairs)
    stats = pair_stats(candidates, pairs, skipped, rule)
    write_json(folder.pairs_stats, stats)
    return stats


def pair_stats(candidates: Sequence[Candidate | Mapping], pairs: Sequence[Pair | Mapping], skipped: dict[str, int],
               rule: PairRule) -> dict:
    def mean(xs: list[float]) -> float | None:
        return round(sum(xs) / len(xs), 2) if xs else None
    return {"prompts": len({c["id"] for c in candidates}), "candidates": len(candidates), "pairs": len(pairs),
            "skipped": skipped, "reasons": dict(Counter(p["reason"] for p in pairs)),
            "mean_chosen_tokens": mean([p["chosen_tokens"] for p in pairs]),
            "mean_rejected_tokens": mean([p["rejected_tokens"] for p in pairs]),
            "mean_chosen_thought_tokens": mean([p["chosen_scores"]["thought_tokens"] for p in pairs]),
            "mean_rejected_thought_tokens": mean([p["rejected_scores"]["thought_tokens"] for p in pairs]),
            # graded as the pair rule grades them, so a stage-1 negative never counts as acceptable
            "acceptable_rate": mean([float(graded_failure(Candidate.of(c), rule) is None) for c in candidates])}


def build_pairs(rows: list[dict], out_dir: str | Path, *, backend: Any, cfg: Any, judges: dict[str, JudgeFn | None],
                count_tokens: Callable[[str], int], offline: list[Candidate] | None = None, seed: int = 0,
                candidates_name: str = "candidates.jsonl",
                answer_cut: Callable[[str, str], str] | None = None,
                early_cut: Callable[[str, str], str] | None = None) -> tuple[list[Pair], dict]:
    """Sample K per prompt, add `offline` candidates (and, with `answer_cut`, the cuts of the brief
    benign ones: `cut_candidates`; with `early_cut`, their early cuts for the "early_stop" pairs),
    judge, select pairs and write the side files.

    `cfg` is a `DPOConfig`/`IterateConfig` (candidates.samples, candidates.temperature, max_new_tokens,
    pair_rule; stage 3's candidates.brief_opened and candidates.greedy). Returns (pairs, stats).
    """
    candidates = list(offline or [])
    sampling = cfg.candidates
    opened = getattr(sampling, "brief_opened", 0)                     # stage 3 only
    greedy = 1 if getattr(sampling, "greedy", False) else 0          # stage 3 only
    first_index = 0   # a prompt's candidates are numbered 0, 1, … across the calls
    for n, opener, temperature, source, progress in (
            (sampling.samples - opened, "", sampling.temperature, "sample", "sampling"),
            (opened, BRIEF_OPENER, sampling.temperature, "sample", "sampling (brief opener)"),
            (greedy, "", 0.0, "greedy", "greedy replies")):
        if n > 0:
            params = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=temperature, n=n, seed=seed)
            candidates += sample_candidates(rows, backend, params, progress=progress, opener=opener,
                                            first_index=first_index, source=source)
        first_index += n
    if answer_cut is not None:
        candidates += cut_candidates(candidates, answer_cut)
    if early_cut is not None:
        candidates += cut_candidates(candidates, early_cut, source_prefix=EARLY_CUT_SOURCE)
    score_candidates(candidates, judges, count_tokens, cfg.pair_rule)
    pairs, skipped = select_length_controlled_pairs(group_by_prompt(candidates), cfg.pair_rule)
    stats = write_pair_files(out_dir, candidates, pairs, skipped, cfg.pair_rule, candidates_name=candidates_name)
    return pairs, stats


# --- the stage (`erpo pairs`) -----------------------------------------------------------------

PAIR_FIELDS = ("candidates", "max_new_tokens", "max_prompts", "prompt_pool", "allowed_prompts",
               "false_allowed_negatives", "pair_rule", "generation_backend", "attacks", "attack_share",
               "benign_attacks", "benign_attack_share")


def pair_settings(config: Any, *, judges: dict | None = None, **_: Any) -> dict:
    """What decides the stage-2 pairs beyond their inputs: the pair-building settings of `config.dpo`
    (not its training ones, so a new learning rate does not sample again), the seed and the judges'
    signatures (pairs selected by an older judge are made again). The pipeline hashes it."""
    cfg = config.dpo
    return {"pairs": {k: getattr(cfg, k) for k in PAIR_FIELDS}, "seed": config.seed,
            "judges": judge_signatures(judges or default_judges(config))}


def run_pairs(config: Any, run_dir: str | Path | None = None, *, backend: Any = None,
              judges: dict | None = None) -> Path:
    """Stage-2 pairs from the SFT model: `03_dpo/{candidates,judgments,pairs}.jsonl`; returns pairs.jsonl.

    Always builds them: skipping pairs that are up to date is the pipeline's (`erpo.pipeline.run_stage`).
    """
    layout = RunLayout(run_dir or config.run_dir)
    cfg = config.dpo
    if not (layout.sft_model / "config.json").exists():
        raise InputError("no SFT model; run `erpo sft` first", file=layout.sft_model)
    rows, negatives = preference_prompts(config, cfg, layout.root, cfg.max_prompts)
    judges = judges or default_judges(config)
    if backend is None:
        backend = get_backend(cfg.generation_backend, model=str(layout.sft_model), dtype=config.dtype,
                              batch_size=cfg.generation_batch_size)
    _, stats = build_pairs(rows, layout.dpo.path, backend=backend, cfg=cfg, judges=judges,
                           count_tokens=token_counter(load_tokenizer(str(layout.sft_model))),
                           offline=offline_candidates(rows, negatives), seed=config.seed)
    print(f"pairs: {stats['pairs']} from {stats['prompts']} prompts; skipped {stats['skipped']}; "
          f"reasons {stats['reasons']}")
    return layout.dpo.pairs
