"""``loocv``, ``train-head`` and ``score``: cohort evaluation, final head, one recording."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoclip_clinic.errors import CheckpointError, DataError
from emoclip_clinic.fileio import atomic_path, check_replaceable, json_safe, write_json_atomic
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.provenance import package_versions, sha256_file
from emoclip_clinic.scoring.bundle import META as BUNDLE_META
from emoclip_clinic.scoring.bundle import save_bundle
from emoclip_clinic.scoring.cache import RecordingEmbeddings
from emoclip_clinic.scoring.embed import EmbedSettings
from emoclip_clinic.scoring.head import HeadSettings, min_usable_clips
from emoclip_clinic.scoring.labels import read_labels, read_patient_list
from emoclip_clinic.scoring.loocv import (
    agreement,
    cohort_data,
    fit_head_on,
    leave_one_patient_out,
    residual_quantiles,
    summary,
)
from emoclip_clinic.scoring.pipeline import (
    FaceOptions,
    elapsed,
    embed_cohort,
    load_encoder,
    read_ceiling,
    settings_record,
)
from emoclip_clinic.scoring.scales import Scale, load_scale

logger = logging.getLogger(__name__)


@dataclass
class CohortJob:
    """Inputs shared by ``loocv`` and ``train-head``."""

    labels: Path  # labels CSV
    scale: str  # scale name or file
    checkpoint: Path  # EmoCLIP checkpoint folder (the frozen encoder)
    cache_dir: Path  # embedding cache
    embed: EmbedSettings = field(default_factory=EmbedSettings)  # chunking and cropping
    faces: FaceOptions = field(default_factory=FaceOptions)  # face source
    head: HeadSettings = field(default_factory=HeadSettings)  # MLP training
    device: str = "cpu"  # torch device for the encoder and the head's training
    workers: int = 1  # recordings embedded at once, one process each
    patients: Path | None = None  # the study's patient list; labels must name no other patient


def _prepare(job: CohortJob, progress: ProgressHook):
    scale = load_scale(job.scale)
    known = read_patient_list(job.patients) if job.patients is not None else None
    labels = read_labels(job.labels, scale, known_patients=known, check_recordings=True)
    encoder = load_encoder(job.checkpoint, job.device)
    recordings = dict(zip(labels.table["interview_id"], labels.recordings, strict=True))
    embeddings, failed = embed_cohort(recordings, encoder, job.embed, job.faces, job.cache_dir,
                                      progress, job.workers)  # fmt: skip
    _check_distinct(embeddings, job.labels)
    min_clips = min_usable_clips(job.head.inputs)
    return scale, encoder, embeddings, failed, cohort_data(labels, embeddings, min_clips)


def _check_distinct(embeddings: dict[str, RecordingEmbeddings], labels: Path) -> None:
    """Refuse two interviews whose recordings are copies of one video (content, not name)."""
    seen: dict[str, str] = {}
    for interview, entry in embeddings.items():
        digest = entry.meta.get("key_parts", {}).get("recording_sha256")
        if digest in seen:
            raise DataError(
                f"{labels}: the recordings of interviews '{seen[digest]}' and '{interview}' are "
                f"the same video (SHA-256 {digest[:16]}...); a copy would be in the training "
                f"and the test folds at once"
            )
        if digest:
            seen[digest] = interview


def _items_info(scale: Scale) -> list[dict[str, Any]]:
    rows = [{"id": i.id, "name": i.name, "min": i.min, "max": i.max, "definition": i.definition,
             "observable": i.video_signal.observable, "signal": i.video_signal.signal,
             "inter_rater": [asdict(f) for f in i.inter_rater]} for i in scale.items]  # fmt: skip
    total = scale.total
    rows.append({"id": total.id, "name": total.name, "min": total.min, "max": total.max,
                 "definition": total.description, "observable": "partly", "signal": "sum",
                 "inter_rater": [asdict(f) for f in total.inter_rater]})  # fmt: skip
    return rows


def _flags(embeddings) -> list[dict[str, Any]]:
    return [{"interview_id": k, "clips": len(e.usable), "usable": int(e.usable.sum()),
             "no_face": int(e.no_face.sum()), "occluded": int(e.occluded.sum()),
             "face_time_share": e.face_time_share}
            for k, e in embeddings.items()]  # fmt: skip


def run_loocv(
    job: CohortJob,
    out_dir: Path,
    n_boot: int = 2000,
    seed: int = 0,
    progress: ProgressHook = NO_PROGRESS,
) -> dict[str, Any]:
    """Leave-one-patient-out evaluation; writes predictions, agreement and a JSON for reports.

    Earlier LOOCV results in ``out_dir`` are replaced when the new ones are complete, with a
    warning that names what they were.
    """
    start = time.perf_counter()
    _note_replaced(out_dir / "loocv.json")
    scale, encoder, embeddings, failed, data = _prepare(job, progress)
    fit_start = time.perf_counter()
    predictions = leave_one_patient_out(data, scale, job.head, progress, job.device)
    table = agreement(data, predictions, n_boot, seed)
    ceiling = read_ceiling(Path(job.labels), scale.name)
    table["oracle_pcc"] = [ceiling.get(c, np.nan) for c in table.index]
    # a share of a ceiling at or below zero means nothing (an item the video cannot see)
    table["share_of_ceiling"] = table["pcc"] / table["oracle_pcc"].where(table["oracle_pcc"] > 0)
    out_dir.mkdir(parents=True, exist_ok=True)
    merged = data.ratings.add_prefix("rated_").join(predictions.add_prefix("predicted_"))
    merged.insert(0, "patient_id", data.patient_ids)
    for name, frame in (("loocv_predictions", merged), ("loocv_agreement", table)):
        with atomic_path(out_dir / f"{name}.csv") as tmp:
            frame.to_csv(tmp)
    result = {
        "kind": "loocv", "scale": {"name": scale.name, "title": scale.title, "meta": scale.meta},
        "items": _items_info(scale),
        "agreement": table.reset_index(names="item").to_dict("records"),
        "predictions": merged.reset_index(names="interview_id").to_dict("records"),
        "cohort": summary(data), "failed_recordings": failed, "quality": _flags(embeddings),
        "encoder": {"config": encoder.config_name, "sha256": encoder.weights_sha256,
                    "checkpoint": encoder.checkpoint},
        "settings": settings_record(job.embed, job.faces)
        | {"head": asdict(job.head), "device": job.device},  # heads trained there
        "labels": _file_record(job.labels),
        "patients": _file_record(job.patients),
        "n_boot": n_boot, "seed": seed, "versions": package_versions(),
        "timing_s": {"total": elapsed(start), "loocv_and_statistics": elapsed(fit_start)},
    }  # fmt: skip
    write_json_atomic(out_dir / "loocv.json", json_safe(result))
    return result


def _file_record(path: Path | None) -> dict[str, str] | None:
    return None if path is None else {"path": str(path), "sha256": sha256_file(path)}


def _note_replaced(path: Path) -> None:
    if not path.is_file():
        return
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        what = f"scale {earlier['scale']['name']}, labels {earlier['labels']['path']}"
    except (OSError, ValueError, KeyError, TypeError):
        what = "unreadable"
    logger.warning("%s holds earlier LOOCV results (%s); they are replaced when this run "
                   "completes", path.parent, what)  # fmt: skip


def run_train_head(
    job: CohortJob, out: Path, seed: int = 0, progress: ProgressHook = NO_PROGRESS
) -> dict[str, Any]:
    """Fit the head on the whole cohort; save a bundle with a LOOCV-based prediction interval.

    Raises:
        ConfigError: ``out`` holds files but is not a bundle (checked before any work).
    """
    check_replaceable(out, BUNDLE_META)
    scale, encoder, _, failed, data = _prepare(job, progress)
    predictions = leave_one_patient_out(data, scale, job.head, progress, job.device)
    head = fit_head_on(data, scale, job.head, job.device)
    info = {
        "scale": {"name": scale.name, "items": list(scale.item_ids), "total": scale.total.id,
                  "ranges": {i["id"]: [i["min"], i["max"]] for i in _items_info(scale)}},
        "encoder": {"config": encoder.config_name, "sha256": encoder.weights_sha256},
        "embed_settings": asdict(job.embed), "head_settings": asdict(job.head),
        "trained_on_device": job.device,
        "faces": {"mode": job.faces.mode, "detector": job.faces.detector},
        "interval_95": residual_quantiles(data, predictions),
        "cohort": summary(data) | {"labels_sha256": sha256_file(job.labels),
                                   "patients": _file_record(job.patients)},
        "failed_recordings": failed, "seed": seed,
    }  # fmt: skip
    save_bundle(out, head, json_safe(info))
    return info


def check_bundle_fits(meta: dict[str, Any], encoder_sha: str, scale: str | None) -> None:
    """Refuse a head trained on another encoder or, if one is named, another scale.

    Raises:
        CheckpointError: naming what differs.
    """
    if meta["encoder"]["sha256"] != encoder_sha:
        raise CheckpointError(
            f"the head was trained on encoder {meta['encoder']['config']} "
            f"({meta['encoder']['sha256'][:12]}...), not on this checkpoint ({encoder_sha[:12]}...)"
        )
    if scale is not None and load_scale(scale).name != meta["scale"]["name"]:
        raise CheckpointError(
            f"the head predicts scale '{meta['scale']['name']}', not '{load_scale(scale).name}'"
        )


def score_table(meta: dict[str, Any], prediction: np.ndarray) -> pd.DataFrame:
    """One row per item and the total: prediction and 95% prediction interval, clipped."""
    rows = []
    for column, value in zip(meta["target_columns"], prediction, strict=True):
        low, high = meta["scale"]["ranges"][column]
        # None: an infinite half-width (too few interviews for 95%), the whole scale
        r_low, r_high = meta["interval_95"][column]
        r_low, r_high = -np.inf if r_low is None else r_low, np.inf if r_high is None else r_high
        rows.append({"item": column, "predicted": float(value),
                     "interval_low": float(np.clip(value + r_low, low, high)),
                     "interval_high": float(np.clip(value + r_high, low, high)),
                     "min": low, "max": high})  # fmt: skip
    return pd.DataFrame(rows).set_index("item")
