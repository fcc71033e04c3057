"""The learned layer (pure): per topic, a calibrated linear model over `features`, and its verdict.

A model file is what `newsalert topics train` writes (`service.detect.train`, scikit-learn's
logistic regression): for each topic a bias, a weight per feature, the two numbers of Platt
scaling that turn the margin into a probability, and the threshold chosen on held-back folds of
the training labels. Serving it is a dot product over the item's features, so the daemon loads a
small JSON file and needs no machine-learning library; `tests/unit/test_model.py` checks that the
probabilities are scikit-learn's own.

File format (JSON, `format` and `version` checked on load):

    {"format": "newsalert-topic-model", "version": 1, "id": "<hash of weights>", "trained": "<date>",
     "labels": {"<file>": <examples>}, "topics": ["funding", ...],
     "bias": [...], "scale": [...], "offset": [...], "threshold": [...],
     "features": {"t:raises": [w_funding, ...], ...}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.errors import ConfigError

FORMAT = "newsalert-topic-model"
VERSION = 1
EXPLAIN = 3  # features shown per verdict


@dataclass(frozen=True)
class Verdict:
    """The layer's answer for one topic: its probability, whether it passes, and why."""

    topic: str
    probability: float
    threshold: float
    reasons: tuple[str, ...]  # the features that weighed most, e.g. ("t:raises +1.2", "e:funding +0.8")

    @property
    def passes(self) -> bool:
        return self.probability >= self.threshold

    def label(self) -> str:
        why = ", ".join(self.reasons)
        return f"model {self.probability:.2f}" + (f" ({why})" if why else "")


@dataclass(frozen=True)
class TopicModel:
    id: str
    trained: str
    topics: tuple[str, ...]
    bias: tuple[float, ...]
    scale: tuple[float, ...]
    offset: tuple[float, ...]
    threshold: tuple[float, ...]
    weights: Mapping[str, tuple[float, ...]]  # feature -> one weight per topic
    labels: Mapping[str, int]  # label file -> examples it gave

    def covers(self, topic: str) -> bool:
        return topic in self.topics

    def judge(self, features: Mapping[str, float]) -> dict[str, Verdict]:
        """A verdict for every topic the model covers; reasons only for the topics that pass."""
        get = self.weights.get
        used = [
            (name, w if value == 1.0 else tuple(x * value for x in w))
            for name, value in features.items()
            if (w := get(name))
        ]
        columns = zip(*(w for _, w in used), strict=True) if used else ((),) * len(self.topics)
        out: dict[str, Verdict] = {}
        for i, (topic, column) in enumerate(zip(self.topics, columns, strict=True)):
            p = _sigmoid(self.scale[i] * (self.bias[i] + sum(column)) + self.offset[i])
            reasons: tuple[str, ...] = ()
            if p >= self.threshold[i]:
                top = sorted(((w[i], n) for n, w in used if w[i] > 0), reverse=True)[:EXPLAIN]
                reasons = tuple(f"{_readable(n)} +{c:.1f}" for c, n in top)
            out[topic] = Verdict(topic, p, self.threshold[i], reasons)
        return out


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


_PREFIXES = {"t": "headline", "l": "lead", "tk": "headline", "lk": "lead", "t2": "headline", "l2": "lead"}


def _readable(feature: str) -> str:
    """A feature as an alert shows it: `headline 'raises'`, `rule partnership`, `event funding`."""
    kind, _, rest = feature.partition(":")
    if kind in _PREFIXES:
        return f"{_PREFIXES[kind]} '{rest}'"
    return {
        "r": f"rule {rest.split(':')[0]}",
        "rs": f"rule score {rest}",
        "e": f"event {rest}",
        "o": "new organization" if rest == "new" else f"{rest} organization(s)",
        "$": "amount",
    }.get(kind, feature)


def _numbers(raw: Any, n: int, name: str) -> tuple[float, ...]:
    if not isinstance(raw, list) or len(raw) != n or not all(isinstance(x, int | float) for x in raw):
        raise ConfigError(f"{name}: expected {n} numbers")
    values = tuple(float(x) for x in raw)
    if not all(math.isfinite(x) for x in values):
        raise ConfigError(f"{name}: numbers must be finite")
    return values


def parse_model(raw: Any, where: str) -> TopicModel:
    """A model from its decoded JSON; every problem is a ConfigError naming `where`."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigError(f"{where}: not a newsalert topic model (format {FORMAT!r})")
    if raw.get("version") != VERSION:
        raise ConfigError(f"{where}: model file version {raw.get('version')!r}, this newsalert reads {VERSION}")
    topics = raw.get("topics")
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
        raise ConfigError(f"{where}: topics: a list of topic ids")
    n = len(topics)
    features = raw.get("features")
    if not isinstance(features, dict):
        raise ConfigError(f"{where}: features: a mapping of feature -> weights")
    weights = {str(k): _numbers(v, n, f"{where}: features[{k!r}]") for k, v in features.items()}
    labels = raw.get("labels") or {}
    return TopicModel(
        id=str(raw.get("id", "")),
        trained=str(raw.get("trained", "")),
        topics=tuple(topics),
        bias=_numbers(raw.get("bias"), n, f"{where}: bias"),
        scale=_numbers(raw.get("scale"), n, f"{where}: scale"),
        offset=_numbers(raw.get("offset"), n, f"{where}: offset"),
        threshold=_numbers(raw.get("threshold"), n, f"{where}: threshold"),
        weights=weights,
        labels={str(k): int(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
    )
