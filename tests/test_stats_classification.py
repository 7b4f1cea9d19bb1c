"""Recognition metrics against scikit-learn, statsmodels and hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    roc_auc_score,
)
from statsmodels.stats.proportion import proportion_confint

from emoclip_clinic.errors import ConfigError, DataError
from emoclip_clinic.stats import classification_metrics, wilson_interval

EMOTIONS = ["happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear"]


def _predictions(seed: int, n: int = 400, signal: float = 1.2):
    """True labels, softmax probabilities with some signal, and their arg-max labels."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(EMOTIONS), n)
    logits = rng.normal(size=(n, len(EMOTIONS)))
    logits[np.arange(n), truth] += signal
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = np.array(EMOTIONS, dtype=object)
    return names[truth], probabilities, names[probabilities.argmax(axis=1)]


@pytest.mark.parametrize("seed", [0, 1])
def test_metrics_match_scikit_learn(seed):
    truth, probabilities, predicted = _predictions(seed)
    result = classification_metrics(truth, scores=probabilities, classes=EMOTIONS, n_boot=0)
    assert result.uar == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert result.war == pytest.approx(accuracy_score(truth, predicted))
    assert result.macro_f1 == pytest.approx(f1_score(truth, predicted, average="macro"))
    truth_index = [EMOTIONS.index(label) for label in truth]  # sklearn wants sorted labels
    expected_auc = roc_auc_score(truth_index, probabilities, multi_class="ovr", average="macro")
    assert result.macro_auc == pytest.approx(expected_auc)
    assert np.array_equal(result.confusion, confusion_matrix(truth, predicted, labels=EMOTIONS))
    assert result.classes == tuple(EMOTIONS)


def test_hand_computed_case():
    truth = ["a", "a", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "a"]
    result = classification_metrics(truth, predicted, classes=["a", "b", "c"], n_boot=0)
    assert result.recall == {"a": 0.5, "b": 1.0, "c": 0.0}
    assert result.uar == pytest.approx(0.5)
    assert result.war == pytest.approx(3 / 5)
    # F1: a = 2(1/2)(1/2)/(1) = 0.5, b = 2(2/3)(1)/(5/3) = 0.8, c = 0.
    assert result.macro_f1 == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert result.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert math.isnan(result.macro_auc)  # no scores given


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_classes_absent_from_ground_truth():
    classes = ["a", "b", "c", "d"]  # "d" never occurs; "c" is predicted but never true
    truth = ["a", "a", "b", "b", "b", "a"]
    predicted = ["a", "c", "b", "b", "a", "a"]
    scores = np.array(
        [
            [0.9, 0.05, 0.03, 0.02],
            [0.3, 0.2, 0.4, 0.1],
            [0.1, 0.8, 0.05, 0.05],
            [0.2, 0.6, 0.1, 0.1],
            [0.5, 0.3, 0.1, 0.1],
            [0.7, 0.1, 0.1, 0.1],
        ]
    )
    result = classification_metrics(truth, predicted, scores=scores, classes=classes, n_boot=0)
    assert result.uar == pytest.approx((2 / 3 + 2 / 3) / 2)  # only a and b are in the truth
    assert result.uar == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert math.isnan(result.recall["c"]) and math.isnan(result.recall["d"])
    # Macro F1 over classes seen in truth or predictions: c scores 0, d is left out.
    assert result.macro_f1 == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert result.auc_classes == ("a", "b")
    truth_array = np.array(truth)
    expected = np.mean([roc_auc_score(truth_array == k, scores[:, i]) for i, k in enumerate("ab")])
    assert result.macro_auc == pytest.approx(expected)
    assert result.confusion.shape == (4, 4) and result.confusion[3].sum() == 0
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["recall"]["d"] is None


def test_predictions_default_to_the_highest_score():
    truth, probabilities, predicted = _predictions(2, n=60)
    from_scores = classification_metrics(truth, scores=probabilities, classes=EMOTIONS, n_boot=0)
    from_labels = classification_metrics(truth, predicted, classes=EMOTIONS, n_boot=0)
    assert from_scores.war == from_labels.war and from_scores.uar == from_labels.uar


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (3, 10), (55, 80), (80, 80)])
def test_wilson_matches_statsmodels(successes, n):
    low, high = wilson_interval(successes, n, 0.95)
    expected = proportion_confint(successes, n, alpha=0.05, method="wilson")
    assert (low, high) == pytest.approx(expected, abs=1e-12)


def test_bootstrap_intervals_are_deterministic_and_cover_the_estimate():
    truth, probabilities, _ = _predictions(3, n=300)
    first = classification_metrics(truth, scores=probabilities, classes=EMOTIONS, seed=4)
    again = classification_metrics(truth, scores=probabilities, classes=EMOTIONS, seed=4)
    assert first.to_dict() == again.to_dict()
    assert first.uar_ci[0] < first.uar < first.uar_ci[1]
    assert first.war_ci[0] < first.war < first.war_ci[1]
    # Independent clips: the bootstrap and Wilson intervals of WAR nearly coincide.
    assert first.war_ci == pytest.approx(first.war_wilson_ci, abs=0.015)


def test_bootstrap_resamples_groups_together():
    truth, probabilities, _ = _predictions(5, n=120)
    clips = dict(scores=np.repeat(probabilities, 4, axis=0), classes=EMOTIONS, seed=1)
    truth4 = np.repeat(truth, 4)
    per_video = classification_metrics(truth4, groups=np.repeat(np.arange(120), 4), **clips)
    per_clip = classification_metrics(truth4, **clips)
    original = classification_metrics(truth, scores=probabilities, classes=EMOTIONS, seed=1)
    assert per_video.war_ci == pytest.approx(original.war_ci)
    assert per_video.uar_ci == pytest.approx(original.uar_ci)
    assert per_clip.war_ci[1] - per_clip.war_ci[0] < 0.75 * (
        per_video.war_ci[1] - per_video.war_ci[0]
    )


def test_bca_interval_is_available():
    truth, probabilities, _ = _predictions(6, n=200)
    result = classification_metrics(
        truth, scores=probabilities, classes=EMOTIONS, ci_method="bca", n_boot=1000
    )
    assert result.uar_ci[0] < result.uar < result.uar_ci[1]
    assert not result.notes


def test_invalid_inputs_raise_clear_errors():
    with pytest.raises(DataError, match="'joy'"):
        classification_metrics(["happiness", "joy"], ["happiness", "sadness"], classes=EMOTIONS)
    with pytest.raises(DataError, match=r"shape \(2, 3\)"):
        classification_metrics(["a", "b"], scores=np.ones((2, 3)), classes=["a", "b"])
    with pytest.raises(ConfigError, match="classes"):
        classification_metrics(["a", "b"], scores=np.ones((2, 2)))
    with pytest.raises(ConfigError, match="y_pred"):
        classification_metrics(["a", "b"])
    with pytest.raises(DataError, match="missing or infinite"):
        classification_metrics(["a", "b"], scores=[[0.1, np.nan], [1, 0]], classes=["a", "b"])
