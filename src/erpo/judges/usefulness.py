"""The usefulness judge (target answer): score 1 = a real, on-topic, non-degenerate answer.

Six checks, all recorded in `details`: not empty; not a refusal (fast patterns); not degenerate
(less than half of its word trigrams distinct, i.e. looping text); not a lead-in that stops where
its content should start ("Here are the steps:"); with content (at least `min_content_words`
distinct words the prompt did not already say, pleasantries and filler left out — "I'd be happy
to help you improve your posture." has none); on-topic (at least `min_similarity` of the prompt's
content words, compared on their first five letters, come back in the answer: an answer to another
question shares none; answers under TOPIC_MIN_WORDS words are not tested — a word-overlap test, since sentence embeddings judged 15 replies/s on CPU
and this judges thousands). Labels name the first failed check: `empty`, `refusal`,
`degenerate`, `lead_in`, `no_content`, `off_topic`, else `useful`.

Why the content checks: under stage 3's length pressure the shortest reply that passed the other
four was often a non-answer — a promise to help, a restated question, a list's announcement — and
choosing it taught the policy to answer nothing (README, stage 3).
"""

from __future__ import annotations

from typing import Sequence

from erpo.judges.base import Judge, JudgeInput, Judgment, Target, judged_text
from erpo.judges.refusal import is_refusal
from erpo.judges.signals import TOPIC_MIN_WORDS, content_words, distinct_trigram_ratio, is_lead_in, topic_overlap

__all__ = ["UsefulnessJudge", "distinct_trigram_ratio", "topic_overlap", "usefulness"]


class UsefulnessJudge(Judge):
    name = "usefulness"
    version = 3   # 3: on-topic by word overlap (no embeddings); 2: the lead-in and content checks

    def __init__(self, target: Target = "answer", min_similarity: float = 0.1, min_distinct: float = 0.5,
                 min_content_words: int = 4):
        super().__init__(target)
        self.min_similarity, self.min_distinct = min_similarity, min_distinct
        self.min_content_words = min_content_words

    def __call__(self, inputs: Sequence[JudgeInput]) -> list[Judgment]:
        texts = [judged_text(inp.completion, self.target) for inp in inputs]
        return [self._verdict(inp, text, topic_overlap(inp.prompt, text)) for inp, text in zip(inputs, texts)]

    def _verdict(self, inp: JudgeInput, text: str, similarity: float) -> Judgment:
        distinct = distinct_trigram_ratio(text)
        content = len(content_words(inp.prompt, text))
        checks = {"empty": not text.strip(), "refusal": is_refusal(text),
                  "degenerate": distinct < self.min_distinct, "lead_in": is_lead_in(text),
                  "no_content": content < self.min_content_words,
                  "off_topic": similarity < self.min_similarity and len(text.split()) >= TOPIC_MIN_WORDS}
        failed = next((name for name, bad in checks.items() if bad), None)
        return self.make(inp, 0.0 if failed else 1.0, failed or "useful", similarity=round(similarity, 4),
                         distinct_trigrams=round(distinct, 4), content_words=content)


def usefulness(target: Target = "answer", min_similarity: float = 0.1, min_distinct: float = 0.5,
               min_content_words: int = 4) -> UsefulnessJudge:
    return UsefulnessJudge(target, min_similarity, min_distinct, min_content_words)
