"""``score``: one recording -> item scores with intervals, and a per-clip timeline.

Besides the head's clip-level predictions, the timeline carries a facial-expressivity trace:
per clip, 1 - p(neutral) of EmoCLIP's zero-shot recognition of the 7 basic classes from their
class descriptions (softmax with the model's own temperature). It is a description of the
recording, not a validated measure.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from emoclip_clinic.errors import CheckpointError, DataError
from emoclip_clinic.fileio import atomic_path, json_safe, write_json_atomic
from emoclip_clinic.models.build import get_tokenizer
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.provenance import package_versions
from emoclip_clinic.scoring.bundle import SCORE_KEYS, load_bundle
from emoclip_clinic.scoring.cache import RecordingEmbeddings, content_hash
from emoclip_clinic.scoring.embed import EmbedSettings
from emoclip_clinic.scoring.head import Ranges, min_usable_clips, to_scale_units
from emoclip_clinic.scoring.jobs import check_bundle_fits, score_table
from emoclip_clinic.scoring.pipeline import Encoder, FaceOptions, embed_cohort, load_encoder
from emoclip_clinic.zeroshot.classifier import description_embeddings
from emoclip_clinic.zeroshot.descriptions import load_descriptions


def expressivity(
    encoder: Encoder, embeddings: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per clip 1 - p(neutral) and the probabilities of the 7 basic classes (zero-shot)."""
    model = encoder.model
    descriptions = load_descriptions("basic7")
    classes = list(descriptions.classes)
    text = description_embeddings(model, get_tokenizer(model.config), descriptions, classes)
    logits = float(model.scale()) * torch.from_numpy(embeddings).float() @ text.T
    probs = torch.softmax(logits, dim=1).numpy()
    return 1.0 - probs[:, classes.index("neutral")], dict(zip(classes, probs.T, strict=True))


def clip_flags(entry: RecordingEmbeddings) -> np.ndarray:
    """Per clip "ok", "no_face" (too little face) or "occluded" (left out by the flag)."""
    flags = np.full(len(entry.usable), "ok", dtype=object)
    flags[entry.no_face], flags[entry.occluded] = "no_face", "occluded"
    return flags


def quality(entry: RecordingEmbeddings) -> dict[str, Any]:
    """Clip counts by flag and the share of sampled frames with a face."""
    return {"clips": len(entry.usable), "usable_clips": int(entry.usable.sum()),
            "no_face_clips": int(entry.no_face.sum()),
            "occluded_clips": int(entry.occluded.sum()),
            "face_time_share": entry.face_time_share}  # fmt: skip


def _timeline(entry, head, meta, encoder) -> pd.DataFrame:
    frame = pd.DataFrame({"clip": np.arange(len(entry.usable)), "start_s": entry.start_s,
                          "end_s": entry.end_s, "usable": entry.usable,
                          "flag": clip_flags(entry), "face_fraction": entry.face_fraction,
                          "occluded_fraction": entry.occluded_fraction,
                          "confidence": entry.confidence})  # fmt: skip
    usable = entry.usable
    columns = meta["target_columns"]
    predicted = np.full((len(usable), len(columns)), np.nan)
    trace = np.full(len(usable), np.nan)
    if usable.any():
        clips = entry.embeddings[usable]
        predicted[usable] = np.array([to_scale_units(r, bundle_ranges(meta))
                                      for r in head.predict_clips(clips)])  # fmt: skip
        trace[usable], _ = expressivity(encoder, clips)
    for k, column in enumerate(columns):
        frame[f"predicted_{column}"] = predicted[:, k]
    frame["expressivity"] = trace
    return frame


def _faces_as_trained(faces: FaceOptions | None, meta: dict[str, Any], bundle: Path) -> FaceOptions:
    trained = meta.get("faces", {}).get("mode")  # None in bundles written before it was kept
    if faces is None:
        detector = meta.get("faces", {}).get("detector", FaceOptions.detector)
        return FaceOptions("whole-frame" if trained == "whole-frame" else "auto", None, detector)
    if trained is not None and (trained == "whole-frame") != (faces.mode == "whole-frame"):
        how = "whole frames" if trained == "whole-frame" else "face crops"
        raise CheckpointError(
            f"{bundle}: the head was trained on {how} (--faces {trained}); scoring with "
            f"--faces {faces.mode} would give it inputs of another kind"
        )
    return faces


def bundle_ranges(meta: dict[str, Any]) -> Ranges:
    """The item and total ranges recorded in a bundle."""
    ranges, scale = meta["scale"]["ranges"], meta["scale"]
    return Ranges(tuple(ranges[scale["items"][0]]), tuple(ranges[scale["total"]]))


def _check_out_free(out_dir: Path, recording: Path, cache: Path) -> str | None:
    """The recording's SHA-256, once sure its results would not replace another's.

    Results are named after the recording's file name, so ``site1/p01.mp4`` and
    ``site2/p01.mp4`` scored into one folder would share ``p01_score.json``. Scoring the same
    recording again (the same content, or the same file) replaces its results; another
    recording's are refused.

    Raises:
        DataError: ``out_dir`` holds results of another recording with that file name.
    """
    if not recording.is_file():
        return None  # embedding says what is wrong with it
    digest = content_hash(recording, cache)
    earlier = out_dir / f"{recording.stem}_score.json"
    if not earlier.exists():
        return digest
    try:
        theirs = dict(json.loads(earlier.read_text(encoding="utf-8"))["recording"])
    except (OSError, ValueError, KeyError, TypeError):
        theirs = None  # not a score file
    # The same content, or the same file in a new version (paths are stored absolute; a
    # relative one from an older file never equals the resolved path): results are replaced.
    if theirs is not None and (
        theirs.get("sha256") == digest or Path(str(theirs.get("path"))) == recording.resolve()
    ):
        return digest
    whose = f"of {theirs.get('path')}" if theirs is not None else "that are not a score"
    raise DataError(f"{earlier}: holds results {whose}, not of {recording}; score it into "
                    f"another folder (--out) or remove that file")  # fmt: skip


def score_recording(
    recording: Path,
    bundle: Path,
    checkpoint: Path,
    out_dir: Path,
    faces: FaceOptions | None = None,
    cache_dir: Path | None = None,
    scale: str | None = None,
    device: str = "cpu",
    progress: ProgressHook = NO_PROGRESS,
    occlusion: bool | None = None,
) -> dict[str, Any]:
    """Score one recording; write ``<stem>_score.json`` and ``<stem>_timeline.csv``.

    Clips are cut as the head's bundle says; ``occlusion`` True or False switches the
    occlusion flag on (default limit) or off, None keeps the bundle's setting. ``faces`` None
    means as trained: whole frames for a head trained on whole frames, else track files where
    there are some and the face detector otherwise.

    Raises:
        CheckpointError: the head does not fit the encoder or the scale, or it was trained on
            whole frames and ``faces`` crops the face (or the other way round).
        DataError: missing, empty or undecodable recording, no usable face in it, or
            ``out_dir`` holds results of another recording with the same file name.
    """
    head, meta = load_bundle(bundle, SCORE_KEYS)
    encoder = load_encoder(checkpoint, device)
    check_bundle_fits(meta, encoder.weights_sha256, scale)
    try:
        settings = EmbedSettings(**meta["embed_settings"])
    except TypeError as err:  # not a mapping, or keys of no version of EmbedSettings
        raise CheckpointError(
            f"{bundle}: unreadable embed_settings in the bundle ({err})"
        ) from None
    faces = _faces_as_trained(faces, meta, bundle)
    if occlusion is not None:
        limit = EmbedSettings.max_occluded_fraction if occlusion else None
        settings = replace(settings, max_occluded_fraction=limit)
    cache = cache_dir or out_dir / "cache"
    digest = _check_out_free(out_dir, recording, cache)
    done, failed = embed_cohort({recording.stem: recording}, encoder, settings,
                                faces, cache, progress)  # fmt: skip
    if failed:
        raise DataError(failed[recording.stem])
    entry = done[recording.stem]
    if not entry.usable.any():
        occluded = int(entry.occluded.sum())
        why = (f"{occluded} had the face occluded (--no-occlusion keeps them), the others too "
               "little face" if occluded else "the patient's face was found in none")  # fmt: skip
        raise DataError(f"{recording}: no usable clip to score: of its {len(entry.usable)} "
                        f"clips, {why}")  # fmt: skip
    needed = min_usable_clips(head.inputs)
    if entry.usable.sum() < needed:
        raise DataError(f"{recording}: only {int(entry.usable.sum())} usable clip of "
                        f"{len(entry.usable)}; the head's centred inputs need at least "
                        f"{needed} (one clip minus its own mean is zero)")  # fmt: skip
    prediction = head.predict_interview(entry.usable_embeddings, bundle_ranges(meta))
    table = score_table(meta, prediction)
    timeline = _timeline(entry, head, meta, encoder)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / f"{recording.stem}_timeline.csv") as tmp:
        timeline.to_csv(tmp, index=False)
    result = {
        "kind": "score", "recording": {"path": str(recording.resolve()), "sha256": digest,
                                       **{k: entry.meta.get(k) for k in ("duration_s", "fps",
                                                                          "width", "height")}},
        "scores": table.reset_index().to_dict("records"), "bundle": str(bundle),
        "bundle_meta": {**{k: meta[k] for k in ("scale", "encoder", "cohort", "interval_95")},
                        "head_settings": meta.get("head_settings", {})},
        "quality": quality(entry),
        "timeline": timeline.to_dict("records"), "face_source": entry.meta.get("face_source"),
        "versions": package_versions(),
    }  # fmt: skip
    write_json_atomic(out_dir / f"{recording.stem}_score.json", json_safe(result))
    return result
