"""Agreement statistics against scipy, pingouin, hand-computed cases and a naive bootstrap."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats

from emoclip_clinic.errors import ConfigError, DataError
from emoclip_clinic.stats import STATISTICS, agreement_table, item_agreement

T_975_DF3 = 3.182446305284263  # Student t 0.975 quantile, 3 df (tables)


def _scores(seed: int, n: int = 30, shift: float = 0.4, noise: float = 1.0):
    """Ratings 1-7, predictions = ratings + shift + noise, patients with 1-3 interviews."""
    rng = np.random.default_rng(seed)
    rated = rng.integers(1, 8, n).astype(float)
    pred = rated + shift + rng.normal(0, noise, n)
    patients = np.repeat(np.arange(n), rng.integers(1, 4, n))[:n]
    return pred, rated, patients


@pytest.fixture
def unrounded_pingouin(monkeypatch):
    """pingouin rounds the ICC CI to 2 decimals by default; compare at full precision."""
    monkeypatch.setitem(pingouin.options, "round.column.CI95", None)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pearson_matches_scipy(seed):
    pred, rated, patients = _scores(seed)
    result = item_agreement(pred, rated, patients, n_boot=0)
    reference = stats.pearsonr(pred, rated)
    interval = reference.confidence_interval(0.95)  # Fisher z, like ours
    assert result["pcc"].value == pytest.approx(reference.statistic, abs=1e-12)
    assert result["pcc"].p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result["pcc"].ci_low == pytest.approx(interval.low, abs=1e-12)
    assert result["pcc"].ci_high == pytest.approx(interval.high, abs=1e-12)


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside pingouin 0.7 on pandas 3
@pytest.mark.parametrize(("seed", "shift"), [(0, 0.0), (1, 0.8), (2, -1.5), (3, 3.0)])
def test_icc_matches_pingouin(seed, shift, unrounded_pingouin):
    pred, rated, patients = _scores(seed, n=25, shift=shift)
    result = item_agreement(pred, rated, patients, n_boot=0)
    n = len(pred)
    long = pd.DataFrame(
        {
            "interview": np.tile(np.arange(n), 2),
            "rater": ["model"] * n + ["human"] * n,
            "score": np.concatenate([pred, rated]),
        }
    )
    table = pingouin.intraclass_corr(long, "interview", "rater", "score").set_index("Type")
    for ours, theirs in (("icc_a1", "ICC(A,1)"), ("icc_c1", "ICC(C,1)")):
        assert result[ours].value == pytest.approx(table.at[theirs, "ICC"], abs=1e-10)
        assert result[ours].p_value == pytest.approx(table.at[theirs, "pval"], rel=1e-8)
        low, high = table.at[theirs, "CI95"]
        assert result[ours].ci_low == pytest.approx(low, abs=1e-8)
        assert result[ours].ci_high == pytest.approx(high, abs=1e-8)
    if abs(shift) >= 1.5:  # a systematic offset lowers absolute agreement, not consistency
        assert result["icc_a1"].value < result["icc_c1"].value - 0.05


def test_ccc_of_shifted_perfectly_correlated_data():
    rated = np.array([1.0, 2.0, 3.0, 4.0])
    result = item_agreement(rated + 1, rated, ["a", "b", "c", "d"], n_boot=0)
    # Lin 1989 with n-denominator variances: var = 1.25 each, cov = 1.25, mean shift 1.
    assert result["ccc"].value == pytest.approx(2 * 1.25 / (1.25 + 1.25 + 1.0))
    assert result["pcc"].value == pytest.approx(1.0)
    assert result["icc_c1"].value == pytest.approx(1.0)
    assert result["icc_a1"].value < 1.0


@pytest.mark.parametrize("seed", [3, 4])
def test_ccc_textbook_formula(seed):
    pred, rated, patients = _scores(seed, shift=0.7, noise=1.3)
    covariance = np.mean((pred - pred.mean()) * (rated - rated.mean()))
    expected = 2 * covariance / (pred.var() + rated.var() + (pred.mean() - rated.mean()) ** 2)
    result = item_agreement(pred, rated, patients, n_boot=0)
    assert result["ccc"].value == pytest.approx(expected, abs=1e-12)
    assert result["ccc"].ci_low < result["ccc"].value < result["ccc"].ci_high


def test_ccc_interval_has_nominal_coverage():
    """Lin's z-transform interval covers the true CCC about 95% of the time (n = 40)."""
    rng = np.random.default_rng(7)
    sx, sy, rho, shift = 1.0, 1.2, 0.8, 0.5
    true_ccc = 2 * rho * sx * sy / (sx**2 + sy**2 + shift**2)
    covariance = [[sx**2, rho * sx * sy], [rho * sx * sy, sy**2]]
    covered, trials = 0, 600
    for _ in range(trials):
        pairs = rng.multivariate_normal([shift, 0.0], covariance, size=40)
        ccc = item_agreement(pairs[:, 0], pairs[:, 1], np.arange(40), n_boot=0)["ccc"]
        covered += ccc.ci_low <= true_ccc <= ccc.ci_high
    assert 0.92 <= covered / trials <= 0.975


def test_bland_altman_hand_computed():
    rated = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([2.0, 2.0, 5.0, 5.0])  # differences 1, 0, 2, 1
    result = item_agreement(pred, rated, [1, 2, 3, 4], n_boot=0)
    sd = math.sqrt(2 / 3)  # squared deviations 0, 1, 1, 0 over n - 1 = 3
    assert result["bias"].value == pytest.approx(1.0)
    assert result["sd_diff"].value == pytest.approx(sd)
    assert result["loa_low"].value == pytest.approx(1 - 1.96 * sd)
    assert result["loa_high"].value == pytest.approx(1 + 1.96 * sd)
    assert result["bias"].ci_low == pytest.approx(1 - T_975_DF3 * sd / 2)
    assert result["bias"].ci_high == pytest.approx(1 + T_975_DF3 * sd / 2)
    se_limit = math.sqrt(3 * sd**2 / 4)  # Bland & Altman 1999
    assert result["loa_high"].ci_low == pytest.approx(1 + 1.96 * sd - T_975_DF3 * se_limit)
    assert result["loa_low"].ci_high == pytest.approx(1 - 1.96 * sd + T_975_DF3 * se_limit)
    assert result["mae"].value == pytest.approx(1.0)
    assert result["rmse"].value == pytest.approx(math.sqrt(6 / 4))


def test_constant_predictions_are_reported_not_crashed():
    rated = np.array([1.0, 3.0, 4.0, 2.0, 5.0, 6.0])
    result = item_agreement(np.full(6, 3.0), rated, [1, 1, 2, 3, 4, 5], n_boot=200)
    assert math.isnan(result["pcc"].value)
    assert "constant" in result["pcc"].note
    assert result["ccc"].value == 0.0  # defined: no covariance
    assert result["mae"].value == pytest.approx(np.mean(np.abs(3.0 - rated)))
    payload = json.dumps(result.to_dict(), allow_nan=False)  # JSON-safe: NaN became null
    assert json.loads(payload)["stats"]["pcc"]["value"] is None


@pytest.mark.parametrize(
    ("pred", "rated", "patients", "message"),
    [
        ([1.0, 2.0], [1.0, 2.0], [1, 2], "at least 3"),
        ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0], [1, 2, 3], "missing or infinite"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, np.inf], [1, 2, 3], "ratings contain"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], [1, 2, 3, 4], "one entry per interview"),
        (["a", 2.0, 3.0], [1.0, 2.0, 3.0], [1, 2, 3], "not all numbers"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1, None, 3], "patient ids"),
    ],
)
def test_invalid_input_raises_clear_error(pred, rated, patients, message):
    with pytest.raises(DataError, match=message) as error:
        item_agreement(pred, rated, patients, item="N3")
    assert "N3" in str(error.value)


def _naive_patient_bootstrap(pred, rated, patients, n_boot, seed):
    """Resample patients by copying rows, then compute statistics with numpy/scipy directly."""
    rng = np.random.default_rng(seed)
    # The library numbers patients in sorted order of their ids as text.
    labels, codes = np.unique(np.asarray(patients).astype(str), return_inverse=True)
    rows_of = [np.flatnonzero(codes == k) for k in range(len(labels))]
    mae, pcc, ccc = [], [], []
    for _ in range(n_boot):
        drawn = rng.integers(0, len(labels), len(labels))  # same draw as the library
        rows = np.concatenate([rows_of[k] for k in drawn])
        x, y = pred[rows], rated[rows]
        mae.append(np.mean(np.abs(x - y)))
        pcc.append(stats.pearsonr(x, y).statistic)
        cov = np.mean((x - x.mean()) * (y - y.mean()))
        ccc.append(2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2))
    return {"mae": mae, "pcc": pcc, "ccc": ccc}


def test_bootstrap_resamples_patients_like_a_naive_implementation():
    pred, rated, patients = _scores(5, n=24)
    result = item_agreement(pred, rated, patients, n_boot=300, seed=11)
    naive = _naive_patient_bootstrap(pred, rated, patients, 300, 11)
    for name, values in naive.items():
        low, high = np.quantile(values, [0.025, 0.975])
        assert result[name].boot_low == pytest.approx(low, abs=1e-10)
        assert result[name].boot_high == pytest.approx(high, abs=1e-10)


def test_bootstrap_keeps_a_patients_interviews_together():
    """Copies of an interview under the same patient add no information; under new ids they do."""
    pred, rated, _ = _scores(6, n=20)
    patients = np.arange(20)
    tripled_pred, tripled_rated = np.repeat(pred, 3), np.repeat(rated, 3)
    original = item_agreement(pred, rated, patients, n_boot=1000, seed=3)
    same_patient = item_agreement(
        tripled_pred, tripled_rated, np.repeat(patients, 3), n_boot=1000, seed=3
    )
    as_new_patients = item_agreement(
        tripled_pred, tripled_rated, np.arange(60), n_boot=1000, seed=3
    )
    for name in ("mae", "pcc", "bias"):
        assert same_patient[name].boot_low == pytest.approx(original[name].boot_low)
        assert same_patient[name].boot_high == pytest.approx(original[name].boot_high)
        width = original[name].boot_high - original[name].boot_low
        naive_width = as_new_patients[name].boot_high - as_new_patients[name].boot_low
        assert naive_width < 0.75 * width  # treating copies as independent would look too sure


def test_bootstrap_is_seeded_and_deterministic():
    pred, rated, patients = _scores(8)
    first = item_agreement(pred, rated, patients, n_boot=500, seed=42, ci_method="bca")
    again = item_agreement(pred, rated, patients, n_boot=500, seed=42, ci_method="bca")
    other = item_agreement(pred, rated, patients, n_boot=500, seed=43, ci_method="bca")
    assert first.to_dict() == again.to_dict()
    assert first["mae"].boot_low != other["mae"].boot_low


def test_bca_matches_scipy_for_independent_interviews():
    """With one interview per patient, the BCa interval of the bias is scipy's (up to MC error)."""
    pred, rated, _ = _scores(9, n=40, noise=1.5)
    ours = item_agreement(pred, rated, np.arange(40), n_boot=4000, seed=1, ci_method="bca")
    reference = stats.bootstrap(
        (pred - rated,), np.mean, n_resamples=4000, method="BCa", rng=np.random.default_rng(2)
    ).confidence_interval
    width = reference.high - reference.low
    assert ours["bias"].boot_low == pytest.approx(reference.low, abs=0.06 * width)
    assert ours["bias"].boot_high == pytest.approx(reference.high, abs=0.06 * width)


def test_agreement_table_has_a_row_per_item():
    rng = np.random.default_rng(10)
    rated = pd.DataFrame(rng.integers(1, 8, (18, 3)).astype(float), columns=["N1", "N2", "N3"])
    pred = rated + rng.normal(0, 1, rated.shape)
    patients = np.repeat(np.arange(9), 2)
    table = agreement_table(pred, rated, patients, items=["N3", "N1"], n_boot=100, seed=5)
    assert list(table.index) == ["N3", "N1"]
    for name in STATISTICS:
        assert {name, f"{name}_ci_low", f"{name}_boot_high"} <= set(table.columns)
    single = item_agreement(pred["N1"], rated["N1"], patients, item="N1", n_boot=100, seed=5)
    assert table.at["N1", "icc_a1"] == pytest.approx(single["icc_a1"].value)
    assert table.at["N1", "ccc_boot_low"] == pytest.approx(single["ccc"].boot_low)
    assert (table["n_patients"] == 9).all()


def test_agreement_table_rejects_missing_items_and_misaligned_rows():
    rated = pd.DataFrame({"N1": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(DataError, match="N2"):
        agreement_table(rated, rated, [1, 2, 3, 4], items=["N1", "N2"], n_boot=0)
    shuffled = rated.set_axis([3, 2, 1, 0])
    with pytest.raises(DataError, match="row indexes"):
        agreement_table(shuffled, rated, [1, 2, 3, 4], n_boot=0)


def test_agreement_table_accepts_arrays_with_item_names():
    pred, rated, patients = _scores(12, n=15)
    table = agreement_table(
        np.c_[pred, pred + 1], np.c_[rated, rated], patients, items=["A", "B"], n_boot=0
    )
    assert table.at["B", "bias"] == pytest.approx(table.at["A", "bias"] + 1)
    assert np.isnan(table.at["A", "mae_boot_low"])  # no bootstrap requested


def test_invalid_options_raise_config_error():
    pred, rated, patients = _scores(13, n=10)
    with pytest.raises(ConfigError, match="'bootstrap'"):
        item_agreement(pred, rated, patients, n_boot=0, ci_method="bootstrap")
    with pytest.raises(ConfigError, match="confidence"):
        item_agreement(pred, rated, patients, confidence=95)
