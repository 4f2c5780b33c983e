"""Judge registry: `get_judge(name, **kw)` builds a callable `judge(list[JudgeInput]) -> list[Judgment]`.

Built-in judges (lazy; listing them imports nothing heavy):
- `refusal` (answer): score 1 = refused; patterns + a text model fitted on human labels.
- `llm` (configurable): any generative judge behind a generation backend, rubric prompt.
- `harm` (answer): score 1 = the answer gives actionable help for a harmful request; offline
  features + a fitted model by default, `backend="openai"|"hf"|...` for the llm rubric judge.
- `refusal_pattern` (answer): the baseline: does the answer open with a refusal phrase.
- `rule_citation` (thought): score 1 = cites the expected rule (or states no rule for benign).
- `length` (both): thought/answer/completion tokens, latency, tokens/s.
- `usefulness` (answer): score 1 = answered, on-topic and not degenerate.
Register your own with `JUDGES.add("name", "package.module:factory")`.
"""

from __future__ import annotations

from typing import Any

from erpo.judges.base import Judge, JudgeInput, Judgment, judged_text
from erpo.registry import Registry

JUDGES = Registry("judge")
JUDGES.add("refusal", "erpo.judges.refusal:refusal")
JUDGES.add("llm", "erpo.judges.llm:llm")
JUDGES.add("harm", "erpo.judges.harm:harm")
JUDGES.add("refusal_pattern", "erpo.judges.refusal_pattern:refusal_pattern")
JUDGES.add("rule_citation", "erpo.judges.rule_citation:rule_citation")
JUDGES.add("length", "erpo.judges.length:length")
JUDGES.add("usefulness", "erpo.judges.usefulness:usefulness")


def get_judge(name: str, **kwargs: Any) -> Any:
    """Build a judge by registry name, e.g. `get_judge("refusal", use_classifier=False)`."""
    return JUDGES.get(name)(**kwargs)


__all__ = ["JUDGES", "Judge", "JudgeInput", "Judgment", "get_judge", "judged_text"]
