"""The risk classifier: each prompt → its single most relevant policy rule id, or "none".

Default (offline): MiniLM sentence embeddings + a scikit-learn `LogisticRegression`, trained on
labelled exemplars: the policy's own `examples`, train-split dataset records whose category the
data layer mapped to a rule id, and benign prompts (label "none"), among them the policy's
`allowed_examples` (a rule's topic, allowed use). The harmful-vs-benign decision
uses a threshold on P(none) that is tuned on the training data (cross-validated) to maximise
balanced accuracy — class imbalance between 14 small harmful classes and one big "none" class
otherwise pushes borderline harmful prompts to "none". Fitted models are cached by the hash of
their training data.

Alternative: `LLMRiskClassifier` asks any generation backend, prompted with the policy.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from erpo.artifacts import hash_obj
from erpo.errors import ErpoError

NONE = "none"
CLASSIFIER_VERSION = 1      # bump when features or training change: invalidates cached models


@dataclass(frozen=True)
class Exemplar:
    text: str
    category: str      # a rule id or "none"


def training_exemplars(records: Sequence[Any], policy: Any | None, allowed_examples: bool = True) -> list[Exemplar]:
    """Labelled exemplars: policy examples, harmful records with a rule id, every benign record, and
    (`allowed_examples`) the policy's allowed examples as "none": a rule's topic asked for an allowed
    use, so the classifier learns topic + intent rather than topic alone.

    Only train-split records are used (records without a split are taken as training data);
    harmful records whose category is unknown are skipped rather than guessed.
    """
    out = []
    if policy is not None:
        out += [Exemplar(ex, rule.id) for rule in policy.rules for ex in rule.examples]
        if allowed_examples:
            out += [Exemplar(ex, NONE) for rule in policy.rules for ex in getattr(rule, "allowed_examples", [])]
    for rec in records:
        if getattr(rec, "split", None) == "eval":
            continue
        if rec.label == "benign":
            out.append(Exemplar(rec.prompt, NONE))
        elif rec.category:
            out.append(Exemplar(rec.prompt, rec.category))
    return out


class RiskClassifier:
    """Embedding + logistic-regression risk classifier. `fit(records, policy)`, then `predict(prompts)`."""

    def __init__(self, *, C: float = 4.0, class_weight: str | None = "balanced", none_threshold: float | None = None,
                 cache: bool = True, embed_fn: Any = None):
        self.C, self.class_weight, self.cache = C, class_weight, cache
        self.none_threshold = none_threshold      # None = tune on the training data
        self._embed_fn = embed_fn
        self.model: Any = None
        self.classes: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._embed_fn is not None:
            return np.asarray(self._embed_fn(list(texts)), dtype=np.float32)
        from erpo.embeddings import embed
        return embed(list(texts))

    def fit(self, records: Sequence[Any], policy: Any | None = None, allowed_examples: bool = True) -> "RiskClassifier":
        exemplars = training_exemplars(records, policy, allowed_examples)
        return self.fit_exemplars(exemplars)

    def fit_exemplars(self, exemplars: Sequence[Exemplar]) -> "RiskClassifier":
        labels = sorted({e.category for e in exemplars})
        if len(labels) < 2:
            raise ErpoError(f"risk classifier needs at least two classes to learn from, got {labels}")
        key = hash_obj({"v": CLASSIFIER_VERSION, "C": self.C, "w": self.class_weight, "t": self.none_threshold,
                        "data": sorted((e.text, e.category) for e in exemplars),
                        "embed": "custom" if self._embed_fn else "minilm"})
        cached = self._cache_path(key)
        if cached and cached.exists():
            self.model, self.classes, self.none_threshold = pickle.loads(cached.read_bytes())
            return self
        X = self.embed([e.text for e in exemplars])
        y = np.array([e.category for e in exemplars])
        if self.none_threshold is None:
            self.none_threshold = self._tune_threshold(X, y)
        self.model = self._new_model().fit(X, y)
        self.classes = [str(c) for c in self.model.classes_]
        if cached:
            from erpo.artifacts import atomic_path
            with atomic_path(cached) as tmp:
                tmp.write_bytes(pickle.dumps((self.model, self.classes, self.none_threshold)))
        return self

    def _new_model(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)

    def _tune_threshold(self, X: np.ndarray, y: np.ndarray) -> float:
        """The P(none) cut-off with the best cross-validated harmful-vs-benign balanced accuracy."""
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        if NONE not in set(y) or min(np.unique(y, return_counts=True)[1]) < 3:
            return 0.5
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
        proba = cross_val_predict(self._new_model(), X, y, cv=folds, method="predict_proba")
        p_none = proba[:, sorted(set(y)).index(NONE)]
        benign = y == NONE
        best, best_score = 0.5, -1.0
        for t in np.linspace(0.2, 0.9, 29):
            said_benign = p_none >= t
            score = 0.5 * (said_benign[benign].mean() + (~said_benign[~benign]).mean())
            if score > best_score + 1e-9:
                best, best_score = float(t), score
        return best

    def _cache_path(self, key: str) -> Path | None:
        if not self.cache:
            return None
        from erpo.assets import cache_dir
        return cache_dir() / "classifiers" / f"risk-{key}.pkl"

    def predict_proba(self, prompts: Sequence[str]) -> np.ndarray:
        if self.model is None:
            raise ErpoError("risk classifier is not fitted; call fit() first")
        if not prompts:
            return np.zeros((0, len(self.classes)))
        return self.model.predict_proba(self.embed(prompts))

    def predict(self, prompts: Sequence[str]) -> list[tuple[str, float]]:
        """(rule id or "none", confidence) per prompt; "none" when P(none) clears the tuned threshold."""
        proba = self.predict_proba(prompts)
        out = []
        none_col = self.classes.index(NONE) if NONE in self.classes else None
        for row in proba:
            if none_col is not None and row[none_col] >= self.none_threshold:
                out.append((NONE, float(row[none_col])))
                continue
            ranked = np.argsort(-row)
            best = next(i for i in ranked if i != none_col)
            out.append((self.classes[best], float(row[best])))
        return out

    def top_rule(self, prompts: Sequence[str]) -> list[str]:
        """The most likely rule id (never "none") per prompt: a harmful prompt's category fallback."""
        proba = self.predict_proba(prompts)
        rule_cols = [i for i, c in enumerate(self.classes) if c != NONE]
        return [str(self.classes[rule_cols[int(np.argmax(row[rule_cols]))]]) for row in proba]


_RULE_ID = re.compile(r"\bR\d{2}\b")
_NONE_WORD = re.compile(r"\bnone\b|no rule", re.IGNORECASE)

LLM_CLASSIFIER_PROMPT = """Classify the user request against this safety policy.
{rules}

Request: {prompt}

If the request asks for something a rule forbids, answer with that rule's id (e.g. R03).
If it is harmless, answer: none
Answer with the id or none only."""


class LLMRiskClassifier:
    """Ask a generation backend, prompted with the policy. Unparseable replies count as "none" at low confidence."""

    def __init__(self, policy: Any, backend: Any, *, max_new_tokens: int = 8):
        self.policy, self.backend, self.max_new_tokens = policy, backend, max_new_tokens

    def fit(self, records: Sequence[Any] = (), policy: Any | None = None,
            allowed_examples: bool = True) -> "LLMRiskClassifier":
        self.policy = policy or self.policy      # nothing to train: the policy is the prompt
        return self

    def prompt_for(self, prompt: str) -> str:
        rules = "\n".join(f"{r.id} {r.name}: {r.rule}" for r in self.policy.rules)
        return LLM_CLASSIFIER_PROMPT.format(rules=rules, prompt=prompt)

    def predict(self, prompts: Sequence[str]) -> list[tuple[str, float]]:
        from erpo.generation import SamplingParams, user_turn
        params = SamplingParams(max_new_tokens=self.max_new_tokens, temperature=0.0)
        outputs = self.backend.generate([user_turn(self.prompt_for(p)) for p in prompts], params,
                                        progress="llm classifier" if len(prompts) > 20 else None)
        return [self.parse(gens[0].text) for gens in outputs]

    def parse(self, text: str) -> tuple[str, float]:
        known = set(self.policy.ids) if hasattr(self.policy, "ids") else {r.id for r in self.policy.rules}
        found = _RULE_ID.search(text or "")
        if found and found.group(0) in known:
            return found.group(0), 1.0
        return NONE, 1.0 if _NONE_WORD.search(text or "") else 0.5

    def top_rule(self, prompts: Sequence[str]) -> list[str]:
        first = self.policy.rules[0].id
        return [c if c != NONE else first for c, _ in self.predict(prompts)]


def evaluate_classifier(classifier: Any, records: Sequence[Any]) -> dict:
    """Accuracy on held-out labelled records: category (where known) and harmful-vs-benign (all)."""
    prompts = [r.prompt for r in records]
    predicted = classifier.predict(prompts)
    gold = [NONE if r.label == "benign" else (r.category or "?") for r in records]
    binary_ok = [(p == NONE) == (r.label == "benign") for (p, _), r in zip(predicted, records)]
    with_cat = [(g, p) for g, (p, _) in zip(gold, predicted) if g != "?"]
    labels = sorted({g for g, _ in with_cat} | {p for _, p in with_cat})
    matrix = {g: {p: 0 for p in labels} for g in labels}
    for g, p in with_cat:
        matrix[g][p] += 1
    harmful = [ok for ok, r in zip(binary_ok, records) if r.label == "harmful"]
    benign = [ok for ok, r in zip(binary_ok, records) if r.label == "benign"]
    return {
        "n": len(records), "n_with_category": len(with_cat),
        "harmful_vs_benign_accuracy": _mean(binary_ok),
        "harmful_detected": _mean(harmful), "benign_passed": _mean(benign),
        "category_accuracy": _mean([g == p for g, p in with_cat]),
        "labels": labels, "confusion": matrix,
        "none_threshold": getattr(classifier, "none_threshold", None),
    }


def _mean(values: Sequence[bool]) -> float | None:
    return round(float(np.mean(values)), 4) if len(values) else None


def print_report(report: dict, console: Any = None, title: str = "risk classifier (held-out)") -> None:
    """The held-out accuracy and confusion matrix as rich tables."""
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    summary = Table("metric", "value", title=title)
    for key in ("n", "harmful_vs_benign_accuracy", "harmful_detected", "benign_passed", "category_accuracy",
                "none_threshold"):
        summary.add_row(key, str(report.get(key)))
    console.print(summary)
    labels = report["labels"]
    matrix = Table("gold \\ pred", *labels, title="confusion matrix (records with a known category)")
    for gold in labels:
        row = report["confusion"][gold]
        matrix.add_row(gold, *[f"[bold]{row[p]}[/bold]" if p == gold else (str(row[p]) if row[p] else "·")
                               for p in labels])
    console.print(matrix)


def get_risk_classifier(name: str, policy: Any = None, **kwargs: Any) -> Any:
    if name == "embedding":
        kwargs.pop("backend", None)     # the embedding classifier needs no generation backend
        return RiskClassifier(**kwargs)
    if name == "llm":
        return LLMRiskClassifier(policy, kwargs["backend"])
    raise ErpoError(f"unknown risk classifier {name!r}; choose 'embedding' or 'llm'")
