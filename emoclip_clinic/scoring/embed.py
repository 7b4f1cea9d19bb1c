"""Embedding interview recordings: clips -> patient's face -> crops -> frozen video encoder.

A recording is decoded once, in order (bounded memory whatever its length). Each clip of T
frames (after temporal downsampling) gets the patient's box in every frame from a
:class:`~emoclip_clinic.faces.tracking.FaceSource`; a clip with too few face frames is flagged
unusable and not embedded; otherwise frames without a box reuse the nearest box of the clip,
are cropped square with a margin, preprocessed like the encoder's training data, and embedded
in batches of clips. Decoding and cropping run in a background thread so that they overlap
the encoder (on a GPU, with bf16 autocast).

Every frame with a face is also described for the occlusion flag
(:mod:`emoclip_clinic.faces.occlusion`), which compares it with the whole recording and so is
scored at the end: clips with at least ``max_occluded_fraction`` of their face frames occluded
are then marked unusable. They were embedded by then and keep their embeddings, so that the
cache shows what the flag left out; only ``usable`` decides what is scored.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emoclip_clinic.data.transforms import ClipTransform
from emoclip_clinic.faces.boxes import FaceBox, square_crop
from emoclip_clinic.faces.occlusion import OcclusionSettings, RecordingOcclusion, RegionDescriber
from emoclip_clinic.faces.tracking import FaceSource
from emoclip_clinic.models.build import get_preprocess_cfg
from emoclip_clinic.models.emoclip import EmoCLIP
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.provenance import package_versions
from emoclip_clinic.scoring.cache import RecordingEmbeddings
from emoclip_clinic.train.evaluate import autocast_for
from emoclip_clinic.video import ClipPlanConfig, ClipReader


@dataclass(frozen=True)
class EmbedSettings:
    """How recordings are cut, cropped and embedded (part of the cache key)."""

    downsample: int = 4  # keep every k-th frame (paper: 4)
    clip_len: int = 32  # frames per clip after downsampling (paper: 32)
    stride: int | None = None  # sampled frames between clip starts; None = clip_len
    margin: float = 1.4  # crop side as a multiple of the face box's larger side
    min_face_fraction: float = 0.5  # clips with fewer face frames are flagged and skipped
    max_occluded_fraction: float | None = 0.5  # clips with this share occluded are left out;
    # None = no occlusion flag
    batch_clips: int = 8  # clips per encoder batch

    def plan(self) -> ClipPlanConfig:
        """The clip plan of these settings."""
        return ClipPlanConfig(self.downsample, self.clip_len, self.stride)

    def key_parts(self) -> dict[str, Any]:
        """Settings that change the cached entry (batch size does not)."""
        parts = asdict(self)
        parts.pop("batch_clips")
        parts["occlusion"] = asdict(OcclusionSettings())
        return parts


@dataclass
class _Prepared:
    index: int
    start_s: float
    end_s: float
    face_fraction: float
    confidence: float
    video: torch.Tensor | None  # (T, C, S, S) or None when unusable
    face_frames: list[int]  # indices of the frames with a box
    descriptors: np.ndarray  # (len(face_frames), DESCRIPTOR_SIZE) uint8, for the occlusion flag


def _fill_boxes(boxes: list[FaceBox | None]) -> list[FaceBox]:
    """Give frames without a box the nearest box of the clip."""
    known = [i for i, b in enumerate(boxes) if b is not None]
    nearest = [min(known, key=lambda k: abs(k - i)) for i in range(len(boxes))]
    return [box for k in nearest if (box := boxes[k]) is not None]


def _prepare_clips(
    reader: ClipReader,
    source: FaceSource,
    settings: EmbedSettings,
    transform: ClipTransform,
    size: int,
) -> Iterator[_Prepared]:
    describer = RegionDescriber()
    for clip_index, frames, start_s, end_s in reader:
        indices = reader.plan[clip_index].frame_indices.tolist()
        boxes = source.boxes(indices, frames)
        found = [b for b in boxes if b is not None]
        face_frames = [i for i, b in zip(indices, boxes, strict=True) if b is not None]
        fraction = len(found) / len(boxes)
        confidence = float(np.mean([b.confidence for b in found])) if found else 0.0
        video = None
        if found and fraction >= settings.min_face_fraction:
            filled = _fill_boxes(boxes)
            crops = np.stack([square_crop(f, b, settings.margin, size)
                              for f, b in zip(frames, filled, strict=True)])  # fmt: skip
            video = transform(crops)
        yield _Prepared(clip_index, start_s, end_s, fraction, confidence, video, face_frames,
                        describer.describe(frames, boxes))  # fmt: skip


def _background(iterator: Iterator[_Prepared], depth: int) -> Iterator[_Prepared]:
    """Run ``iterator`` in a thread, at most ``depth`` items ahead (bounded memory).

    When the consumer stops early (an error while embedding, or it closes this generator), the
    thread stops too and closes ``iterator``, which closes its decoder; before, it waited
    forever to hand over its next item, holding the decoder and the frames.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def work() -> None:
        try:
            for item in iterator:
                if not put(item):
                    break
            else:
                put(done)
        except BaseException as err:  # re-raised in the consumer
            put(err)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _flag_occluded(
    out: dict[str, np.ndarray], occlusion: RecordingOcclusion, settings: EmbedSettings
) -> int:
    """Score the recording's occlusion, mark occluded clips unusable; returns how many."""
    out["occluded_fraction"] = occlusion.clip_fractions(len(out["usable"]))
    limit = settings.max_occluded_fraction
    occluded = out["usable"] & (out["occluded_fraction"] >= (np.inf if limit is None else limit))
    out["usable"] &= ~occluded
    return int(occluded.sum())


@torch.no_grad()
def embed_recording(
    path: Path,
    model: EmoCLIP,
    source: FaceSource,
    settings: EmbedSettings = EmbedSettings(),
    progress: ProgressHook = NO_PROGRESS,
) -> RecordingEmbeddings:
    """Embed every clip of one recording.

    Raises:
        DataError: the recording is missing, empty or cannot be decoded.
    """
    device = next(model.parameters()).device
    model.eval()
    preprocess = get_preprocess_cfg(model)
    size = preprocess.size if isinstance(preprocess.size, int) else preprocess.size[0]
    reader = ClipReader(path, settings.plan())
    n = len(reader)
    out = {
        "embeddings": np.full((n, model.embed_dim), np.nan, np.float32),
        "start_s": np.zeros(n), "end_s": np.zeros(n), "face_fraction": np.zeros(n),
        "confidence": np.zeros(n), "usable": np.zeros(n, bool),
    }  # fmt: skip
    occlusion = RecordingOcclusion(reader.info.timestamps[:, 0])
    task = f"embed {path.name}"
    progress.start(task, total=n, unit="clip")
    batch: list[_Prepared] = []

    def flush() -> None:
        if batch:
            video = torch.stack([p.video for p in batch]).to(device)
            with autocast_for(device):
                emb = model.encode_video(video, normalize=True).float().cpu().numpy()
            for p, row in zip(batch, emb, strict=True):
                out["embeddings"][p.index], out["usable"][p.index] = row, True
            batch.clear()

    prepared = _prepare_clips(reader, source, settings, ClipTransform(preprocess), size)
    # closing: an error here stops the decoding thread at once, not when the generator is freed
    with contextlib.closing(_background(prepared, depth=2 * settings.batch_clips)) as clips:
        for p in clips:
            out["start_s"][p.index], out["end_s"][p.index] = p.start_s, p.end_s
            out["face_fraction"][p.index] = p.face_fraction
            out["confidence"][p.index] = p.confidence
            occlusion.add(p.index, p.face_frames, p.descriptors)
            if p.video is not None:
                batch.append(p)
                if len(batch) == settings.batch_clips:
                    flush()
            progress.advance(task)
    flush()
    progress.end(task)
    occluded = _flag_occluded(out, occlusion, settings)
    meta = {"recording": str(path), "n_clips": n, "usable_clips": int(out["usable"].sum()),
            "occluded_clips": occluded,
            "duration_s": reader.info.duration_s, "fps": reader.info.fps,
            "width": reader.info.width, "height": reader.info.height,
            "face_source": source.description, "settings": asdict(settings),
            "versions": package_versions()}  # fmt: skip
    return RecordingEmbeddings(**out, meta=meta)
