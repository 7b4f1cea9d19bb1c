"""Agreement between predicted and rated symptom scores, item by item.

Every statistic is computed from weighted sums over interviews (:func:`_weighted_statistics`),
with weight 1 for the point estimate and the patient-bootstrap counts for each replicate, so the
point estimate and its bootstrap distribution come from one implementation, checked in the tests
against scipy (Pearson r) and pingouin (ICC). The analytic intervals follow:

* Pearson r: Fisher z, SE = 1/sqrt(n - 3); p-value from the t test with n - 2 df.
* Lin's CCC: Lin (1989) Biometrics 45:255-268, n-denominator moments, CI on the z scale with the
  asymptotic variance of Lin's eq. (corrected in Lin 2000, Biometrics 56:324-325).
* ICC(A,1) and ICC(C,1): McGraw & Wong (1996) Psychol Methods 1:30-46, cases 2A/3 (Shrout &
  Fleiss 1979 ICC(2,1)/ICC(3,1)), with "raters" = {model, human} (k = 2).
* Bland-Altman: Bland & Altman (1999) Stat Methods Med Res 8:135-160, SE(bias) = s/sqrt(n),
  SE(limit) ~ sqrt(3 s^2 / n), t quantile with n - 1 df.

The closed forms live in :mod:`emoclip_clinic.stats.inference`. They treat interviews as
independent; with repeated interviews per patient use the ``boot_*`` bounds, which resample
patients (see :mod:`emoclip_clinic.stats.bootstrap`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emoclip_clinic.errors import ConfigError, DataError
from emoclip_clinic.stats.bootstrap import (
    CIMethod,
    bootstrap_counts,
    check_method,
    cluster_codes,
    interval_from_replicates,
    jackknife_weights,
)
from emoclip_clinic.stats.inference import (
    bland_altman_intervals,
    icc_intervals,
    lin_ccc_interval,
    pearson_inference,
)

# Bland & Altman's limits of agreement are defined as bias +/- 1.96 SD.
LOA_Z = 1.96
# Names of the statistics, in table order (see docs/metrics.md for their definitions).
STATISTICS = (
    "mae",
    "rmse",
    "pcc",
    "ccc",
    "icc_a1",
    "icc_c1",
    "bias",
    "sd_diff",
    "loa_low",
    "loa_high",
)
_NAN = float("nan")

__all__ = ["STATISTICS", "ItemAgreement", "Statistic", "agreement_table", "item_agreement"]


@dataclass(frozen=True)
class Statistic:
    """One agreement statistic with its analytic and bootstrap intervals."""

    value: float  # point estimate; NaN when undefined (see note)
    ci_low: float = _NAN  # analytic CI lower bound; NaN where none exists (MAE, RMSE, SD)
    ci_high: float = _NAN  # analytic CI upper bound
    p_value: float = _NAN  # two-sided test of zero (Pearson r, ICC F test); NaN otherwise
    boot_low: float = _NAN  # patient-bootstrap CI lower bound
    boot_high: float = _NAN  # patient-bootstrap CI upper bound
    note: str | None = None  # why something is undefined, or None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict: plain floats, None for undefined values."""
        out: dict[str, Any] = {}
        for key in ("value", "ci_low", "ci_high", "p_value", "boot_low", "boot_high"):
            number = getattr(self, key)
            out[key] = float(number) if math.isfinite(number) else None
        out["note"] = self.note
        return out


@dataclass(frozen=True)
class ItemAgreement:
    """Agreement of predicted with rated scores for one item (or the total)."""

    item: str  # item id, e.g. "N1" or "total"
    n_interviews: int  # number of (prediction, rating) pairs
    n_patients: int  # number of distinct patients (bootstrap clusters)
    confidence: float  # coverage of every interval, e.g. 0.95
    bootstrap_method: str  # "percentile" or "bca"
    n_boot: int  # bootstrap replicates requested (0 = no bootstrap)
    stats: dict[str, Statistic] = field(default_factory=dict)  # keyed by STATISTICS names

    def __getitem__(self, name: str) -> Statistic:
        return self.stats[name]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe nested dict of this item's results."""
        return {
            "item": self.item,
            "n_interviews": self.n_interviews,
            "n_patients": self.n_patients,
            "confidence": self.confidence,
            "bootstrap_method": self.bootstrap_method,
            "n_boot": self.n_boot,
            "stats": {name: stat.to_dict() for name, stat in self.stats.items()},
        }

    def as_row(self) -> dict[str, Any]:
        """Return one flat table row: ``<stat>``, ``<stat>_ci_low``, ... and ``notes``."""
        row: dict[str, Any] = {"n_interviews": self.n_interviews, "n_patients": self.n_patients}
        notes = []
        for name, stat in self.stats.items():
            row[name] = stat.value
            for key in ("ci_low", "ci_high", "p_value", "boot_low", "boot_high"):
                row[f"{name}_{key}"] = getattr(stat, key)
            if stat.note:
                notes.append(f"{name}: {stat.note}")
        row["notes"] = "; ".join(notes)
        return row


def _weighted_statistics(weights: np.ndarray, pred: np.ndarray, rated: np.ndarray) -> dict:
    """Every statistic for each row of ``weights`` (shape (B, n)); NaN where undefined."""
    # Centre both series on one common value: all statistics are invariant to a common shift,
    # and centring keeps E[x^2] - E[x]^2 free of cancellation.
    centre = np.concatenate([pred, rated]).mean()
    x, y = pred - centre, rated - centre
    tol = 1e-12 * (1.0 + max(np.abs(x).max(), np.abs(y).max()) ** 2)
    n = weights.sum(axis=1)
    diff = x - y
    mx, my = weights @ x / n, weights @ y / n
    sxx = np.maximum(weights @ (x * x) / n - mx**2, 0.0)
    syy = np.maximum(weights @ (y * y) / n - my**2, 0.0)
    sxy = weights @ (x * y) / n - mx * my
    bias = mx - my
    # Differences centred on their overall mean, so a constant offset has exactly zero spread.
    spread = diff - diff.mean()
    var_diff = weights @ (spread * spread) / n - (weights @ spread / n) ** 2
    sd_diff = np.sqrt(np.maximum(var_diff, 0.0) * n / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        # Clipped because rounding can push a perfect correlation to 1 + 1e-16.
        pcc = np.where((sxx > tol) & (syy > tol), np.clip(sxy / np.sqrt(sxx * syy), -1, 1), _NAN)
        ccc_denominator = sxx + syy + bias**2
        ccc = np.where(ccc_denominator > tol, np.clip(2 * sxy / ccc_denominator, -1, 1), _NAN)
        # Two-way ANOVA mean squares with k = 2 "raters" (model, human); see McGraw & Wong 1996.
        msr = n * (sxx + syy + 2 * sxy) / (2 * (n - 1))
        mse = n * np.maximum(sxx + syy - 2 * sxy, 0.0) / (2 * (n - 1))
        msc = n * bias**2 / 2
        a_denominator = msr + mse + 2 * (msc - mse) / n
        icc_a1 = np.where(a_denominator > tol, (msr - mse) / a_denominator, _NAN)
        icc_c1 = np.where(msr + mse > tol, np.clip((msr - mse) / (msr + mse), -1, 1), _NAN)
    return {
        "mae": weights @ np.abs(diff) / n,
        "rmse": np.sqrt(weights @ (diff * diff) / n),
        "pcc": pcc,
        "ccc": ccc,
        "icc_a1": icc_a1,
        "icc_c1": icc_c1,
        "bias": bias,
        "sd_diff": sd_diff,
        "loa_low": bias - LOA_Z * sd_diff,
        "loa_high": bias + LOA_Z * sd_diff,
        "_moments": (mx, my, sxx, syy, sxy, msr, mse, msc),
    }


def _validated_arrays(
    pred: Any, rated: Any, patient_ids: Any, item: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check one item's inputs and return them as float, float and label arrays."""
    arrays = []
    for name, values in (("predictions", pred), ("ratings", rated)):
        try:
            array = np.asarray(values, dtype=float).reshape(-1)
        except (TypeError, ValueError) as error:
            raise DataError(f"item '{item}': {name} are not all numbers ({error})") from None
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise DataError(
                f"item '{item}': {name} contain {bad.size} missing or infinite value(s), first "
                f"at row {bad[0]}; drop or impute them before computing agreement"
            )
        arrays.append(array)
    ids = np.asarray(patient_ids, dtype=object).reshape(-1)
    if not len(arrays[0]) == len(arrays[1]) == len(ids):
        raise DataError(
            f"item '{item}': {len(arrays[0])} predictions, {len(arrays[1])} ratings and "
            f"{len(ids)} patient ids; they must have one entry per interview"
        )
    if pd.isna(ids).any():
        raise DataError(f"item '{item}': patient ids contain missing values")
    if len(ids) < 3:
        raise DataError(f"item '{item}': {len(ids)} interview(s); agreement needs at least 3")
    return arrays[0], arrays[1], ids


def _analytic_statistics(point: dict, n: int, confidence: float) -> dict[str, dict[str, Any]]:
    """Point estimates with their analytic CIs, p-values and notes."""
    value = {name: float(point[name][0]) for name in STATISTICS}
    mx, my, sxx, syy, _, msr, mse, msc = (float(m[0]) for m in point["_moments"])
    out: dict[str, dict[str, Any]] = {name: {"value": value[name]} for name in STATISTICS}
    low, high, p, note = pearson_inference(value["pcc"], n, confidence)
    if not math.isfinite(value["pcc"]):
        note = f"{'predictions' if sxx <= syy else 'ratings'} are constant: Pearson r is undefined"
    out["pcc"].update(ci_low=low, ci_high=high, p_value=p, note=note)
    u = (mx - my) / (sxx * syy) ** 0.25 if sxx * syy > 0 else _NAN
    low, high, note = lin_ccc_interval(value["ccc"], value["pcc"], u, n, confidence)
    if not math.isfinite(value["ccc"]):
        note = "predictions and ratings are constant and equal: CCC is undefined"
    out["ccc"].update(ci_low=low, ci_high=high, note=note)
    icc = icc_intervals(msr, mse, msc, n, confidence)
    for name, (low, high, p) in icc.items():
        out[name].update(ci_low=low, ci_high=high, p_value=p)
        if not math.isfinite(value[name]):
            out[name]["note"] = "no variance between interviews: ICC is undefined"
        elif not math.isfinite(low):
            out[name]["note"] = "no residual variance (ratings + constant): F interval undefined"
    limits = bland_altman_intervals(value["bias"], value["sd_diff"], n, confidence, LOA_Z)
    for name, (low, high) in limits.items():
        out[name].update(ci_low=low, ci_high=high)
    return out


def _bootstrap_statistics(
    values: tuple[np.ndarray, np.ndarray],
    patient_ids: np.ndarray,
    estimates: dict[str, dict[str, Any]],
    settings: tuple[int, int, float, CIMethod],
) -> dict[str, dict[str, Any]]:
    """Patient-level bootstrap interval of every statistic, as Statistic keyword arguments."""
    n_boot, seed, confidence, method = settings
    codes, n_patients = cluster_codes(patient_ids)
    if n_boot <= 0:
        return {name: {} for name in STATISTICS}
    if n_patients < 2:
        return {name: {"boot_note": "bootstrap needs at least 2 patients"} for name in STATISTICS}
    draws = bootstrap_counts(n_patients, n_boot, seed)
    batches = [_weighted_statistics(counts[:, codes], *values) for counts in draws]
    jackknife = None
    if method == "bca":
        jackknife = _weighted_statistics(jackknife_weights(codes, n_patients), *values)
    out = {}
    for name in STATISTICS:
        interval = interval_from_replicates(
            np.concatenate([batch[name] for batch in batches]),
            estimates[name]["value"],
            confidence,
            method,
            None if jackknife is None else jackknife[name],
        )
        out[name] = {"boot_low": interval.low, "boot_high": interval.high}
        if interval.note and math.isfinite(estimates[name]["value"]):
            out[name]["boot_note"] = f"bootstrap: {interval.note}"
    return out


def item_agreement(
    pred: Any,
    rated: Any,
    patient_ids: Any,
    *,
    item: str = "score",
    n_boot: int = 2000,
    seed: int = 0,
    ci_method: CIMethod = "percentile",
    confidence: float = 0.95,
) -> ItemAgreement:
    """Agreement statistics of one item: MAE, RMSE, Pearson r, CCC, ICCs and Bland-Altman.

    Args:
        pred: Predicted scores, one per interview.
        rated: Clinician ratings, one per interview, in the same order.
        patient_ids: Patient of each interview; the bootstrap resamples patients.
        item: Item name used in messages and results.
        n_boot: Patient-bootstrap replicates; 0 skips the bootstrap.
        seed: Seed of the bootstrap's ``numpy.random.Generator``; same seed, same intervals.
        ci_method: Bootstrap interval, "percentile" or "bca".
        confidence: Coverage of every interval.

    Returns:
        The statistics, each with analytic CI (where one exists) and bootstrap CI.

    Raises:
        DataError: If inputs are not numbers, contain NaN/inf, differ in length or n < 3.
        ConfigError: If ``ci_method`` or ``confidence`` is invalid.
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1, got {confidence}")
    check_method(ci_method)
    x, y, ids = _validated_arrays(pred, rated, patient_ids, item)
    n = len(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        analytic = _analytic_statistics(_weighted_statistics(np.ones((1, n)), x, y), n, confidence)
        boot = _bootstrap_statistics((x, y), ids, analytic, (n_boot, seed, confidence, ci_method))
    result = {}
    for name in STATISTICS:
        fields = {**analytic[name], **boot[name]}
        notes = [text for text in (fields.pop("note", None), fields.pop("boot_note", None)) if text]
        numbers = {key: float(number) for key, number in fields.items()}
        result[name] = Statistic(**numbers, note="; ".join(notes) or None)
    return ItemAgreement(
        item=item,
        n_interviews=n,
        n_patients=cluster_codes(ids)[1],
        confidence=confidence,
        bootstrap_method=ci_method,
        n_boot=max(n_boot, 0),
        stats=result,
    )


def _item_columns(values: Any, name: str, items: Sequence[str] | None) -> pd.DataFrame:
    """Accept a DataFrame, a 2-D array (with ``items``) or a 1-D array; return a DataFrame."""
    if isinstance(values, pd.DataFrame):
        return values
    if isinstance(values, pd.Series):
        return values.to_frame(name=str(values.name) if values.name is not None else "score")
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(f"{name} must be a table of one column per item, got shape {array.shape}")
    columns = list(items) if items is not None else ["score"] * array.shape[1]
    if len(columns) != array.shape[1]:
        raise DataError(f"{name} has {array.shape[1]} columns but {len(columns)} items were named")
    return pd.DataFrame(array, columns=columns)


def agreement_table(
    pred: Any,
    rated: Any,
    patient_ids: Any,
    items: Sequence[str] | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    ci_method: CIMethod = "percentile",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Agreement of predicted with rated scores, one row per item.

    Args:
        pred: Predictions: a DataFrame with one column per item, a 2-D array whose columns are
            ``items``, or a 1-D array for a single item. Rows are interviews.
        rated: Clinician ratings in the same shape and row order as ``pred``.
        patient_ids: Patient of each row (bootstrap clusters).
        items: Items (columns) to evaluate, in output order; default: the columns of ``rated``.
        n_boot: Patient-bootstrap replicates per item; 0 skips the bootstrap.
        seed: Bootstrap seed; each item uses the same patient resamples.
        ci_method: Bootstrap interval, "percentile" or "bca".
        confidence: Coverage of every interval.

    Returns:
        A DataFrame indexed by item with, for each statistic ``s`` in :data:`STATISTICS`, the
        columns ``s``, ``s_ci_low``, ``s_ci_high``, ``s_p_value``, ``s_boot_low``,
        ``s_boot_high``, plus ``n_interviews``, ``n_patients`` and ``notes``.

    Raises:
        DataError: If an item is missing from either table, rows are misaligned or invalid.
    """
    pred_frame, rated_frame = (
        _item_columns(pred, "pred", items),
        _item_columns(rated, "rated", items),
    )
    if len(pred_frame) != len(rated_frame):
        raise DataError(f"pred has {len(pred_frame)} rows but rated has {len(rated_frame)}")
    if not pred_frame.index.equals(rated_frame.index):
        raise DataError("pred and rated have different row indexes; align or reset them first")
    wanted = list(items) if items is not None else [str(c) for c in rated_frame.columns]
    for table_name, frame in (("pred", pred_frame), ("rated", rated_frame)):
        missing = [item for item in wanted if item not in frame.columns]
        if missing:
            raise DataError(f"{table_name} has no column for item(s) {', '.join(missing)}")
    rows = {}
    for item in wanted:
        result = item_agreement(
            pred_frame[item].to_numpy(),
            rated_frame[item].to_numpy(),
            patient_ids,
            item=item,
            n_boot=n_boot,
            seed=seed,
            ci_method=ci_method,
            confidence=confidence,
        )
        rows[item] = result.as_row()
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("item")
