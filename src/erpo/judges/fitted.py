"""Fitted judge models: what they are fitted on, how, and where they are cached.

A judge's model is fitted on `human_labels.fitting_rows()` (the dev part and the PyRIT labels —
never the test part) and cached in `$ERPO_CACHE/judges/<name>.<key>.joblib`, the key hashing the
label files and the judge's feature version, so changed labels or features give a new model and
a model is never fitted on data other than what its key names.

`TextModel` is the one model shape: TF-IDF word n-grams of a text view of each reply plus a few
dense features, into a logistic regression (scikit-learn). It judges thousands of replies a second.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from erpo.artifacts import atomic_path, hash_obj, hash_path
from erpo.assets import cache_dir
from erpo.judges import human_labels


def fitting_key(name: str, feature_version: int) -> str:
    """Hash of what a model named `name` is fitted on and how."""
    dev = human_labels.part_path("dev")
    return hash_obj({"name": name, "features": feature_version, "dev": hash_path(dev) if dev.exists() else None,
                     "pyrit": hash_path(human_labels.pyrit_dir())})


def cache_file(name: str, key: str) -> Path:
    return cache_dir() / "judges" / f"{name}.{key}.joblib"


@functools.lru_cache(maxsize=8)
def cached_model(name: str, feature_version: int, fit: Callable[[list], Any]) -> Any:
    """The model `fit(fitting_rows)` returns, from the cache or fitted now (a second or two)."""
    import joblib
    path = cache_file(name, fitting_key(name, feature_version))
    if path.exists():
        return joblib.load(path)
    model = fit(human_labels.fitting_rows())
    with atomic_path(path) as tmp:   # a concurrent reader never sees half a model
        joblib.dump(model, tmp)
    return model


class TextModel:
    """TF-IDF of `view(answer)` + `dense(prompts, answers)` → logistic regression.

    `view` and `dense` are module-level functions (the model is pickled with them).
    """

    def __init__(self, view: Callable[[str], str], dense: Callable[[Sequence[str], Sequence[str]], np.ndarray],
                 *, c: float = 1.0, ngrams: tuple[int, int] = (1, 2), min_df: int = 2):
        self.view, self.dense, self.c, self.ngrams, self.min_df = view, dense, c, ngrams, min_df
        self.vectorizer: Any = None
        self.clf: Any = None

    def _x(self, prompts: Sequence[str], answers: Sequence[str]) -> Any:
        from scipy.sparse import csr_matrix, hstack
        words = self.vectorizer.transform([self.view(a) for a in answers])
        return hstack([words, csr_matrix(self.dense(prompts, answers))]).tocsr()

    def fit(self, prompts: Sequence[str], answers: Sequence[str], y: Sequence[bool],
            weights: Sequence[float] | None = None) -> "TextModel":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        self.vectorizer = TfidfVectorizer(ngram_range=self.ngrams, min_df=self.min_df, sublinear_tf=True,
                                          token_pattern=r"(?u)\b\w[\w']*\b")
        self.vectorizer.fit([self.view(a) for a in answers])
        self.clf = LogisticRegression(C=self.c, class_weight="balanced", max_iter=5000)
        self.clf.fit(self._x(prompts, answers), np.asarray(y, dtype=int), sample_weight=weights)
        return self

    def predict_proba(self, prompts: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        if not len(answers):
            return np.zeros(0)
        return self.clf.predict_proba(self._x(prompts, answers))[:, 1]
