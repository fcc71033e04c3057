"""Train the learned layer from label files (scikit-learn, imported only here).

Why scikit-learn: its logistic regression (liblinear) is the standard, well-tested way to fit a
regularised linear model on sparse features, with stratified folds and cross-validated predictions
built in; it is a training-time dependency only (the `train` extra, about 270 MB with numpy and
scipy), since the daemon serves the result as a dot product (`service.detect.model`).

Per topic: a logistic regression over `features` of every example labelled for that topic; the
regularisation C picked from a small grid by cross-validated F1; Platt scaling fitted on
out-of-fold margins, so the score reads as a probability; the alert threshold picked on the same
out-of-fold probabilities (best F1, ties to the higher threshold). A topic with fewer than
MIN_EACH positive or negative examples is left out: it runs on its rules alone.

Label lines (JSON objects, one per line), in any mix:
- `{"id": "s2-000123", "topics": ["funding"]}`: the item `id` of a corpus file; every topic not
  listed is a negative;
- `{"title": ..., "summary": ..., "text": ..., "topics": [...]}`: the item itself (a team's own
  labels, `newsalert feedback export`);
- `"labels": {"funding": true, "partnership": false}` instead of `topics`: only those topics are
  known (a click on one topic says nothing of the others);
- `"split": "held-out"` marks a line kept for evaluation: training skips it unless told otherwise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.detect.entities import Entities
from service.detect.features import features
from service.detect.model import FORMAT, VERSION
from service.detect.rules import CompiledTopic, Document
from service.errors import NewsalertError

MIN_EACH = 5
FOLDS = 5
GRID = (0.1, 0.3, 1.0, 3.0)
PRUNE = 1e-4  # weights smaller than this (for every topic) are not written
MIN_DF = 2  # a feature seen in fewer examples is dropped: it cannot generalise, and it bloats the file


class LabelError(NewsalertError):
    """A label line that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    features: Mapping[str, float]
    labels: Mapping[str, bool]  # topic -> positive; topics absent are unknown
    origin: str  # the label file it came from


def _document(line: Mapping[str, Any], corpus: Mapping[str, Mapping[str, Any]], where: str) -> Document:
    item: Mapping[str, Any] = line
    if "title" not in line:
        key = str(line.get("id"))
        if key not in corpus:
            raise LabelError(f"{where}: id {key!r} is in no corpus file (give --corpus, or the item's title)")
        item = corpus[key]
    text = item.get("text") or item.get("content_text") or ""
    fields = (item.get("title"), item.get("summary") or "", text)
    if not all(isinstance(f, str) for f in fields):
        raise LabelError(f"{where}: title, summary and text must be strings")
    return Document(*fields)  # type: ignore[arg-type]


def _labels(line: Mapping[str, Any], topics: Sequence[str], where: str) -> dict[str, bool]:
    if isinstance(line.get("labels"), dict):
        known = {str(k): v for k, v in line["labels"].items() if str(k) in topics}
        if not all(isinstance(v, bool) for v in known.values()):
            raise LabelError(f"{where}: labels: each value is true or false")
        return known
    listed = line.get("topics")
    if not isinstance(listed, list) or not all(isinstance(t, str) for t in listed):
        raise LabelError(f"{where}: needs `topics` (a list) or `labels` (a mapping)")
    return {t: t in listed for t in topics}


def examples(
    lines: Iterable[tuple[str, Mapping[str, Any]]],
    corpus: Mapping[str, Mapping[str, Any]],
    topics: Sequence[CompiledTopic],
    entities: Entities,
    *,
    held_out: bool = False,
) -> list[Example]:
    """Examples from (place, label line) pairs; lines marked `"split": "held-out"` only if asked."""
    ids = [t.id for t in topics]
    out = []
    for where, line in lines:
        if not isinstance(line, Mapping):
            raise LabelError(f"{where}: a label line is a JSON object")
        if line.get("split") == "held-out" and not held_out:
            continue
        doc = _document(line, corpus, where)
        out.append(Example(features(doc, topics, entities), _labels(line, ids, where), where.split(":")[0]))
    return out


@dataclass(frozen=True)
class _Fit:
    weights: Any  # numpy array over the vectorizer's features
    bias: float
    scale: float
    offset: float
    threshold: float


def _best_threshold(probabilities: Sequence[float], truth: Sequence[bool]) -> float:
    best, at = -1.0, 0.5
    for t in sorted(set(round(p, 4) for p in probabilities)):
        tp = sum(1 for p, y in zip(probabilities, truth, strict=True) if p >= t and y)
        fp = sum(1 for p, y in zip(probabilities, truth, strict=True) if p >= t and not y)
        fn = sum(1 for p, y in zip(probabilities, truth, strict=True) if p < t and y)
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 >= best:
            best, at = f1, t
    return at


def _fit(x: Any, y: Any, c: float | None, seed: int) -> tuple[_Fit, float]:
    """One topic's model (C from GRID unless given) and its cross-validated F1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=min(FOLDS, int(y.sum()), int((~y).sum())), shuffle=True, random_state=seed)
    best: tuple[float, float, Any] | None = None
    for candidate in (c,) if c is not None else GRID:
        model = LogisticRegression(C=candidate, solver="liblinear")
        margins = cross_val_predict(model, x, y, cv=folds, method="decision_function")
        platt = LogisticRegression(C=1e4).fit(margins.reshape(-1, 1), y)
        probs = platt.predict_proba(margins.reshape(-1, 1))[:, 1]
        threshold = _best_threshold(list(probs), list(y))
        predicted = probs >= threshold
        tp = int((predicted & y).sum())
        f1 = 2 * tp / (int(predicted.sum()) + int(y.sum())) if tp else 0.0
        if best is None or f1 > best[0]:
            best = (f1, candidate, (platt, threshold))
    assert best is not None
    f1, chosen, (platt, threshold) = best
    final = LogisticRegression(C=chosen, solver="liblinear").fit(x, y)
    fit = _Fit(
        final.coef_[0], float(final.intercept_[0]), float(platt.coef_[0][0]), float(platt.intercept_[0]), threshold
    )
    return fit, f1


def train(
    data: Sequence[Example], topics: Sequence[str], *, c: float | None = None, seed: int = 0
) -> tuple[dict[str, Any], dict[str, str]]:
    """The model file's content, and a line per topic saying what was trained (or why not)."""
    from sklearn.feature_extraction import DictVectorizer

    counts: dict[str, int] = {}
    for e in data:
        for name in e.features:
            counts[name] = counts.get(name, 0) + 1
    kept = [{k: v for k, v in e.features.items() if counts[k] >= MIN_DF} for e in data]
    vectorizer = DictVectorizer()
    matrix = int32_indices(vectorizer.fit_transform(kept))
    names = vectorizer.get_feature_names_out()
    fits: dict[str, _Fit] = {}
    report: dict[str, str] = {}
    for topic in topics:
        rows = [i for i, e in enumerate(data) if topic in e.labels]
        y = _truth([data[i].labels[topic] for i in rows])
        positives, negatives = int(y.sum()), len(rows) - int(y.sum())
        if positives < MIN_EACH or negatives < MIN_EACH:
            report[topic] = (
                f"not trained: {positives} positive and {negatives} negative examples (needs {MIN_EACH} each)"
            )
            continue
        fits[topic], f1 = _fit(matrix[rows], y, c, seed)
        report[topic] = f"{positives} positive, {negatives} negative; cross-validated F1 {f1:.3f}"
    return _export(fits, names, data), report


def int32_indices(matrix: Any) -> Any:
    """The CSR matrix with 32-bit indices, which liblinear requires (DictVectorizer may give 64)."""
    matrix = matrix.tocsr()
    matrix.indices = matrix.indices.astype("int32")
    matrix.indptr = matrix.indptr.astype("int32")
    return matrix


def _truth(values: Sequence[bool]) -> Any:
    import numpy as np

    return np.array(values, dtype=bool)


def _export(fits: Mapping[str, _Fit], names: Sequence[str], data: Sequence[Example]) -> dict[str, Any]:
    trained = list(fits)
    features: dict[str, list[float]] = {}
    for j, name in enumerate(names):
        row = [float(fits[t].weights[j]) for t in trained]
        if any(abs(w) >= PRUNE for w in row):
            features[str(name)] = [round(w, 5) for w in row]
    origins: dict[str, int] = {}
    for e in data:
        origins[e.origin] = origins.get(e.origin, 0) + 1
    body = {
        "topics": trained,
        "bias": [round(fits[t].bias, 5) for t in trained],
        "scale": [round(fits[t].scale, 5) for t in trained],
        "offset": [round(fits[t].offset, 5) for t in trained],
        "threshold": [round(fits[t].threshold, 4) for t in trained],
        "features": features,
    }
    digest = hashlib.blake2s(json.dumps(body, sort_keys=True).encode(), digest_size=6).hexdigest()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    return {"format": FORMAT, "version": VERSION, "id": digest, "trained": stamp, "labels": origins, **body}
