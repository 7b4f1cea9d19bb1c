"""Leave-one-patient-out cross-validation of the symptom head, with agreement statistics.

All interviews of a patient leave together (scikit-learn's ``LeaveOneGroupOut`` on patient
ids), so no patient is ever both trained on and tested. Agreement of the held-out predictions
with the ratings (MAE, RMSE, PCC, Lin's CCC, ICC(2,1), ICC(3,1), Bland-Altman, patient
bootstrap intervals) comes from :mod:`emoclip_clinic.stats.agreement`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import LeaveOneGroupOut

from emoclip_clinic.errors import DataError
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.scoring.cache import RecordingEmbeddings
from emoclip_clinic.scoring.head import (
    FittedHead,
    HeadSettings,
    Ranges,
    fit_symptom_heads,
    targets_on_item_range,
)
from emoclip_clinic.scoring.labels import Labels
from emoclip_clinic.scoring.scales import Scale
from emoclip_clinic.stats.agreement import agreement_table


@dataclass
class CohortData:
    """Usable clip embeddings and ratings of the interviews that can be scored."""

    interview_ids: list[str]
    patient_ids: np.ndarray  # (n,)
    clips: list[np.ndarray]  # per interview (n_i, d)
    ratings: pd.DataFrame  # (n, items + total) in scale units, indexed by interview id
    left_out: dict[str, str] = field(default_factory=dict)  # interview id -> reason


def cohort_data(
    labels: Labels, embeddings: dict[str, RecordingEmbeddings], min_clips: int = 1
) -> CohortData:
    """Pair ratings with embeddings; interviews with fewer than ``min_clips`` usable clips are
    left out, with why (a head on centred inputs needs 2: one clip minus its own mean is 0).

    Raises:
        DataError: fewer than 3 patients remain.
    """
    ratings = labels.scores(with_total=True)
    patients = dict(zip(labels.table["interview_id"], labels.patient_ids, strict=True))
    ids, clips, left_out = [], [], {}
    for interview in ratings.index:
        entry = embeddings.get(interview)
        if entry is None:
            left_out[interview] = "no embeddings (recording failed or was not embedded)"
        elif not entry.usable.any():
            left_out[interview] = "no clip with a usable face"
        elif entry.usable.sum() < min_clips:
            left_out[interview] = (f"{int(entry.usable.sum())} usable clip(s); the head's "
                                   f"centred inputs need {min_clips}")  # fmt: skip
        else:
            ids.append(interview)
            clips.append(entry.usable_embeddings)
    patient_ids = np.array([patients[i] for i in ids])
    if len(set(patient_ids)) < 3:
        raise DataError(f"{labels.path}: fewer than 3 patients with usable recordings")
    return CohortData(ids, patient_ids, clips, ratings.loc[ids], left_out)


def fit_heads(
    data: CohortData, scale: Scale, settings: HeadSettings, masks: np.ndarray,
    device: str = "cpu",
) -> list[FittedHead]:  # fmt: skip
    """Fit one head per row of ``masks`` (interviews to train on) on ``device``."""
    targets = targets_on_item_range(data.ratings.to_numpy(), Ranges.of(scale))
    heads = fit_symptom_heads(data.clips, targets, masks, settings, device)
    columns = tuple(data.ratings.columns)
    return [replace(h, target_columns=columns) for h in heads]


def fit_head_on(
    data: CohortData, scale: Scale, settings: HeadSettings, device: str = "cpu"
) -> FittedHead:
    """Fit the head on every interview of the cohort."""
    return fit_heads(data, scale, settings, np.ones((1, len(data.interview_ids))), device)[0]


def leave_one_patient_out(
    data: CohortData,
    scale: Scale,
    settings: HeadSettings | None = None,
    progress: ProgressHook = NO_PROGRESS,
    device: str = "cpu",
) -> pd.DataFrame:
    """Held-out predictions (scale units) of every interview, one model per left-out patient.

    The models train together on ``device`` (see :func:`fit_symptom_heads`).
    """
    settings = settings or HeadSettings()
    predictions = np.zeros(data.ratings.shape)
    splits = list(LeaveOneGroupOut().split(data.clips, groups=data.patient_ids))
    masks = np.zeros((len(splits), len(data.interview_ids)))
    for fold, (train, _) in enumerate(splits):
        masks[fold, train] = 1
    progress.start("leave-one-patient-out", total=len(splits), unit="fold")
    heads = fit_heads(data, scale, settings, masks, device)
    for head, (_, test) in zip(heads, splits, strict=True):
        for i in test:
            predictions[i] = head.predict_interview(data.clips[i], Ranges.of(scale))
        progress.advance("leave-one-patient-out")
    progress.end("leave-one-patient-out")
    return pd.DataFrame(predictions, index=data.ratings.index, columns=data.ratings.columns)


def agreement(
    data: CohortData, predictions: pd.DataFrame, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Agreement table (a row per item and the total) of held-out predictions vs ratings."""
    return agreement_table(predictions, data.ratings, data.patient_ids,
                           list(data.ratings.columns), n_boot=n_boot, seed=seed)  # fmt: skip


def residual_quantiles(
    data: CohortData, predictions: pd.DataFrame, coverage: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Per column, a symmetric prediction interval (-q, +q) around a new prediction.

    ``q`` is the conformal quantile of the absolute leave-one-patient-out residuals: the
    ceil((n + 1) * coverage)-th smallest of n, so that a new interview's rating falls within
    prediction +/- q with probability at least ``coverage`` if it resembles the cohort
    (Lei et al. 2018, split conformal prediction; the LOOCV residuals play the calibration set).
    With too few interviews for that rank (n < 19 at 95%) no finite ``q`` has the coverage and
    ``q`` is infinite: the interval is the whole scale.
    """
    residuals = (data.ratings - predictions).abs()
    n = len(residuals)
    rank = int(np.ceil((n + 1) * coverage))
    quantiles = {}
    for column in residuals.columns:
        q = float(np.sort(residuals[column].to_numpy())[rank - 1]) if rank <= n else np.inf
        quantiles[column] = (-q, q)
    return quantiles


def summary(data: CohortData) -> dict[str, Any]:
    """Counts for reports: interviews, patients, clips, left-out interviews."""
    return {
        "interviews": len(data.interview_ids),
        "patients": len(set(data.patient_ids)),
        "clips": int(sum(len(c) for c in data.clips)),
        "left_out": data.left_out,
    }
