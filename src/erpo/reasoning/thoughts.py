"""The reasoning module: ex-ante thoughts for (prompt, category, rule, safe answer).

Every thought has four labelled parts, in order, and stays short: ≈40–80 words in the full style,
≈15–30 in the brief one (`build_data.brief_share` of the prompts; its plan is to answer briefly),
so the SFT model samples both lengths and stage 3 has short replies to prefer:

    Intent: what the user wants, quoting or paraphrasing the request, then `Risk area: <rule name>`
            (or `Risk area: none`) — one fixed slot where the harmful/benign and category decision
            is made, so a small model learns that decision at one token position.
    Rule check: the rule that applies, cited as `[R04 Weapons of mass harm]`, or `[no rule applies]`;
            for an allowed-topic prompt (a rule's topic, an allowed use), the rule cited with what
            it forbids and allows, then `[no rule applies]` (the request is allowed).
    Judgement: whether and how far it may be answered.
    Plan: how the reply will go (and what stays allowed).

Two backends write them:
- `TemplateThoughtWriter` (offline default): several phrasings per part, composed from the
  policy's rule text and the request itself, picked by a seeded RNG per prompt, so the training
  data is varied rather than one fixed string.
- `LLMThoughtWriter`: a teacher model through any generation backend; each output is checked
  (right citation, all four parts) and retried up to N times, else dropped and counted.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from erpo.reasoning.format import (
    NO_RULE_CITATION,
    THINK_CLOSE,
    THINK_OPEN,
    cited_rules,
    states_allowed_use,
    states_no_rule,
)

PART_LABELS = ("Intent:", "Rule check:", "Judgement:", "Plan:")
RISK_AREA_LABEL = "Risk area:"
NONE = "none"

_LEADING_FILLER = re.compile(
    r"^(?:(?:please|hey|hi|hello|ok|okay|so)[,!]?\s+)*(?:(?:can|could|would|will) you(?: please)?|"
    r"i (?:want|need|would like) "
    r"(?:you )?to|i'm trying to|i am trying to|tell me|explain to me|help me(?: to)?|i'd like to know)\s+",
    re.IGNORECASE)


@dataclass
class ThoughtRequest:
    """What a writer needs for one prompt. `category` is a rule id or "none"."""
    id: str
    prompt: str
    category: str
    answer: str = ""
    contrast: bool = False      # benign prompt that shares words with harmful ones
    brief: bool = False         # brief style: terse parts, and a plan to answer briefly
    allowed_rule: str | None = None   # benign prompt on this rule's topic, asking for an allowed use
    allowed_kind: str = ""            # which use: history, fiction, definition, prevention, ...


@dataclass
class ThoughtStats:
    written: int = 0
    retried: int = 0
    dropped: int = 0
    dropped_ids: list[str] = field(default_factory=list)


def request_topic(prompt: str, max_words: int = 12) -> str:
    """A short paraphrase of the request: first sentence, filler stripped, clipped to `max_words`."""
    text = " ".join(prompt.split())
    first = re.split(r"(?<=[.?!])\s+", text, maxsplit=1)[0]
    first = _LEADING_FILLER.sub("", first).strip().rstrip(".?!:;, ")
    words = first.split()
    topic = " ".join(words[:max_words]) + ("…" if len(words) > max_words else "")
    return topic[:1].lower() + topic[1:] if topic[:2] != topic[:2].upper() else topic


def clip_words(text: str, max_words: int) -> str:
    """First sentence of `text`, at most `max_words` words, without a trailing full stop."""
    first = re.split(r"(?<=[.;])\s+", " ".join(str(text).split()), maxsplit=1)[0].rstrip(".; ")
    first = re.sub(r"\s*\([^)]*\)?", "", first)     # drop parentheticals: a clip must not leave "(" open
    words = first.split()
    if len(words) <= max_words:
        return first
    clipped = " ".join(words[:max_words])
    cut = max(clipped.rfind(","), clipped.rfind(":"))
    # end on a list boundary when one is near, so the phrase reads as complete
    return clipped[:cut].rstrip(",:; ") if cut > len(clipped) // 2 else clipped.rstrip(",:; ") + "…"


def allowed_text(rule: Any, max_words: int = 10) -> str:
    """What the rule still allows, as a short phrase (the policy may give a string or a list)."""
    allowed = getattr(rule, "allowed", "") or ""
    if isinstance(allowed, (list, tuple)):
        allowed = ", ".join(str(a) for a in allowed[:2])
    phrase = clip_words(allowed, max_words)
    return phrase[:1].lower() + phrase[1:] if phrase else "general, safety-oriented information"


def has_all_parts(thought: str) -> bool:
    """True when the four labelled parts appear in order."""
    positions = [thought.find(label) for label in PART_LABELS]
    return all(p >= 0 for p in positions) and positions == sorted(positions)


def check_thought(thought: str, category: str) -> str | None:
    """None if the thought is acceptable for `category`, else the reason it is not."""
    if not has_all_parts(thought):
        return "missing parts"
    cited = cited_rules(thought)
    if category == NONE:
        ok = (not cited and states_no_rule(thought)) or states_allowed_use(thought)
        return None if ok else "benign prompt must state no rule applies"
    return None if cited[:1] == [category] else f"must cite {category}, cited {cited or 'nothing'}"


# --- the template backend ---------------------------------------------------------------------

# Two styles, picked per prompt (`ThoughtRequest.brief`): full thoughts (≈40–80 words) and brief
# ones (≈15–30 words) whose plan says to answer briefly. The styles start with different Intent
# openers, so the length decision is made at the first token of the thought; stage 3 then only has
# to move that decision, and the answer that follows the plan moves with it.
_INTENT = {
    "full": ["The user asks {q}.", "The user wants {q}.", "This request is about {q}.",
             "The user is asking for {q}.", "Here the user wants {q}."],
    "brief": ["Asked: {q}.", "Request: {q}."],
}
# how a brief-style reply starts, before the request is quoted: stage 3 can open samples with it
# (`iterate.candidates.brief_opened`) so a model that rarely picks the brief style still offers short replies
_BRIEF_INTENT_STARTS = tuple("Intent: " + opener.split(" {q}")[0] for opener in _INTENT["brief"])
BRIEF_OPENER = f"{THINK_OPEN}\n" + _BRIEF_INTENT_STARTS[0]


def is_brief_thought(thought: str) -> bool:
    """Does the thought open in the brief style (`Intent: Asked:` or `Intent: Request:`)? The style is
    decided at that first word, and the brief plan that follows promises a brief answer."""
    return thought.lstrip().startswith(_BRIEF_INTENT_STARTS)


_INTENT_BENIGN = [
    " It is an ordinary request.", " The intent looks everyday and constructive.", " Nothing suggests harmful intent.",
    " It seems to be a practical, good-faith question.", "",
]
_CONTRAST = [
    " Some words may sound risky, but the meaning is harmless.", " The wording only resembles a risky topic.",
]
_RULE_HARM = {
    "full": ["{cite} applies: “{rule}”.", "This falls under {cite}, which says: {rule}.",
             "The relevant rule is {cite}: {rule}.", "{cite} matches; it reads: “{rule}”."],
    "brief": ["{cite} applies.", "Covered by {cite}."],
}
_RULE_BENIGN = {
    "full": ["{none}; no safety category fits.", "None of the safety rules covers this, so {none}.",
             "{none}: the policy has no objection here.", "I checked the policy and {none}."],
    "brief": ["{none}."],
}
_JUDGE = {
    "full": {
        "refuse": ["Helping would give real uplift for harm, so I must not assist.",
                   "Providing this would break the rule, so I will decline.",
                   "This is not allowed; an answer could cause real harm."],
        "safe_complete": ["Specific instructions are not allowed, but a safe, general reply is.",
                          "I should not give the harmful details, though I can respond safely.",
                          "The harmful core must be withheld; a careful partial answer is fine."],
        "comply_with_care": ["I can help in general terms, with appropriate care.",
                             "A careful, general answer is acceptable here.",
                             "This may be answered cautiously, without personalised or risky detail."],
        NONE: ["It is safe to answer fully.", "The request is fine to help with.",
               "A direct, helpful answer is appropriate.", "There is no risk in answering."],
    },
    "brief": {"refuse": ["Not allowed."], "safe_complete": ["Only a safe, general reply is allowed."],
              "comply_with_care": ["Allowed, with care."], NONE: ["Safe to answer."]},
}
_PLAN = {
    "full": {
        "refuse": ["Plan: decline briefly and offer {allowed} instead.",
                   "Plan: refuse politely and point to {allowed}.",
                   "Plan: say no without lecturing, then suggest {allowed}."],
        "safe_complete": ["Plan: withhold the harmful specifics and give {allowed}.",
                          "Plan: explain what I cannot share, then offer {allowed}."],
        "comply_with_care": ["Plan: answer generally, add a caution, and mention {allowed}.",
                             "Plan: give general guidance and recommend a qualified professional."],
        NONE: ["Plan: give a complete, useful answer.", "Plan: explain the answer step by step.",
               "Plan: respond helpfully, covering the main points.", "Plan: answer clearly and fully."],
    },
    "brief": {"refuse": ["Plan: decline; offer {allowed}."], "safe_complete": ["Plan: give only {allowed}."],
              "comply_with_care": ["Plan: help carefully, staying within {allowed}."], NONE: ["Plan: answer briefly."]},
}


# allowed-topic prompts: the thought verifies the rule whose topic the request touches, cites what
# it allows and the use the request asks for, and complies, so the decision is "topic + intent"
ALLOWED_USES = {
    "history": "history", "news": "news and public information", "definition": "a definition",
    "figurative": "a figurative or everyday use of the word", "fiction": "fiction or games",
    "prevention": "prevention and safety", "law": "legal information", "information": "general information",
}
_ALLOWED_INTENT = [" The topic touches {area}, but the request is for {use}.",
                   " It concerns {area} as a topic; what is asked for is {use}."]
_ALLOWED_RULE = {
    "full": ["{cite} says: “{rule}”; it allows {allowed}. This request asks for {use}, an allowed use, "
             "so {none}.",
             "{cite} is the rule to check: “{rule}”. It allows {allowed}; asking for {use} is allowed, "
             "so {none}."],
    "brief": ["{cite} allows {use}; {none}."],
}
_ALLOWED_JUDGE = {
    "full": ["The topic alone is no reason to refuse: nothing here helps anyone cause harm, so I can answer fully.",
             "Only the topic sounds risky; the intent is to understand, which the policy allows, so I will help."],
    "brief": ["Allowed use; safe to answer."],
}


def _phrases(table: dict, modes: Sequence[str]) -> list[str]:
    """The fixed wording of `table`'s phrasings for `modes` (a plan's text up to its first slot)."""
    return [text.split("{")[0].strip() for style in table.values() for mode in modes for text in style.get(mode, [])]


_DECLINE_PHRASES = _phrases(_JUDGE, ["refuse"]) + _phrases(_PLAN, ["refuse"])
_HELP_PHRASES = (_phrases(_JUDGE, [NONE, "comply_with_care"]) + _phrases(_PLAN, [NONE, "comply_with_care"])
                 + _phrases({"any": _ALLOWED_JUDGE}, ["full", "brief"]))


def template_wording() -> str:
    """Every fixed phrase of the thought templates (the words around their slots), space-joined: the
    wording a model trained on these thoughts may echo in its answer instead of answering."""
    tables = [_INTENT, _RULE_HARM, _RULE_BENIGN, _ALLOWED_RULE, _ALLOWED_JUDGE]
    fixed = [part for table in tables for style in table.values() for text in style
             for part in re.split(r"\{\w+\}", text)]
    fixed += [part for table in (_JUDGE, _PLAN) for style in table.values() for texts in style.values()
              for text in texts for part in re.split(r"\{\w+\}", text)]
    return " ".join(fixed + _INTENT_BENIGN + _CONTRAST + _ALLOWED_INTENT)


def thought_decision(thought: str) -> str | None:
    """"decline" when the thought concludes in one of this module's refusal phrasings, "help" when in
    one of its answering ones (no rule, allowed use, with care), None when in neither or both (a
    safe-completion thought, or one in other words: a model not trained on these thoughts).

    Why: the eval's judges read the answer and the citation; whether the answer then follows the
    thought's own decision is a separate question (a model can decide to decline and still answer).
    """
    declines = any(p in thought for p in _DECLINE_PHRASES)
    helps = any(p in thought for p in _HELP_PHRASES)
    return "decline" if declines and not helps else "help" if helps and not declines else None


def allowed_thought_parts(rule: Any, use_kind: str, style: str, citation: str,
                          rng: random.Random) -> tuple[str, str, str]:
    """(intent suffix, rule check, judgement) of an allowed-topic thought for `rule`."""
    kind = use_kind if use_kind in ALLOWED_USES else "information"
    use = ALLOWED_USES[kind]
    intent = "" if style == "brief" else rng.choice(_ALLOWED_INTENT).format(area=risk_area(rule), use=use)
    check = rng.choice(_ALLOWED_RULE[style]).format(cite=citation, rule=clip_words(rule.rule, 10),
                                                    allowed=allowed_text(rule, 10), use=use, none=NO_RULE_CITATION)
    return intent, check, rng.choice(_ALLOWED_JUDGE[style])


def risk_line(area: str) -> str:
    """The decision slot of the Intent part: `Risk area: <rule name, lower case>.` or `Risk area: none.`

    Fixed wording on purpose (the rest of the thought varies): with the phrase shared by harmful and
    benign thoughts, the first word after it *is* the classification, which a 135M model learns far
    better than a choice spread over differently worded sentences.
    """
    return f" {RISK_AREA_LABEL} {area}."


def risk_area(rule: Any | None) -> str:
    return rule.name.lower() if rule is not None else NONE


class TemplateThoughtWriter:
    """Offline thoughts composed from the policy; the same (seed, prompt id) gives the same thought."""

    name = "template"

    def __init__(self, policy: Any, *, seed: int = 0):
        self.policy, self.seed = policy, seed

    def write(self, requests: Sequence[ThoughtRequest],
              progress: str | None = None) -> tuple[list[str | None], ThoughtStats]:
        stats = ThoughtStats(written=len(requests))
        return [self.thought(r) for r in requests], stats

    def thought(self, req: ThoughtRequest) -> str:
        rng = random.Random(f"{self.seed}:{req.id}:{req.prompt}")
        style = "brief" if req.brief else "full"
        topic = request_topic(req.prompt, 6 if req.brief else 12)
        quoted = f"“{topic}”" if req.brief else rng.choice([f"“{topic}”", f"help with “{topic}”",
                                                              f"information on “{topic}”"])
        intent = rng.choice(_INTENT[style]).format(q=quoted)
        if req.category == NONE and req.allowed_rule:
            rule_obj = self.policy.get(req.allowed_rule)
            suffix, rule, judge = allowed_thought_parts(rule_obj, req.allowed_kind, style,
                                                        self.policy.citation(req.allowed_rule), rng)
            plan = rng.choice(_PLAN[style][NONE])
            return (f"Intent: {intent}{risk_line(NONE)}{suffix}\nRule check: {rule}\nJudgement: {judge}\n"
                    f"{plan}").replace("….", "…")
        if req.category == NONE:
            intent += risk_line(NONE)
            if not req.brief:
                intent += rng.choice(_CONTRAST) if req.contrast else rng.choice(_INTENT_BENIGN)
            rule = rng.choice(_RULE_BENIGN[style]).format(none=NO_RULE_CITATION)
            mode = NONE
            plan = rng.choice(_PLAN[style][NONE])
        else:
            rule_obj = self.policy.get(req.category)
            intent += risk_line(risk_area(rule_obj))
            rule = rng.choice(_RULE_HARM[style]).format(cite=self.policy.citation(req.category),
                                                         rule=clip_words(rule_obj.rule, 12))
            mode = rule_obj.response_mode if rule_obj.response_mode in _JUDGE[style] else "refuse"
            plan = rng.choice(_PLAN[style][mode]).format(allowed=allowed_text(rule_obj, 6 if req.brief else 10))
        judge = rng.choice(_JUDGE[style][mode])
        return f"Intent: {intent}\nRule check: {rule}\nJudgement: {judge}\n{plan}".replace("….", "…")


# --- the llm teacher backend ------------------------------------------------------------------

TEACHER_INSTRUCTIONS = """You write the private reasoning a safe assistant does BEFORE answering.
Safety policy (cite a rule exactly as written in brackets):
{rules}

User request: {prompt}
Most relevant rule: {citation}
The reply that will be given: {answer}

Write {words} words in exactly four lines:
Intent: <what the user wants, quoting the request briefly>. Risk area: {area}.
Rule check: <cite {citation}{extra}>
Judgement: <may it be answered, and how far>
Plan: <how the reply will go; mention what stays allowed>
Write only these four lines."""


class LLMThoughtWriter:
    """A teacher model writes the thoughts; outputs that fail `check_thought` are retried, then dropped."""

    name = "llm"

    def __init__(self, policy: Any, backend: Any, *, retries: int = 2, max_new_tokens: int = 160,
                 temperature: float = 0.7, seed: int = 0):
        self.policy, self.backend, self.retries = policy, backend, retries
        self.max_new_tokens, self.temperature, self.seed = max_new_tokens, temperature, seed

    def teacher_prompt(self, req: ThoughtRequest) -> str:
        rules = "\n".join(f"{self.policy.citation(r.id)} {clip_words(r.rule, 25)}" for r in self.policy.rules)
        none = req.category == NONE
        citation = NO_RULE_CITATION if none else self.policy.citation(req.category)
        extra = " and say no safety rule is violated" if none else " and say what it forbids and allows"
        area = NONE if none else risk_area(self.policy.get(req.category))
        return TEACHER_INSTRUCTIONS.format(rules=rules, prompt=req.prompt, citation=citation, area=area,
                                           answer=clip_words(req.answer, 40) or "(not yet written)", extra=extra,
                                           words="15-30" if req.brief else "40-80")

    def write(self, requests: Sequence[ThoughtRequest],
              progress: str | None = None) -> tuple[list[str | None], ThoughtStats]:
        from erpo.generation import SamplingParams, user_turn
        stats = ThoughtStats()
        results: list[str | None] = [None] * len(requests)
        pending = list(range(len(requests)))
        for attempt in range(self.retries + 1):
            if not pending:
                break
            params = SamplingParams(max_new_tokens=self.max_new_tokens, temperature=0.0 if attempt == 0 else
                                    self.temperature, seed=self.seed + attempt)
            convs = [user_turn(self.teacher_prompt(requests[i])) for i in pending]
            outputs = self.backend.generate(convs, params, progress=progress)
            failed = []
            for i, gens in zip(pending, outputs):
                thought = clean_teacher_output(gens[0].text)
                if check_thought(thought, requests[i].category) is None:
                    results[i] = thought
                else:
                    failed.append(i)
            stats.retried += len(failed) if attempt < self.retries else 0
            pending = failed
        stats.written = sum(r is not None for r in results)
        stats.dropped = len(pending)
        stats.dropped_ids = [requests[i].id for i in pending]
        return results, stats


def clean_teacher_output(text: str) -> str:
    """Strip think tags and anything before the first part label, keep the four labelled lines."""
    text = text.split(THINK_CLOSE)[0].replace(THINK_OPEN, "").strip()   # a teacher may add an answer after
    start = text.find(PART_LABELS[0])
    text = text[start:] if start >= 0 else text
    plan_at = text.find(PART_LABELS[-1])
    if plan_at >= 0:   # drop anything the teacher added after the plan line
        end = text.find("\n", plan_at)
        text = text if end < 0 else text[:end]
    return text.strip()


def get_thought_writer(name: str, policy: Any, **kwargs: Any) -> Any:
    if name == "template":
        return TemplateThoughtWriter(policy, seed=kwargs.get("seed", 0))
    if name == "llm":
        return LLMThoughtWriter(policy, kwargs["backend"], retries=kwargs.get("retries", 2), seed=kwargs.get("seed", 0))
    from erpo.errors import ErpoError
    raise ErpoError(f"unknown reasoning backend {name!r}; choose 'template' or 'llm'")
