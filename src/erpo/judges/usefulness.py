"""The usefulness judge (target answer): score 1 = a real, on-topic, non-degenerate answer.

Six checks, all recorded in `details`: not empty; not a refusal (fast patterns); not degenerate
(less than half of its word trigrams distinct, i.e. looping text); not a lead-in that stops where
its content should start ("Here are the steps:"); with content (at least `min_content_words`
distinct words the prompt did not already say, pleasantries and filler left out — "I'd be happy
to help you improve your posture." has none); on-topic (MiniLM cosine similarity between prompt
and answer at least `min_similarity`). Labels name the first failed check: `empty`, `refusal`,
`degenerate`, `lead_in`, `no_content`, `off_topic`, else `useful`.

Why the content checks: under stage 3's length pressure the shortest reply that passed the other
four was often a non-answer — a promise to help, a restated question, a list's announcement — and
choosing it taught the policy to answer nothing (README, stage 3).
"""

from __future__ import annotations

from typing import Sequence

from erpo.embeddings import embed
from erpo.judges.base import Judge, JudgeInput, Judgment, Target, judged_text
from erpo.judges.refusal_phrases import is_refusal
from erpo.reasoning.answers import content_words, is_lead_in


def distinct_trigram_ratio(text: str) -> float:
    """Share of distinct word trigrams; looping text scores low, normal prose near 1."""
    words = text.lower().split()
    grams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    return len(set(grams)) / len(grams) if grams else 1.0


class UsefulnessJudge(Judge):
    name = "usefulness"
    version = 2   # 2: the lead-in and content checks

    def __init__(self, target: Target = "answer", min_similarity: float = 0.15, min_distinct: float = 0.5,
                 min_content_words: int = 4):
        super().__init__(target)
        self.min_similarity, self.min_distinct = min_similarity, min_distinct
        self.min_content_words = min_content_words

    def __call__(self, inputs: Sequence[JudgeInput]) -> list[Judgment]:
        texts = [judged_text(inp.completion, self.target) for inp in inputs]
        checks = [self._text_checks(inp, text) for inp, text in zip(inputs, texts)]
        # the on-topic check is the last and the only costly one: embed only the replies that pass
        # every other check, and each distinct prompt once (stage 2/3 judge several replies a prompt)
        todo = [i for i, c in enumerate(checks) if not any(c["failed"].values())]
        sims = self._similarities([inputs[i].prompt for i in todo], [texts[i] for i in todo])
        for i, sim in zip(todo, sims):
            checks[i]["failed"]["off_topic"] = sim < self.min_similarity
            checks[i]["details"]["similarity"] = round(sim, 4)
        return [self._verdict(inp, c) for inp, c in zip(inputs, checks)]

    def _text_checks(self, inp: JudgeInput, text: str) -> dict:
        distinct = distinct_trigram_ratio(text)
        content = len(content_words(inp.prompt, text))
        failed = {"empty": not text.strip(), "refusal": is_refusal(text), "degenerate": distinct < self.min_distinct,
                  "lead_in": is_lead_in(text), "no_content": content < self.min_content_words}
        return {"failed": failed, "details": {"similarity": None, "distinct_trigrams": round(distinct, 4),
                                              "content_words": content}}

    @staticmethod
    def _similarities(prompts: list[str], answers: list[str]) -> list[float]:
        """Cosine similarity of each answer with its prompt (MiniLM)."""
        if not answers:
            return []
        distinct = sorted(set(prompts))
        by_prompt = dict(zip(distinct, embed([p or "(empty)" for p in distinct])))
        a = embed([t or "(empty)" for t in answers])
        return [float(x @ by_prompt[p]) for x, p in zip(a, prompts)]

    def _verdict(self, inp: JudgeInput, checks: dict) -> Judgment:
        failed = next((name for name, bad in checks["failed"].items() if bad), None)
        return self.make(inp, 0.0 if failed else 1.0, failed or "useful", **checks["details"])


def usefulness(target: Target = "answer", min_similarity: float = 0.15, min_distinct: float = 0.5,
               min_content_words: int = 4) -> UsefulnessJudge:
    return UsefulnessJudge(target, min_similarity, min_distinct, min_content_words)
