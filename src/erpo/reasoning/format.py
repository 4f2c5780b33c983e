"""The aligned model's output format: `<think>thought</think>` then the final answer.

The thought cites the rule it relies on as `[R09 Weapons of mass harm]`, or says
`[no rule applies]`; on a rule's topic asked for an allowed use it cites the rule, what it allows,
and then `[no rule applies]` (`states_allowed_use`). `split_reply` is the one parser every part of erpo
uses; it survives a
missing opening tag, a missing closing tag (a truncated thought) and stray whitespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
NO_RULE_CITATION = "[no rule applies]"

RULE_CITATION = re.compile(r"\[(R\d{2})(?:\s+[^\]\n]*)?\]")
_NO_RULE = re.compile(r"\[no rule applies\]|\bno (?:safety )?rule applies\b", re.IGNORECASE)
_ALLOWS = re.compile(r"\ballow(?:s|ed)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedReply:
    thought: str
    answer: str
    has_format: bool      # both tags present, in order, thought and answer non-empty
    truncated: bool       # an opened thought never closed


def split_reply(text: str) -> ParsedReply:
    """Split a reply into thought and answer.

    - `<think>a</think>b` → thought a, answer b (the well-formed case).
    - `a</think>b` (opening tag eaten by the chat template) → thought a, answer b.
    - `<think>a` with no close (generation stopped early) → thought a, answer "", truncated.
    - no tags at all → the whole text is the answer.
    """
    text = text or ""
    open_at = text.find(THINK_OPEN)
    close_at = text.find(THINK_CLOSE, open_at + 1 if open_at >= 0 else 0)
    if close_at >= 0:
        start = open_at + len(THINK_OPEN) if 0 <= open_at < close_at else 0
        thought = text[start:close_at].strip()
        answer = text[close_at + len(THINK_CLOSE):].strip()
        ok = open_at >= 0 and bool(thought) and bool(answer)
        return ParsedReply(thought, answer, has_format=ok, truncated=False)
    if open_at >= 0:
        return ParsedReply(text[open_at + len(THINK_OPEN):].strip(), "", has_format=False, truncated=True)
    return ParsedReply("", text.strip(), has_format=False, truncated=False)


def format_reply(thought: str, answer: str) -> str:
    """The training target: the inverse of `split_reply` for well-formed input."""
    return f"{THINK_OPEN}\n{thought.strip()}\n{THINK_CLOSE}\n\n{answer.strip()}"


def cited_rules(thought: str) -> list[str]:
    """Rule ids cited as `[Rnn …]`, in order of first appearance."""
    seen: list[str] = []
    for rule_id in RULE_CITATION.findall(thought or ""):
        if rule_id not in seen:
            seen.append(rule_id)
    return seen


def states_no_rule(thought: str) -> bool:
    return bool(_NO_RULE.search(thought or ""))


def states_allowed_use(thought: str) -> bool:
    """A rule verified and found not to forbid the request: the thought cites a rule, says what it
    allows, and concludes that no rule applies (an allowed-topic prompt's right thought)."""
    return bool(cited_rules(thought)) and states_no_rule(thought) and bool(_ALLOWS.search(thought or ""))


def rule_citation(rule_id: str, rule_name: str) -> str:
    return f"[{rule_id} {rule_name}]"
