"""The length judge (target both): how much the model thinks and says, and how fast.

Counts thought and answer tokens (whitespace words, or a given tokenizer's tokens) and carries the
generation log's completion_tokens and latency into `details`, with tokens/s. The score is a
brevity score, 1 − completion/budget clipped to [0, 1], so shorter replies score higher; the
label says whether the thought was cut off (`truncated`) or not (`ok`).
"""

from __future__ import annotations

from typing import Any

from erpo.judges.base import Judge, JudgeInput, Judgment, Target
from erpo.reasoning.format import split_reply


class LengthJudge(Judge):
    name = "length"

    def __init__(self, target: Target = "both", tokenizer: Any = None, budget: int = 512):
        super().__init__(target)
        self.tokenizer, self.budget = tokenizer, max(1, budget)

    def count(self, text: str) -> int:
        if not text:
            return 0
        if self.tokenizer is not None:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return len(text.split())

    def judge_one(self, inp: JudgeInput) -> Judgment:
        parsed = split_reply(inp.completion)
        thought, answer = self.count(parsed.thought), self.count(parsed.answer)
        completion = inp.completion_tokens or self.count(inp.completion)
        tps = completion / inp.latency_s if inp.latency_s > 0 else None
        return self.make(inp, 1.0 - min(1.0, completion / self.budget), "truncated" if parsed.truncated else "ok",
                         thought_tokens=thought, answer_tokens=answer, completion_tokens=completion,
                         latency_s=inp.latency_s, tokens_per_s=None if tps is None else round(tps, 2),
                         has_format=parsed.has_format)


def length(target: Target = "both", tokenizer: Any = None, budget: int = 512) -> LengthJudge:
    return LengthJudge(target, tokenizer, budget)
