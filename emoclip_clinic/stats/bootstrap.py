"""Cluster bootstrap: resample whole patients (or videos), then read off percentile or BCa CIs.

A patient contributes 1-3 interviews whose errors are correlated, so resampling interviews as if
they were independent gives intervals that are too narrow. Here each replicate draws patients with
replacement and keeps all of a drawn patient's interviews. A replicate is represented by how many
times each patient was drawn, which is the weight of each of the patient's interviews, so every
statistic in this package is computed on all replicates at once from weighted sums instead of by
copying rows.

The bias-corrected and accelerated (BCa) interval follows Efron & Tibshirani (1993), *An
Introduction to the Bootstrap*, ch. 14, with the acceleration estimated by a leave-one-cluster-out
jackknife (the cluster analogue of their eq. 14.15).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from emoclip_clinic.errors import ConfigError

CIMethod = Literal["percentile", "bca"]

# Replicates are generated in batches of at most this many (replicate, cluster) cells, so memory
# stays bounded when every clip of a long recording is its own cluster.
_MAX_CELLS = 1 << 21

# A CI is reported only if at least this share of replicates gave a defined statistic: dropping
# many degenerate replicates (e.g. constant predictions) would bias the interval.
MIN_VALID_FRACTION = 0.9

__all__ = [
    "MIN_VALID_FRACTION",
    "BootstrapInterval",
    "CIMethod",
    "bootstrap_counts",
    "check_method",
    "cluster_codes",
    "interval_from_replicates",
    "jackknife_weights",
]


@dataclass(frozen=True)
class BootstrapInterval:
    """A bootstrap confidence interval of one statistic."""

    low: float  # lower bound; NaN when undefined (see note)
    high: float  # upper bound; NaN when undefined (see note)
    method: str  # "percentile" or "bca"
    n_valid: int  # replicates in which the statistic was defined
    note: str | None = None  # why the interval is undefined, or None


def cluster_codes(clusters: np.ndarray) -> tuple[np.ndarray, int]:
    """Map cluster labels (patient ids, video ids) to codes 0..P-1.

    Args:
        clusters: One label per observation, any hashable dtype.

    Returns:
        The code of each observation and the number of clusters P.
    """
    _, codes = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    codes = codes.reshape(-1)
    return codes, int(codes.max()) + 1 if codes.size else 0


def bootstrap_counts(n_clusters: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield batches of cluster-bootstrap draws, deterministically for a given seed.

    Each replicate draws ``n_clusters`` clusters with replacement. A row holds how many times
    each cluster was drawn, so an observation's bootstrap weight is the count of its cluster and
    a weighted sum over observations is ``counts @ per_cluster_sums``.

    Args:
        n_clusters: Number of clusters P.
        n_boot: Total number of replicates.
        seed: Seed of the ``numpy.random.Generator`` (PCG64).

    Yields:
        Float arrays of shape (batch, P); the batches add up to ``n_boot`` rows.
    """
    rng = np.random.default_rng(seed)
    batch = max(1, min(n_boot, _MAX_CELLS // max(n_clusters, 1)))
    done = 0
    while done < n_boot:
        counts = np.empty((min(batch, n_boot - done), n_clusters))
        # One generator call per replicate: the draws, hence the intervals, do not depend on
        # the batch size (numpy's bounded-integer fill discards buffered bits between calls).
        for row in counts:
            row[:] = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)
        yield counts
        done += len(counts)


def jackknife_weights(codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Weights of the leave-one-cluster-out jackknife, shape (n_clusters, n_observations)."""
    return (codes[None, :] != np.arange(n_clusters)[:, None]).astype(float)


def _bca_levels(
    replicates: np.ndarray, estimate: float, jackknife: np.ndarray, alpha: float
) -> tuple[float, float] | str:
    """Adjusted quantile levels of the BCa interval, or the reason they are undefined."""
    if np.any(~np.isfinite(jackknife)):
        return "BCa undefined: the statistic is undefined when some patient is left out"
    # Ties count half, so a statistic with many replicates equal to the estimate stays unbiased.
    below = np.mean(replicates < estimate) + 0.5 * np.mean(replicates == estimate)
    if below <= 0.0 or below >= 1.0:
        return "BCa undefined: every bootstrap replicate lies on one side of the estimate"
    z0 = stats.norm.ppf(below)
    deviations = jackknife.mean() - jackknife
    spread = np.sum(deviations**2)
    acceleration = 0.0 if spread == 0 else np.sum(deviations**3) / (6.0 * spread**1.5)
    levels = []
    for z_alpha in stats.norm.ppf([alpha / 2, 1 - alpha / 2]):
        shifted = z0 + z_alpha
        levels.append(float(stats.norm.cdf(z0 + shifted / (1 - acceleration * shifted))))
    return levels[0], levels[1]


def check_method(method: str) -> None:
    """Raise ConfigError unless ``method`` is "percentile" or "bca"."""
    if method not in ("percentile", "bca"):
        raise ConfigError(f"unknown bootstrap CI method '{method}'; use 'percentile' or 'bca'")


def interval_from_replicates(
    replicates: np.ndarray,
    estimate: float,
    confidence: float,
    method: CIMethod,
    jackknife: np.ndarray | None = None,
) -> BootstrapInterval:
    """Turn bootstrap replicates of one statistic into a percentile or BCa interval.

    Args:
        replicates: The statistic in each replicate; NaN where it was undefined.
        estimate: The statistic on the original data.
        confidence: Coverage, e.g. 0.95.
        method: "percentile" or "bca".
        jackknife: For BCa, the statistic with each cluster left out in turn.

    Returns:
        The interval; bounds are NaN with a note when it cannot be computed.

    Raises:
        ConfigError: If ``method`` is unknown.
    """
    check_method(method)
    valid = replicates[np.isfinite(replicates)]
    nan = float("nan")
    if replicates.size == 0:
        return BootstrapInterval(nan, nan, method, 0, "no bootstrap replicates requested")
    if not np.isfinite(estimate):
        return BootstrapInterval(nan, nan, method, valid.size, "the statistic itself is undefined")
    if valid.size < MIN_VALID_FRACTION * replicates.size:
        note = (
            f"only {valid.size} of {replicates.size} bootstrap replicates gave a defined value "
            f"(need {MIN_VALID_FRACTION:.0%})"
        )
        return BootstrapInterval(nan, nan, method, valid.size, note)
    alpha = 1.0 - confidence
    levels: tuple[float, float] | str = (alpha / 2, 1 - alpha / 2)
    if method == "bca":
        if np.ptp(valid) == 0:
            return BootstrapInterval(estimate, estimate, method, valid.size, None)
        levels = _bca_levels(
            valid, estimate, np.array([nan]) if jackknife is None else jackknife, alpha
        )
    if isinstance(levels, str):
        return BootstrapInterval(nan, nan, method, valid.size, levels)
    low, high = np.quantile(valid, levels)
    return BootstrapInterval(float(low), float(high), method, valid.size, None)
