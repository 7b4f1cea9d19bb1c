"""The scoring jobs behind ``embed``, ``loocv``, ``train-head`` and ``score``.

Each function is one command's work: it takes paths and settings, writes its outputs
atomically, and returns what the command prints.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from emoclip_clinic.errors import ConfigError, DataError, EmoClipError
from emoclip_clinic.faces.tracking import (
    DetectorTracker,
    FaceSource,
    TrackerSettings,
    TrackFile,
    WholeFrame,
)
from emoclip_clinic.faces.tracks import read_face_tracks
from emoclip_clinic.models.checkpoints import load_checkpoint
from emoclip_clinic.models.emoclip import EmoCLIP
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.scoring.cache import (
    EmbeddingCache,
    RecordingEmbeddings,
    cache_key,
    content_hash,
)
from emoclip_clinic.scoring.embed import EmbedSettings, embed_recording
from emoclip_clinic.train.evaluate import inference_precision

logger = logging.getLogger(__name__)
FACE_MODES = ("auto", "tracks", "detector", "whole-frame")


@dataclass(frozen=True)
class FaceOptions:
    """Where the patient's face comes from."""

    mode: str = "auto"  # "tracks", "detector", "whole-frame", or "auto" (tracks if present)
    tracks_dir: Path | None = None  # folder of <recording stem>.csv face-track files
    detector: str = "builtin"  # detector name for mode "detector"

    def __post_init__(self) -> None:
        if self.mode not in FACE_MODES:
            raise ConfigError(
                f"face mode must be one of {', '.join(FACE_MODES)}, got {self.mode!r}"
            )

    def track_file(self, recording: Path) -> Path | None:
        """The face-track file of a recording, if there is one."""
        folder = self.tracks_dir or recording.parent.parent / "tracks"
        path = folder / f"{recording.stem}.csv"
        return path if path.is_file() else None

    def check_track_files(self, recordings: Iterable[Path]) -> None:
        """Refuse two recordings that would take the same track file.

        Track files are found by the recording's file name, so ``site1/p01.mp4`` and
        ``site2/p01.mp4`` share ``tracks/p01.csv``, and one of them would be cropped with the
        other's face boxes.

        Raises:
            ConfigError: two distinct recordings resolve to one track file.
        """
        if self.mode in ("whole-frame", "detector"):
            return
        seen: dict[Path, Path] = {}
        for recording in recordings:
            recording = Path(recording)
            track = self.track_file(recording)
            if track is None:
                continue
            track = track.resolve()
            other = seen.setdefault(track, recording)
            if other.resolve() != recording.resolve():
                raise ConfigError(
                    f"{other} and {recording} would both be cropped with the face tracks in "
                    f"{track} (track files are named after the recording's file name); give "
                    f"one recording another file name, or leave out --tracks and keep each "
                    f"site's track files in a tracks/ folder beside its recordings' folder"
                )

    def _track_for(self, recording: Path) -> Path | None:
        """The track file to use, or None for a detector or the whole frame.

        Raises:
            DataError: mode "tracks" and the recording has no track file.
        """
        if self.mode in ("whole-frame", "detector"):
            return None
        track = self.track_file(recording)
        if self.mode == "tracks" and track is None:
            raise DataError(f"{recording}: no face-track file {recording.stem}.csv")
        return track

    def source_for(self, recording: Path) -> FaceSource:
        """A fresh face source for one recording.

        Raises:
            DataError: mode "tracks" and the recording has no track file.
        """
        if self.mode == "whole-frame":
            return WholeFrame()
        track = self._track_for(recording)
        if track is not None:
            return TrackFile(read_face_tracks(track), name=track.name)
        from emoclip_clinic.faces.detectors import make_detector

        return DetectorTracker(make_detector(self.detector), TrackerSettings())

    def source_key(self, recording: Path, memo_dir: Path | None = None) -> str:
        """What identifies the recording's face source in cache keys; builds no source.

        A track file enters with the SHA-256 of its content, so embeddings made from a file
        that was corrected later are not taken for the corrected file's.

        Raises:
            DataError: mode "tracks" and the recording has no track file.
            ConfigError: unknown detector name.
        """
        if self.mode == "whole-frame":
            return WholeFrame.description
        track = self._track_for(recording)
        if track is not None:
            return f"track-file:{track.name}:sha256:{content_hash(track, memo_dir)}"
        from emoclip_clinic.faces.detectors import detector_name

        tracker = TrackerSettings()  # every setting: a changed default is another entry
        return (f"{DetectorTracker.describe(detector_name(self.detector), tracker)}:"
                f"{json.dumps(asdict(tracker), sort_keys=True)}")  # fmt: skip


@dataclass
class Encoder:
    """A frozen EmoCLIP video encoder and its identity."""

    model: EmoCLIP
    config_name: str  # model config name
    weights_sha256: str  # identifies the exact weights
    checkpoint: str  # where it was loaded from


def load_encoder(checkpoint: str | Path, device: str = "cpu") -> Encoder:
    """Load a checkpoint folder as a frozen encoder."""
    model, info = load_checkpoint(checkpoint, device)
    model.requires_grad_(False)
    return Encoder(model, info.config.name, info.weights_sha256, str(checkpoint))


def _cache_entry(path, encoder, settings, faces, cache) -> tuple[str, dict[str, Any]]:
    """The cache key of a recording and the parts that define it; builds no face source.

    Checks the file first.
    """
    if not path.is_file():
        raise DataError(f"recording not found: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    parts = {"recording_sha256": content_hash(path, cache.folder),
             "encoder_sha256": encoder.weights_sha256, "settings": settings.key_parts(),
             "face_source": faces.source_key(path, cache.folder)}  # fmt: skip
    precision = inference_precision(next(encoder.model.parameters()).device)
    if precision != "fp32":  # bf16 on a GPU: not the CPU's entry (fp32 keys stay as they were)
        parts["precision"] = precision
    return cache_key(parts), parts


def _embed_fresh(path, encoder, settings, faces, cache, key, parts, progress):
    entry = embed_recording(path, encoder.model, faces.source_for(path), settings, progress)
    entry.meta |= {"cache_key": key, "key_parts": parts, "encoder": encoder.config_name}
    cache.put(key, entry)
    return entry


def _embed_one(path, encoder, settings, faces, cache, progress) -> RecordingEmbeddings:
    key, parts = _cache_entry(path, encoder, settings, faces, cache)
    cached = cache.get(key)
    if cached is not None:
        return cached
    return _embed_fresh(path, encoder, settings, faces, cache, key, parts, progress)


def embed_cohort(
    recordings: dict[str, Path],
    encoder: Encoder,
    settings: EmbedSettings,
    faces: FaceOptions,
    cache_dir: Path,
    progress: ProgressHook = NO_PROGRESS,
    workers: int = 1,
) -> tuple[dict[str, RecordingEmbeddings], dict[str, str]]:
    """Embed (or take from the cache) every recording; a bad recording is reported, not fatal.

    With ``workers`` > 1, recordings that are not cached yet are embedded that many at a time,
    each in its own process with its own copy of the encoder (loaded from
    ``encoder.checkpoint`` onto the encoder's device): decoding and cropping, which bound the
    speed on a GPU, then run on as many cores, and the processes share the GPU. Results and
    cache entries are the same as with one process.

    Returns:
        Embeddings by interview id, and the reason for every recording that failed.

    Raises:
        ConfigError: two recordings would take the same face-track file.
    """
    faces.check_track_files(recordings.values())
    cache = EmbeddingCache(cache_dir)
    done, failed, todo = {}, {}, {}
    progress.start("recordings", total=len(recordings), unit="recording")
    for interview, path in recordings.items():
        path = Path(path)
        try:
            if workers <= 1:
                done[interview] = _embed_one(path, encoder, settings, faces, cache, progress)
            else:
                key, parts = _cache_entry(path, encoder, settings, faces, cache)
                cached = cache.get(key)
                if cached is None:
                    todo[interview] = (path, key, parts)
                    continue
                done[interview] = cached
        except DataError as err:
            logger.warning("%s: %s", interview, err)
            failed[interview] = str(err)
        progress.advance("recordings")
    if todo:
        _embed_parallel(todo, encoder, settings, faces, cache, workers, done, failed, progress)
    progress.end("recordings")
    done = {k: done[k] for k in recordings if k in done}  # the caller's order
    return done, failed


# One encoder per worker process, loaded once by the pool's initializer.
_WORKER: dict[str, Any] = {}


def _init_worker(checkpoint: str, device: str, sha256: str, threads: int) -> None:
    # An exception here would only break the pool ("a process terminated abruptly"), hiding
    # the cause; the error is kept and handed back with the first job instead.
    import torch

    torch.set_num_threads(threads)
    try:
        encoder = load_encoder(checkpoint, device)
        if encoder.weights_sha256 != sha256:
            raise ConfigError(f"{checkpoint}: the weights changed while embedding (their "
                              f"SHA-256 is not the one the run started with)")  # fmt: skip
    except EmoClipError as err:
        _WORKER["error"] = err
        return
    _WORKER["encoder"] = encoder


def _worker_embed(path, settings, faces, cache_dir, key, parts
                  ) -> RecordingEmbeddings | str | EmoClipError:  # fmt: skip
    if "error" in _WORKER:
        return _WORKER["error"]
    try:
        return _embed_fresh(path, _WORKER["encoder"], settings, faces, EmbeddingCache(cache_dir),
                            key, parts, NO_PROGRESS)  # fmt: skip
    except DataError as err:
        return str(err)


def _embed_parallel(todo, encoder, settings, faces, cache, workers, done, failed, progress):
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if not Path(encoder.checkpoint).is_dir():
        raise ConfigError(f"embedding with workers needs a checkpoint folder, got "
                          f"{encoder.checkpoint!r}")  # fmt: skip
    device = str(next(encoder.model.parameters()).device)
    n = min(workers, len(todo))
    threads = max(1, (os.cpu_count() or 1) // n)
    # spawn: safe with CUDA and with the threads of the parent's libraries.
    context = multiprocessing.get_context("spawn")
    init = (encoder.checkpoint, device, encoder.weights_sha256, threads)
    with ProcessPoolExecutor(n, mp_context=context, initializer=_init_worker,
                             initargs=init) as pool:  # fmt: skip
        futures = {pool.submit(_worker_embed, path, settings, faces, cache.folder, key, parts):
                   interview for interview, (path, key, parts) in todo.items()}  # fmt: skip
        for future in as_completed(futures):
            interview, result = futures[future], future.result()
            if isinstance(result, EmoClipError):  # the worker could not load the encoder
                pool.shutdown(cancel_futures=True)
                raise result
            if isinstance(result, str):
                logger.warning("%s: %s", interview, result)
                failed[interview] = result
            else:
                done[interview] = result
            progress.advance("recordings")


def settings_record(settings: EmbedSettings, faces: FaceOptions) -> dict[str, Any]:
    """JSON form of embedding and face settings."""
    return {"embed": asdict(settings), "faces": {k: str(v) for k, v in asdict(faces).items()}}


def elapsed(start: float) -> float:
    """Seconds since ``start`` (a ``time.perf_counter`` value), rounded."""
    return round(time.perf_counter() - start, 3)


def read_ceiling(labels_path: Path, scale_name: str) -> dict[str, float]:
    """Oracle PCC per item (and total) that the synthetic world writes beside its labels.

    Real cohorts have no such file; the result is then empty.
    """
    path = labels_path.parent / "ceiling.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    values = data.get("by_scale", {}).get(scale_name, data.get("pcc", {}))
    return {str(k): float(v) for k, v in values.items() if isinstance(v, int | float)}
