"""Metrics of (zero-shot) facial expression recognition: UAR, WAR, macro F1, macro AUC.

Conventions, as in the dynamic facial-expression literature (DFEW, MAFW, FERV39k):

* **UAR** (unweighted average recall) is the mean of the per-class recalls over the classes that
  occur in the ground truth; a class never shown cannot be recalled and is left out (this is
  scikit-learn's ``balanced_accuracy_score``).
* **WAR** (weighted average recall) is plain accuracy.
* **Macro F1** averages F1 over the classes that occur in the ground truth *or* the predictions
  (scikit-learn's default label set); a class that is predicted but never true scores F1 = 0, so
  spurious predictions are penalised.
* **Macro AUC** is one-vs-rest: for each class present in the ground truth (with at least one
  negative sample), the ROC AUC of that class's score column against "is this class", averaged
  over those classes. Classes absent from the ground truth have no positives, their AUC is
  undefined, and they are left out and listed in ``auc_classes``. Scores need not be
  probabilities (cosine similarities are fine): each AUC only uses the ranking of one column.

Intervals: Wilson score interval for WAR (independent samples), and a percentile (or BCa)
bootstrap for UAR and WAR that resamples ``groups`` (e.g. videos or subjects) when given, since
clips of one video are not independent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

from emoclip_clinic.errors import ConfigError, DataError
from emoclip_clinic.stats.bootstrap import (
    CIMethod,
    bootstrap_counts,
    check_method,
    cluster_codes,
    interval_from_replicates,
)

__all__ = [
    "ClassificationMetrics",
    "classification_metrics",
    "macro_auc_ovr",
    "wilson_interval",
]

_NAN = float("nan")


@dataclass(frozen=True)
class ClassificationMetrics:
    """Recognition metrics of one model on one labelled set."""

    classes: tuple[str, ...]  # fixed class order of the confusion matrix and score columns
    n_samples: int  # number of classified samples (clips or videos)
    n_groups: int  # bootstrap clusters (= n_samples when no groups were given)
    uar: float  # unweighted average recall over classes present in the ground truth
    uar_ci: tuple[float, float]  # bootstrap CI of UAR (NaN, NaN) when not computed
    war: float  # weighted average recall = accuracy
    war_ci: tuple[float, float]  # bootstrap CI of WAR
    war_wilson_ci: tuple[float, float]  # Wilson score CI of WAR (assumes independent samples)
    macro_f1: float  # macro F1 over classes in ground truth or predictions
    macro_auc: float  # one-vs-rest macro AUC; NaN without scores or with < 2 true classes
    auc_classes: tuple[str, ...]  # classes averaged in macro_auc
    recall: dict[str, float]  # per-class recall; NaN for classes absent from the ground truth
    confusion: np.ndarray  # (C, C) counts, rows = true class, columns = predicted class
    confidence: float  # coverage of the intervals
    notes: tuple[str, ...] = ()  # why a metric or interval is undefined

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict: plain floats and lists, None for undefined values."""

        def number(value: float) -> float | None:
            return float(value) if math.isfinite(value) else None

        return {
            "classes": list(self.classes),
            "n_samples": self.n_samples,
            "n_groups": self.n_groups,
            "uar": number(self.uar),
            "uar_ci": [number(v) for v in self.uar_ci],
            "war": number(self.war),
            "war_ci": [number(v) for v in self.war_ci],
            "war_wilson_ci": [number(v) for v in self.war_wilson_ci],
            "macro_f1": number(self.macro_f1),
            "macro_auc": number(self.macro_auc),
            "auc_classes": list(self.auc_classes),
            "recall": {name: number(value) for name, value in self.recall.items()},
            "confusion": self.confusion.astype(int).tolist(),
            "confidence": self.confidence,
            "notes": list(self.notes),
        }


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson (1927) score interval of a binomial proportion.

    Args:
        successes: Number of successes (e.g. correctly classified samples).
        n: Number of trials.
        confidence: Coverage of the interval.

    Returns:
        (low, high); (NaN, NaN) when n is 0.
    """
    if n <= 0:
        return _NAN, _NAN
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _codes(labels: Any, classes: Sequence[Any], name: str) -> np.ndarray:
    """Class index of each label; DataError naming labels that are not in ``classes``."""
    values = np.asarray(labels, dtype=object).reshape(-1)
    codes = pd.Index(list(classes), dtype=object).get_indexer(values)
    unknown = pd.unique(values[codes < 0])
    if unknown.size:
        shown = ", ".join(repr(v) for v in unknown[:5])
        raise DataError(
            f"{name} contains {unknown.size} label(s) not among the classes ({shown}); "
            f"classes are {list(classes)}"
        )
    return codes.astype(int)


def macro_auc_ovr(
    true_codes: np.ndarray, scores: np.ndarray, classes: Sequence[Any]
) -> tuple[float, tuple[str, ...]]:
    """One-vs-rest macro ROC AUC over the classes that have positives and negatives.

    Args:
        true_codes: Index (into ``classes``) of each sample's true class.
        scores: (n_samples, n_classes) scores, higher = more likely; any monotone scale.
        classes: Class names in score-column order.

    Returns:
        The mean AUC (NaN when no class qualifies) and the classes it averages.
    """
    aucs, used = [], []
    for index, name in enumerate(classes):
        positives = true_codes == index
        if 0 < positives.sum() < positives.size:
            aucs.append(roc_auc_score(positives, scores[:, index]))
            used.append(str(name))
    return (float(np.mean(aucs)) if aucs else _NAN), tuple(used)


def _validated_scores(scores: Any, n: int, n_classes: int) -> np.ndarray:
    """Scores as a finite float (n, C) array."""
    try:
        array = np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as error:
        raise DataError(f"scores are not all numbers ({error})") from None
    if array.shape != (n, n_classes):
        raise DataError(f"scores have shape {array.shape}; expected ({n}, {n_classes})")
    if not np.isfinite(array).all():
        raise DataError("scores contain missing or infinite values")
    return array


def _bootstrap_recalls(
    true_codes: np.ndarray,
    correct: np.ndarray,
    groups: np.ndarray,
    n_classes: int,
    settings: tuple[int, int, float, CIMethod],
) -> tuple[tuple[float, float], tuple[float, float], list[str]]:
    """Cluster-bootstrap CIs of UAR and WAR from per-cluster sums."""
    n_boot, seed, confidence, method = settings
    codes, n_groups = cluster_codes(groups)
    nan_pair = (_NAN, _NAN)
    if n_boot <= 0:
        return nan_pair, nan_pair, []
    if n_groups < 2:
        return nan_pair, nan_pair, ["bootstrap needs at least 2 groups"]
    # Per-sample indicators (support and hits of each class, hits, one), summed per cluster.
    n = true_codes.size
    indicators = np.zeros((n, 2 * n_classes + 2))
    indicators[np.arange(n), true_codes] = 1.0
    indicators[np.arange(n), n_classes + true_codes] = correct
    indicators[:, -2], indicators[:, -1] = correct, 1.0
    sums = np.zeros((n_groups, indicators.shape[1]))
    np.add.at(sums, codes, indicators)

    def uar_war(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        support, hits = totals[:, :n_classes], totals[:, n_classes : 2 * n_classes]
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(support > 0, hits / support, np.nan)
        return np.nanmean(recall, axis=1), totals[:, -2] / totals[:, -1]

    replicates = [uar_war(counts @ sums) for counts in bootstrap_counts(n_groups, n_boot, seed)]
    estimates = uar_war(sums.sum(axis=0, keepdims=True))
    jackknife = uar_war(sums.sum(axis=0) - sums) if method == "bca" else (None, None)
    intervals, notes = [], []
    for index, name in enumerate(("UAR", "WAR")):
        interval = interval_from_replicates(
            np.concatenate([rep[index] for rep in replicates]),
            float(estimates[index][0]),
            confidence,
            method,
            jackknife[index],
        )
        intervals.append((interval.low, interval.high))
        if interval.note:
            notes.append(f"{name} bootstrap: {interval.note}")
    return intervals[0], intervals[1], notes


def classification_metrics(
    y_true: Any,
    y_pred: Any = None,
    *,
    scores: Any = None,
    classes: Sequence[Any] | None = None,
    groups: Any = None,
    n_boot: int = 2000,
    seed: int = 0,
    ci_method: CIMethod = "percentile",
    confidence: float = 0.95,
) -> ClassificationMetrics:
    """UAR, WAR, macro F1, one-vs-rest macro AUC and confusion matrix, with CIs.

    Args:
        y_true: True class label of each sample.
        y_pred: Predicted label of each sample; default: the arg-max of ``scores``.
        scores: Optional (n_samples, n_classes) scores in ``classes`` order, for the AUC.
        classes: Fixed class order; required with ``scores``. Default: sorted labels seen.
        groups: Optional cluster of each sample (video, subject) for the bootstrap.
        n_boot: Bootstrap replicates for the UAR and WAR intervals; 0 skips them.
        seed: Seed of the bootstrap's ``numpy.random.Generator``.
        ci_method: Bootstrap interval, "percentile" or "bca".
        confidence: Coverage of every interval.

    Returns:
        The metrics; see the module docstring for how absent classes are treated.

    Raises:
        DataError: If labels are not among ``classes``, lengths differ or scores are invalid.
        ConfigError: If neither ``y_pred`` nor ``scores`` is given, ``scores`` come without
            ``classes``, or ``confidence`` is not in (0, 1).
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1, got {confidence}")
    check_method(ci_method)
    truth = np.asarray(y_true, dtype=object).reshape(-1)
    classes = _class_order(truth, y_pred, scores, classes)
    true_codes = _codes(truth, classes, "y_true")
    score_array = None if scores is None else _validated_scores(scores, truth.size, len(classes))
    pred_codes = (
        np.argmax(score_array, axis=1) if y_pred is None else _codes(y_pred, classes, "y_pred")
    )
    group_labels = np.arange(truth.size) if groups is None else np.asarray(groups).reshape(-1)
    for name, size in (("predictions", pred_codes.size), ("group labels", group_labels.size)):
        if size != truth.size:
            raise DataError(f"{truth.size} true labels but {size} {name}")
    settings = (n_boot, seed, confidence, ci_method)
    return _metrics_from_codes(true_codes, pred_codes, score_array, classes, group_labels, settings)


def _class_order(truth: np.ndarray, y_pred: Any, scores: Any, classes: Any) -> list[Any]:
    """The fixed class order: as given, or the sorted labels seen when there are no scores."""
    if y_pred is None and scores is None:
        raise ConfigError("give predicted labels (y_pred), scores, or both")
    if truth.size == 0:
        raise DataError("no samples to evaluate")
    if classes is None:
        if scores is not None:
            raise ConfigError("scores need the class order: pass classes=[...]")
        classes = sorted(set(truth) | set(np.asarray(y_pred, dtype=object).reshape(-1)), key=str)
    classes = list(classes)
    if len(set(classes)) != len(classes):
        raise ConfigError(f"classes contain duplicates: {classes}")
    return classes


def _metrics_from_codes(
    true_codes: np.ndarray,
    pred_codes: np.ndarray,
    scores: np.ndarray | None,
    classes: list[Any],
    groups: np.ndarray,
    settings: tuple[int, int, float, CIMethod],
) -> ClassificationMetrics:
    """Compute every metric once labels are class indices."""
    n_classes, confidence = len(classes), settings[2]
    matrix = confusion_matrix(true_codes, pred_codes, labels=np.arange(n_classes))
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, np.diag(matrix) / support, np.nan)
    correct = true_codes == pred_codes
    seen = np.union1d(true_codes, pred_codes)
    macro_f1 = f1_score(true_codes, pred_codes, labels=seen, average="macro", zero_division=0)
    notes = []
    macro_auc, auc_classes = _NAN, ()
    if scores is not None:
        macro_auc, auc_classes = macro_auc_ovr(true_codes, scores, classes)
        if not auc_classes:
            notes.append("macro AUC undefined: the ground truth has fewer than 2 classes")
    uar_ci, war_ci, boot_notes = _bootstrap_recalls(
        true_codes, correct, groups, n_classes, settings
    )
    return ClassificationMetrics(
        classes=tuple(str(name) for name in classes),
        n_samples=int(true_codes.size),
        n_groups=cluster_codes(groups)[1],
        uar=float(np.nanmean(recall)),
        uar_ci=uar_ci,
        war=float(correct.mean()),
        war_ci=war_ci,
        war_wilson_ci=wilson_interval(int(correct.sum()), int(correct.size), confidence),
        macro_f1=float(macro_f1),
        macro_auc=macro_auc,
        auc_classes=auc_classes,
        recall={str(name): float(value) for name, value in zip(classes, recall, strict=True)},
        confusion=matrix,
        confidence=confidence,
        notes=tuple(notes + boot_notes),
    )
