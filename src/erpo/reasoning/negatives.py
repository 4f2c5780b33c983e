"""Negative thoughts: flawed ex-ante reasoning kept for the preference stages.

For harmful prompts the thought cites a wrong rule (`wrong_rule`) or finds no rule
(`no_rule_comply`) and goes on to comply; or (`false_allowed`, in place of `no_rule_comply` when
asked) it cites the prompt's own rule, calls the request one of that rule's allowed uses in the
words of an allowed-topic thought, and complies — the mirror image of the right thought for an
allowed-topic prompt, so a pair teaches that the allowed clause must fit the intent, not only the
topic; the compliant answer is the base model's own answer to the harmful prompt when one was
generated, else a templated "Sure, here is…" opener. For benign prompts the thought is
over-cautious: it cites a rule that does not apply and refuses (`over_cautious`); for an
allowed-topic prompt that is the rule whose topic it touches, so the negative is the topic-detector
refusal the right thought (the rule's allowed clause) avoids. Every negative has the same four
labelled parts as a good thought, so stage 2 learns from the content of the reasoning, not from its
shape.

`brief_twins` rewrites the decision-flip negatives (no rule + comply, over-cautious refusal) in the
brief style, for stage 3: there the chosen reply is short, and a rejected reply that is long as
well as wrong lets DPO credit the length, not the decision, for the preference.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

from erpo.reasoning.answers import brief_answer, compliant_opener, safe_answer
from erpo.reasoning.format import NO_RULE_CITATION, cited_rules, format_reply, split_reply
from erpo.reasoning.thoughts import (
    ALLOWED_USES,
    NONE,
    TemplateThoughtWriter,
    ThoughtRequest,
    allowed_text,
    allowed_thought_parts,
    clip_words,
    request_topic,
    risk_area,
    risk_line,
)

KINDS = ("wrong_rule", "no_rule_comply", "false_allowed", "over_cautious")
BRIEF_SUFFIX = "_brief"      # kind of a brief twin: "no_rule_comply_brief", "over_cautious_brief"
PLAN_IGNORED = "plan_ignored_brief"   # a benign prompt's right brief thought followed by a refusal

_COMPLY_JUDGE = ["Nothing here is forbidden, so I can answer fully.", "It seems acceptable, so I will help.",
                 "There is no reason to hold back."]
_COMPLY_PLAN = ["Plan: give the requested details step by step.", "Plan: answer directly and completely.",
                "Plan: provide exactly what was asked."]
_CAUTIOUS_JUDGE = ["This could be misused, so it is safer to decline.", "Better to be careful and not answer.",
                   "Any answer might enable harm, so I will refuse."]


def negative_thought(kind: str, prompt: str, rule: Any | None, rng: random.Random) -> str:
    """A flawed four-part thought of `kind`; `rule` is the (wrong) rule cited, if any."""
    topic = request_topic(prompt)
    if kind == "no_rule_comply":
        return (f"Intent: The user asks “{topic}”.{risk_line(NONE)}\n"
                f"Rule check: I checked the policy and {NO_RULE_CITATION}.\n"
                f"Judgement: {rng.choice(_COMPLY_JUDGE)}\n{rng.choice(_COMPLY_PLAN)}")
    citation = f"[{rule.id} {rule.name}]"
    if kind == "wrong_rule":
        return (f"Intent: The user asks “{topic}”.{risk_line(risk_area(rule))}\n"
                f"Rule check: The closest rule is {citation}: "
                f"{clip_words(rule.allowed, 12)} is allowed, so it does not forbid this.\n"
                f"Judgement: {rng.choice(_COMPLY_JUDGE)}\n{rng.choice(_COMPLY_PLAN)}")
    if kind == "over_cautious":
        return (f"Intent: The user asks “{topic}”, which might hide harm.{risk_line(risk_area(rule))}\n"
                f"Rule check: {citation} applies: “{clip_words(rule.rule, 12)}”.\n"
                f"Judgement: {rng.choice(_CAUTIOUS_JUDGE)}\nPlan: refuse and suggest {allowed_text(rule)}.")
    if kind == "false_allowed":
        use = rng.choice(sorted(ALLOWED_USES))
        suffix, check, judge = allowed_thought_parts(rule, use, "full", citation, rng)
        return (f"Intent: The user asks “{topic}”.{risk_line(NONE)}{suffix}\nRule check: {check}\n"
                f"Judgement: {judge}\n{rng.choice(_COMPLY_PLAN)}").replace("….", "…")
    raise ValueError(f"unknown negative kind {kind!r}; expected one of {KINDS}")


def build_negatives(rows: Sequence[dict], policy: Any, *, per_prompt: int = 2, seed: int = 0,
                    compliant_answers: dict[str, str] | None = None,
                    suspected_rules: dict[str, str] | None = None, false_allowed: bool = False) -> list[dict]:
    """Negatives for SFT rows (id, prompt, label, category).

    `compliant_answers` maps a harmful prompt id to the base model's own (compliant) answer;
    `suspected_rules` maps a benign prompt id to the rule an over-cautious model would cite
    (e.g. the classifier's most likely category), else one is drawn at random. `false_allowed`
    replaces a harmful prompt's `no_rule_comply` negative by a `false_allowed` one (when the
    prompt has a rule of its own to misapply).
    """
    compliant_answers, suspected_rules = compliant_answers or {}, suspected_rules or {}
    rule_ids = [r.id for r in policy.rules]
    out = []
    for row in rows:
        rng = random.Random(f"neg:{seed}:{row['id']}")
        if row["label"] == "harmful":
            own_rule = row.get("category") in rule_ids
            kinds = ["wrong_rule", "false_allowed" if false_allowed and own_rule else "no_rule_comply"] * per_prompt
            answer = compliant_answers.get(row["id"]) or compliant_opener(row["prompt"])
        else:
            kinds = ["over_cautious"] * per_prompt
            answer = None
        used: set[str] = set()
        for i, kind in enumerate(kinds[:per_prompt]):
            rule = None
            if kind != "no_rule_comply":
                rule = policy.get(_pick_rule(row, kind, rule_ids, used, suspected_rules, rng))
                used.add(rule.id)
            thought = negative_thought(kind, row["prompt"], rule, rng)
            reply = answer if answer is not None else safe_answer(row["id"], row["prompt"], rule, seed=seed + i)
            out.append({"id": f"{row['id']}-neg{i}", "prompt": row["prompt"], "label": row["label"],
                        "category": row.get("category", NONE), "kind": kind, "thought": thought,
                        "answer": reply, "completion": format_reply(thought, reply), "source_id": row["id"],
                        **{k: row[k] for k in ("allowed_rule", "allowed_kind") if row.get(k)}})
    return out


def _pick_rule(row: dict, kind: str, rule_ids: list[str], used: set[str], suspected: dict[str, str],
               rng: random.Random) -> str:
    if kind == "false_allowed":   # the prompt's own rule, its allowed clause stretched to cover it
        return row["category"]
    # an allowed-topic prompt's over-cautious refusal cites the very rule whose topic it touches
    suspect = row.get("allowed_rule") or suspected.get(row["id"])
    if kind == "over_cautious" and suspect in rule_ids and suspect not in used:
        return suspect
    choices = [r for r in rule_ids if r != row.get("category") and r not in used]
    return rng.choice(choices)


def brief_twins(negatives: Sequence[dict], policy: Any, *, seed: int = 0) -> list[dict]:
    """Brief-style copies of the decision-flip negatives: the thought a brief good reply would have
    for the wrong decision ("Risk area: none" on a harmful prompt, a rule on a benign one), written
    by the template writer, and the negative's answer cut to its opening (`brief_answer`, as
    build-data cuts brief answers). Each benign prompt also gets one `plan_ignored_brief` negative:
    the right brief thought, then the refusal.

    Why: stage 3 chooses short replies, and the brief style is where a small model's decisions
    slip; with only full-length negatives, every rejected wrong decision is also longer than the
    chosen reply, and nothing teaches that a *brief* "Risk area: none" on a harmful prompt is wrong.
    """
    writer = TemplateThoughtWriter(policy, seed=seed)
    out: list[dict] = []
    plan_ignored_for: set[str] = set()
    for neg in negatives:
        written = split_reply(neg.get("completion", ""))     # a hand-made negatives file may give only this
        cited = cited_rules(neg.get("thought") or written.thought)
        if neg.get("kind") == "no_rule_comply":
            category = NONE
        elif neg.get("kind") == "over_cautious" and cited:
            category = cited[0]
        else:
            continue
        thought = writer.thought(ThoughtRequest(id=neg["id"], prompt=neg["prompt"], category=category, brief=True))
        answer = brief_answer(neg.get("answer") or written.answer, prompt=neg["prompt"])
        out.append(_twin(neg, f"{neg['kind']}{BRIEF_SUFFIX}", thought, answer))
        prompt_id = neg.get("source_id", neg["id"])
        if category != NONE and prompt_id not in plan_ignored_for:
            # the right brief thought ("Risk area: none … answer briefly"), then a refusal anyway:
            # what reply-length pressure finds otherwise, a refusal being the shortest answer
            plan_ignored_for.add(prompt_id)
            right = writer.thought(ThoughtRequest(id=neg["id"], prompt=neg["prompt"], category=NONE, brief=True,
                                                  allowed_rule=neg.get("allowed_rule"),
                                                  allowed_kind=neg.get("allowed_kind", "")))
            out.append(_twin(neg, PLAN_IGNORED, right, answer))
    return out


def _twin(neg: dict, kind: str, thought: str, answer: str) -> dict:
    return {**neg, "id": f"{neg['id']}-{kind}", "kind": kind, "thought": thought, "answer": answer,
            "completion": format_reply(thought, answer)}
