"""Is the patient's lower face covered, say by a hand at the mouth? A per-frame flag.

A face detector keeps finding a face under a hand, so the flag comes from appearance instead.
Each sampled frame with a face box is described by three small grey patches (16 x 16, 768 bytes
in all), scaled by the frame's brightness: the lower face (mouth and chin), the area below the
chin relative to the face box, and the same area at a fixed place in the picture (below the
patient's face in the first clip). At the end of the recording each patch is compared with the
recording's own median patch, and the mean absolute difference is divided by its usual amount
(a low quantile over the recording).

A frame scores as occluded when all three deviate: a hand or forearm covering the lower face
reaches in from below, so it changes the lower face and the area under the chin wherever that
area is measured. Laughing changes the mouth but not the area under the chin. A head that tilts
or nods changes the area under the chin relative to the face box (more or less neck shows) but
not the fixed area in the picture, where the body stays; a patient who moves the whole body
changes the fixed area but not the one relative to the face. Requiring both is the pose rule.
Only runs of such frames lasting a second or more count. The measurements behind the rule and
its thresholds, and its limits, are in docs/faces.md and bench/bench_occlusion.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from emoclip_clinic.faces.boxes import FaceBox

PATCH = 16  # side of each grey patch, pixels
# Regions as (left, right, top, bottom) in units of a face box: (0, 0) is its top-left corner,
# (1, 1) its bottom-right one. Parts outside the picture repeat its edge pixels.
LOWER_FACE = (0.1, 0.9, 0.6, 1.0)  # mouth and chin
BELOW_CHIN = (-0.3, 1.3, 1.0, 1.5)  # neck, collar, hair and background under the chin
PARTS = ("lower_face", "below_chin", "below_chin_fixed")  # descriptor layout, PATCH**2 each
DESCRIPTOR_SIZE = len(PARTS) * PATCH * PATCH
_CHUNK = 4096  # frames per step when comparing with the template (bounds the float copy)


@dataclass(frozen=True)
class OcclusionSettings:
    """When a frame counts as occluded (part of the embedding cache key)."""

    below_ratio: float = 2.0  # the area under the chin deviates >= this x usual, in both places
    lower_ratio: float = 1.25  # ...and the lower face >= this x its usual deviation
    usual_quantile: float = 0.25  # "usual" deviation: this quantile over the recording's frames
    min_usual: float = 4.0  # floor of the usual deviation, grey levels (0-255): camera noise
    min_seconds: float = 1.0  # shorter runs of frames scoring >= 1 do not count


def _axis(low: int, high: int, size: int) -> tuple[slice, tuple[int, int]]:
    """The in-picture slice of [low, high) along an axis of ``size`` and the edge padding."""
    start = min(max(low, 0), size - 1)
    stop = max(min(high, size), start + 1)
    before, after = max(0, min(high, 0) - low), max(0, high - max(low, size))
    if stop - start + before + after > high - low:  # all outside: the slice is the edge pixel
        before, after = (before, after - 1) if low >= size else (before - 1, after)
    return slice(start, stop), (before, after)


def _grey_window(frame: np.ndarray, left: int, top: int, right: int, bottom: int) -> Image.Image:
    """Grey pixels of ``frame`` in [left, right) x [top, bottom), edge pixels repeated outside."""
    rows, pad_rows = _axis(top, bottom, frame.shape[0])
    cols, pad_cols = _axis(left, right, frame.shape[1])
    grey = np.asarray(Image.fromarray(np.ascontiguousarray(frame[rows, cols])).convert("L"))
    if pad_rows == (0, 0) and pad_cols == (0, 0):
        return Image.fromarray(grey)
    return Image.fromarray(np.pad(grey, (pad_rows, pad_cols), mode="edge"))


def region_patch(
    frame: np.ndarray, box: FaceBox, region: tuple[float, float, float, float]
) -> np.ndarray:
    """A ``PATCH`` x ``PATCH`` uint8 grey patch of ``region`` (in box units) of an RGB frame."""
    w, h = max(box.w, 1.0), max(box.h, 1.0)
    x0, x1 = box.x + region[0] * w, box.x + region[1] * w
    y0, y1 = box.y + region[2] * h, box.y + region[3] * h
    left, top = int(np.floor(x0)), int(np.floor(y0))
    window = _grey_window(frame, left, top, int(np.ceil(x1)) + 1, int(np.ceil(y1)) + 1)
    crop = (x0 - left, y0 - top, x1 - left, y1 - top)
    return np.asarray(window.resize((PATCH, PATCH), Image.BILINEAR, box=crop), np.uint8)


def frame_brightness(frame: np.ndarray) -> float:
    """Mean grey level of an RGB frame (every 8th pixel each way)."""
    sample = frame[::8, ::8].reshape(-1, 3).astype(np.float32)
    return float(sample.mean(axis=0) @ np.array([0.299, 0.587, 0.114], np.float32))


class RegionDescriber:
    """Describes the frames of one recording, in order (it remembers the fixed place).

    The fixed place below the chin is taken below the median face box of the first clip that
    has a face, and kept for the whole recording. Patches are scaled by the frame's brightness
    relative to that clip's, so that a change of exposure or light (which changes all three
    patches) is not taken for a hand: measured on the GRID talking heads, 15% darker frames
    were all flagged without this scaling and none with it.
    """

    def __init__(self) -> None:
        self.anchor: FaceBox | None = None
        self.brightness: float | None = None  # median brightness of the anchor clip's frames

    def describe(self, frames: np.ndarray, boxes: Sequence[FaceBox | None]) -> np.ndarray:
        """(n, DESCRIPTOR_SIZE) uint8 descriptors of the frames that have a box, in order."""
        found = [(frame, box) for frame, box in zip(frames, boxes, strict=True) if box is not None]
        if not found:
            return np.zeros((0, DESCRIPTOR_SIZE), np.uint8)
        brightness = np.array([frame_brightness(frame) for frame, _ in found])
        if self.anchor is None:
            xywh = np.median([(b.x, b.y, b.w, b.h) for _, b in found], axis=0)
            self.anchor = FaceBox(*(float(v) for v in xywh))
            self.brightness = float(np.median(brightness))
        rows = np.stack([np.concatenate([region_patch(frame, box, LOWER_FACE).ravel(),
                                         region_patch(frame, box, BELOW_CHIN).ravel(),
                                         region_patch(frame, self.anchor, BELOW_CHIN).ravel()])
                         for frame, box in found])  # fmt: skip
        gain = self.brightness / np.maximum(brightness, 1.0)
        return np.clip(rows * gain[:, None].astype(np.float32) + 0.5, 0, 255).astype(np.uint8)


def _deviations(patches: np.ndarray) -> np.ndarray:
    """Mean absolute difference of each row from the per-pixel median row (grey levels)."""
    template = np.median(patches, axis=0).astype(np.float32)
    return np.concatenate([np.abs(patches[i : i + _CHUNK].astype(np.float32) - template).mean(1)
                           for i in range(0, len(patches), _CHUNK)])  # fmt: skip


def region_ratios(
    descriptors: np.ndarray, settings: OcclusionSettings = OcclusionSettings()
) -> dict[str, np.ndarray]:
    """Per frame and part, its deviation from the recording's median patch over the usual one.

    The usual deviation is a low quantile rather than the median: an occlusion only ever adds
    deviation, and on the one real recording with a hand at the face the hand and a head tilt
    took 45% of the frames, which pulled the median and MAD of the deviations up to the
    occluded level.

    Args:
        descriptors: (n, DESCRIPTOR_SIZE) uint8 from :class:`RegionDescriber`, all the frames
            of one recording (each frame once).
        settings: the quantile and floor of the usual deviation.

    Returns:
        Part name -> (n,) ratios (1 = usual).
    """
    size = PATCH * PATCH
    out = {}
    for k, part in enumerate(PARTS):
        deviation = _deviations(descriptors[:, k * size : (k + 1) * size])
        usual = max(float(np.quantile(deviation, settings.usual_quantile)), settings.min_usual)
        out[part] = deviation / usual
    return out


def occlusion_scores(
    descriptors: np.ndarray, settings: OcclusionSettings = OcclusionSettings()
) -> np.ndarray:
    """Per-frame occlusion score of one recording; >= 1: the frame looks occluded.

    The score is the weakest of the three pieces of evidence, each over its threshold: the
    lower face (``lower_ratio``) and the area under the chin relative to the face and at the
    fixed place (``below_ratio``). A pose change moves only one of the two areas under the
    chin, so it stays below 1 (see the module docstring). :func:`occluded_frames` then keeps
    the frames in runs long enough to count.

    Args:
        descriptors: (n, DESCRIPTOR_SIZE) uint8, all the frames of one recording.
        settings: thresholds.

    Returns:
        (n,) float scores; empty for no frames.
    """
    if len(descriptors) == 0:
        return np.zeros(0)
    ratios = region_ratios(descriptors, settings)
    return np.minimum.reduce([ratios["lower_face"] / settings.lower_ratio,
                              ratios["below_chin"] / settings.below_ratio,
                              ratios["below_chin_fixed"] / settings.below_ratio])  # fmt: skip


def occluded_frames(scores: np.ndarray, times: np.ndarray, min_seconds: float) -> np.ndarray:
    """Frames scoring >= 1 in a run of such frames that lasts at least ``min_seconds``.

    Args:
        scores: (n,) per-frame scores in time order.
        times: (n,) their times, seconds; a run lasts from its first to its last frame plus
            one sampling step (the median step).
        min_seconds: shortest run that counts.

    Returns:
        (n,) bool: the frames that count as occluded.
    """
    flagged = scores >= 1.0
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flagged.astype(np.int8), [0]])))
    for first, stop in zip(edges[::2], edges[1::2], strict=True):
        if times[stop - 1] - times[first] + step < min_seconds - 1e-3:  # 1 ms: rounding
            flagged[first:stop] = False
    return flagged


class RecordingOcclusion:
    """One recording's frame descriptors, gathered clip by clip and scored at the end.

    A frame that several clips share (overlapping or looped clips) is described and counted
    once. Memory: DESCRIPTOR_SIZE bytes per sampled frame with a face (35 MB for 120 minutes
    at 6.25 sampled frames per second).

    Args:
        frame_times: start time of every frame of the recording, seconds.
        settings: thresholds.
    """

    def __init__(
        self, frame_times: np.ndarray, settings: OcclusionSettings = OcclusionSettings()
    ) -> None:
        self.frame_times = np.asarray(frame_times, float)
        self.settings = settings
        self._rows: list[np.ndarray] = []
        self._row_of: dict[int, int] = {}  # frame index -> row
        self._members: dict[int, list[int]] = {}  # clip -> rows of its face frames

    def add(self, clip: int, frame_indices: Sequence[int], descriptors: np.ndarray) -> None:
        """Record the descriptors of one clip's frames that have a face."""
        rows = self._members.setdefault(clip, [])
        for index, descriptor in zip(frame_indices, descriptors, strict=True):
            if index not in self._row_of:
                self._row_of[index] = len(self._rows)
                self._rows.append(descriptor)
            rows.append(self._row_of[index])

    def frames(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sorted indices of the described frames, their scores, and which count as occluded."""
        frames = np.fromiter(self._row_of, np.int64, len(self._row_of))  # in row order
        if not len(frames):
            return frames, np.zeros(0), np.zeros(0, bool)
        order = np.argsort(frames, kind="stable")
        scores = occlusion_scores(np.stack(self._rows)[order], self.settings)
        times = self.frame_times[frames[order]]
        return frames[order], scores, occluded_frames(scores, times, self.settings.min_seconds)

    def clip_fractions(self, n_clips: int) -> np.ndarray:
        """(n_clips,) share of each clip's face frames that count as occluded (0 without)."""
        out = np.zeros(n_clips)
        frames, _, occluded = self.frames()
        by_row = np.zeros(len(frames), bool)
        by_row[[self._row_of[f] for f in frames.tolist()]] = occluded
        for clip, rows in self._members.items():
            out[clip] = by_row[rows].mean() if rows else 0.0
        return out
