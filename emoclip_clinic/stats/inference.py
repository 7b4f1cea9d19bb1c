"""Closed-form confidence intervals and tests of the agreement statistics.

Each function takes summary values (a correlation, mean squares, a bias and SD) so that it can be
reused and tested on its own; :mod:`emoclip_clinic.stats.agreement` computes those summaries.
The analytic intervals treat interviews as independent observations.
"""

from __future__ import annotations

import math

from scipy import stats

_NAN = float("nan")

__all__ = ["bland_altman_intervals", "icc_intervals", "lin_ccc_interval", "pearson_inference"]


def pearson_inference(
    r: float, n: int, confidence: float
) -> tuple[float, float, float, str | None]:
    """Fisher-z confidence interval and t-test p-value of a Pearson correlation.

    Args:
        r: The sample correlation (NaN if undefined).
        n: Number of pairs.
        confidence: Coverage of the interval, e.g. 0.95.

    Returns:
        (low, high, p_value, note); bounds are NaN with a note where undefined (n < 4, |r| = 1).
    """
    if not math.isfinite(r):
        return _NAN, _NAN, _NAN, None
    if abs(r) >= 1.0:
        return _NAN, _NAN, 0.0, "|r| = 1: Fisher-z interval undefined"
    t = r * math.sqrt((n - 2) / (1 - r * r))
    p = float(2 * stats.t.sf(abs(t), n - 2))
    if n < 4:
        return _NAN, _NAN, p, "n < 4: Fisher-z interval undefined"
    z, half = math.atanh(r), stats.norm.ppf(0.5 + confidence / 2) / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half), p, None


def lin_ccc_interval(
    ccc: float, r: float, u: float, n: int, confidence: float
) -> tuple[float, float, str | None]:
    """Lin's (1989, corrected 2000) confidence interval of the CCC on the Fisher-z scale.

    Args:
        ccc: The concordance correlation coefficient.
        r: Pearson correlation of the same pairs.
        u: Location shift relative to scale, (mean_x - mean_y) / sqrt(s_x s_y), n-denominator SDs.
        n: Number of pairs.
        confidence: Coverage of the interval.

    Returns:
        (low, high, note); bounds are NaN with a note where the interval is undefined.
    """
    if not (math.isfinite(ccc) and math.isfinite(r)) or r == 0:
        return _NAN, _NAN, "Lin's interval needs a defined, non-zero Pearson r"
    if abs(ccc) >= 1.0:
        return _NAN, _NAN, "|CCC| = 1: z-transform interval undefined"
    one_minus = 1 - ccc * ccc
    var_z = (
        (1 - r * r) * ccc * ccc / (one_minus * r * r)
        + 2 * ccc**3 * (1 - ccc) * u * u / (r * one_minus**2)
        - ccc**4 * u**4 / (2 * r * r * one_minus**2)
    ) / (n - 2)
    if not var_z > 0:
        return _NAN, _NAN, "Lin's asymptotic variance is not positive"
    z, half = math.atanh(ccc), stats.norm.ppf(0.5 + confidence / 2) * math.sqrt(var_z)
    return math.tanh(z - half), math.tanh(z + half), None


def icc_intervals(
    msr: float, mse: float, msc: float, n: int, confidence: float
) -> dict[str, tuple[float, float, float]]:
    """McGraw & Wong (1996) CIs and F-test p-values of ICC(A,1) and ICC(C,1) for two raters.

    Args:
        msr: Mean square between targets (interviews), n - 1 df.
        mse: Residual mean square, (n - 1)(k - 1) df.
        msc: Mean square between the two raters (model, human), k - 1 = 1 df.
        n: Number of targets.
        confidence: Coverage of the intervals.

    Returns:
        ``{"icc_a1": (low, high, p), "icc_c1": (low, high, p)}``; NaN where undefined (mse = 0).
    """
    k, alpha = 2, 1 - confidence
    df1, df2 = n - 1, (n - 1) * (k - 1)
    icc_a = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n) if msr + mse > 0 else _NAN
    if not (mse > 0 and math.isfinite(icc_a)):
        return {"icc_c1": (_NAN, _NAN, _NAN), "icc_a1": (_NAN, _NAN, _NAN)}
    f_obs = msr / mse
    p = float(stats.f.sf(f_obs, df1, df2))
    f_low = f_obs / stats.f.ppf(1 - alpha / 2, df1, df2)
    f_high = f_obs * stats.f.ppf(1 - alpha / 2, df2, df1)
    consistency = ((f_low - 1) / (f_low + k - 1), (f_high - 1) / (f_high + k - 1), p)
    # Case 2A: Satterthwaite df of the absolute-agreement interval (McGraw & Wong 1996, Table 7),
    # with a and b multiplied through by n(1 - ICC) so that ICC -> 1 does not divide by zero.
    a = k * icc_a * msc / mse
    b = n * (1 + (k - 1) * icc_a) - k * icc_a
    v = df2 * (a + b) ** 2 / (df1 * a**2 + b**2)
    f_star_u = stats.f.ppf(1 - alpha / 2, n - 1, v)
    f_star_l = stats.f.ppf(1 - alpha / 2, v, n - 1)
    shared = k * msc + (k * n - k - n) * mse
    low = n * (msr - f_star_u * mse) / (f_star_u * shared + n * msr)
    high = n * (f_star_l * msr - mse) / (shared + n * f_star_l * msr)
    return {"icc_c1": consistency, "icc_a1": (low, high, p)}


def bland_altman_intervals(
    bias: float, sd: float, n: int, confidence: float, z: float = 1.96
) -> dict[str, tuple[float, float]]:
    """Confidence intervals of the Bland-Altman bias and 95% limits of agreement.

    Bland & Altman (1999) Stat Methods Med Res 8:135-160: SE(bias) = s / sqrt(n) and
    SE(bias +/- z s) ~ sqrt(3 s^2 / n), both with a t quantile on n - 1 df.

    Args:
        bias: Mean difference (prediction - rating).
        sd: Standard deviation of the differences (n - 1 denominator).
        n: Number of pairs.
        confidence: Coverage of the intervals.
        z: Multiplier of the limits of agreement.

    Returns:
        ``{"bias": ..., "loa_low": ..., "loa_high": ...}``, each a (low, high) pair.
    """
    t = stats.t.ppf(0.5 + confidence / 2, n - 1)
    se_bias, se_limit = sd / math.sqrt(n), sd * math.sqrt(3 / n)
    out = {}
    for name, centre, se in (
        ("bias", bias, se_bias),
        ("loa_low", bias - z * sd, se_limit),
        ("loa_high", bias + z * sd, se_limit),
    ):
        out[name] = (float(centre - t * se), float(centre + t * se))
    return out
