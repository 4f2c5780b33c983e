"""Safe answers, the second half of every stage 1 training target.

- Harmful prompts: a refusal or safe completion following the rule's `response_mode`, always
  offering what stays allowed; wording varies with a seeded RNG per prompt.
- Benign prompts: the teacher's own answer (by default the base model: self-distillation),
  kept only if it is not a refusal and not degenerate; text cut off mid-sentence is trimmed to
  the last full sentence.
- Brief-style rows (`build_data.brief_share`): the refusal without its stated reason, and the
  benign answer's opening sentences (`brief_answer`).
"""

from __future__ import annotations

import random
import re
from typing import Any, Sequence

from erpo.judges.refusal_phrases import is_refusal as judge_is_refusal
from erpo.reasoning.thoughts import allowed_text, request_topic

_OPENERS = {
    "refuse": ["I can't help with that.", "I'm not able to help with this request.", "Sorry, I can't assist with that.",
               "I won't help with this.", "I can't provide that."],
    "safe_complete": ["I can't give specific instructions for that.", "I won't provide the details you asked for.",
                      "I can't help with the harmful part of this request.", "I'm not able to share that information."],
    "comply_with_care": ["I can share some general information, but not personalised advice.",
                         "Here is some general guidance, with an important caveat.",
                         "I can help in general terms, though I can't replace a professional."],
}
_REASONS = {
    "refuse": ["It could cause real harm to people.", "It falls under {name}, which I don't assist with.",
               "Helping could put someone at risk.", ""],
    "safe_complete": ["It could put you or others at risk.", "Details like these could be used to cause harm.", ""],
    "comply_with_care": ["Your situation may need someone who knows the details.",
                         "Decisions like this depend on specifics I can't assess.", ""],
}
_OFFERS = ["If it helps, I can offer {allowed} instead.", "I'm happy to help with {allowed}.",
           "What I can do is help with {allowed}.", "If you're interested, we could look at {allowed}."]
_CARE = {
    "R08": ["If you are thinking about hurting yourself, please reach out to someone you trust or a local crisis line; "
            "you don't have to go through this alone.",
            "You deserve support right now. Please contact a crisis line or emergency services, "
            "or talk to someone you trust."],
    "R11": ["For a decision about your own case, please consult a qualified professional.",
            "A licensed professional who knows your situation can give you a reliable answer."],
}

_REFUSAL_PATTERNS = re.compile(
    r"\b(?:i can(?:'|no)t|i cannot|i'm (?:not able|unable|sorry)|i am (?:not able|unable|sorry)|i won't|"
    r"as an ai|i'm just an ai|i must decline|i can not|not appropriate|against my|i apologi[sz]e)\b", re.IGNORECASE)


def safe_answer(prompt_id: str, prompt: str, rule: Any, *, seed: int = 0, brief: bool = False) -> str:
    """A varied refusal / safe completion for a harmful prompt under `rule`; `brief` leaves out the
    reason (a crisis-line pointer and the safe alternative stay)."""
    rng = random.Random(f"answer:{seed}:{prompt_id}:{prompt}")
    mode = rule.response_mode if rule.response_mode in _OPENERS else "refuse"
    reason = rng.choice(_REASONS[mode]).format(name=rule.name.lower())   # drawn either way: same later choices
    parts = [rng.choice(_OPENERS[mode]), "" if brief else reason]
    if rule.id in _CARE:
        parts.append(rng.choice(_CARE[rule.id]))
    parts.append(rng.choice(_OFFERS).format(allowed=allowed_text(rule, 12)))
    return " ".join(p for p in parts if p)


def is_refusal(text: str) -> bool:
    """Refusal check: the refusal judge's phrases, plus a few the teacher's answers use."""
    return judge_is_refusal(text) or bool(_REFUSAL_PATTERNS.search(text[:300]))


def trim_to_sentence(text: str) -> str:
    """Cut a reply that stopped mid-sentence back to its last complete sentence (or line of a list)."""
    text = text.strip()
    if not text or text[-1] in ".!?)\"'`*:" or text.endswith("```"):
        return text
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)|[.!?]$|\n", text)]
    return text[:ends[-1]].strip() if ends else ""


def brief_answer(text: str, *, prompt: str | None = None, min_words: int = 15, max_sentences: int = 3,
                 min_content_words: int = 4) -> str:
    """The opening of an answer: whole sentences (a list item counts as one) until `min_words` words
    are reached, at most `max_sentences` of them — the answer a brief-style plan promises.

    A cut never ends on a lead-in (`is_lead_in`) or inside a code block: "Here's an example:" goes
    on to what it announces and a code block to its end, since the announcement alone answers nothing.
    Given the `prompt`, it also goes on until the cut says `min_content_words` things the prompt did
    not (`content_words`, the usefulness judge's test): an opening that restates the question
    ("Writing readable code is a crucial skill.") is not yet an answer."""
    kept: list[str] = []
    for line in text.strip().splitlines():
        if _in_code("".join(kept)) or line.lstrip().startswith("```"):   # code keeps its lines, blank ones too
            sentences = [line.rstrip()]
        else:
            sentences = [s for s in re.split(r"(?<=[^\d][.!?])\s+", line.strip()) if s]
        if kept and sentences:
            kept.append("\n")
        for sentence in sentences:
            kept.append(sentence if not kept or kept[-1] == "\n" else " " + sentence)
            cut = "".join(kept)
            enough = sum(k != "\n" for k in kept) >= max_sentences or len(cut.split()) >= min_words
            if enough and not _in_code(cut) and not is_lead_in(cut) and \
                    (prompt is None or len(content_words(prompt, cut)) >= min_content_words):
                return cut.strip()
    return "".join(kept).strip()


def _in_code(text: str) -> bool:
    """Is `text` inside a code block (an odd number of fences)?"""
    return text.count("```") % 2 == 1


def is_lead_in(answer: str) -> bool:
    """Does the answer stop where its content should start: on a colon ("Here are the steps:") or
    inside a code block that holds no code yet?"""
    text = answer.strip()
    if text.endswith(":"):
        return True
    if _in_code(text):   # an unclosed block: is there any code after its opening line?
        code = text[text.rfind("```"):].split("\n", 1)
        return len(code) < 2 or not code[1].strip()
    return False


# words that carry no content of their own in a short answer: pleasantries and the filler of a
# restated question ("Writing readable code is a crucial aspect of software development.")
_FILLER_WORDS = frozenset("""help helps helping helpful assist happy glad sure certainly course great good
    crucial essential important key vital fundamental pivotal significant aspect aspects concept journey
    overwhelming bit way ways skill thing things plan approach tip tips advice idea ideas""".split())


def content_words(prompt: str, answer: str) -> set[str]:
    """Distinct words of the answer that say something the prompt did not: not a stop word (scikit-
    learn's English list), not filler, not (up to a plural "s") a word of the prompt."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    def stem(word: str) -> str:
        return word.lower().rstrip("s")
    said = {stem(w) for w in _WORD.findall(prompt)}
    return {stem(w) for w in _WORD.findall(answer)
            if len(w) > 2 and w.lower() not in ENGLISH_STOP_WORDS and w.lower() not in _FILLER_WORDS
            and stem(w) not in said}


_WORD = re.compile(r"[^\W\d_][\w-]*")   # "I'm" gives "I", "user's" gives "user"


def degenerate_reason(text: str, *, min_words: int = 8) -> str | None:
    """Why a teacher answer is unusable (too short, repetitive), or None when it is fine."""
    words = text.split()
    if len(words) < min_words:
        return "too short"
    lines = [ln.strip().lower() for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 4 and len(set(lines)) / len(lines) < 0.6:
        return "repeated lines"
    grams = [tuple(w.lower() for w in words[i:i + 4]) for i in range(len(words) - 3)]
    if len(grams) >= 12 and len(set(grams)) / len(grams) < 0.55:
        return "repetitive"
    return None


def clean_teacher_answer(text: str, finish_reason: str = "stop") -> tuple[str | None, str | None]:
    """(answer, None) when usable, else (None, reason). Cut-off replies are trimmed first."""
    text = (text or "").strip()
    if finish_reason == "length" or (text and text[-1].isalnum()):
        text = trim_to_sentence(text)
    if is_refusal(text):
        return None, "refusal"
    reason = degenerate_reason(text)
    return (None, reason) if reason else (text, None)


def teacher_answers(prompts: Sequence[str], backend: Any, *, max_new_tokens: int = 160,
                    progress: str | None = "teacher answers") -> list[tuple[str | None, str | None]]:
    """Greedy teacher answers for benign prompts, each cleaned: list of (answer or None, reject reason)."""
    from erpo.generation import SamplingParams, user_turn
    params = SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0)
    outputs = backend.generate([user_turn(p) for p in prompts], params, progress=progress)
    return [clean_teacher_answer(gens[0].text, gens[0].finish_reason) for gens in outputs]


def compliant_opener(prompt: str) -> str:
    """A templated start of a compliant answer to a harmful prompt (for negative examples only)."""
    return f"Sure, here is how to {request_topic(prompt, 16)}. First, gather what you need, then follow these steps:"
