"""Where the patient's face is in each frame: from a track file, a detector, or the whole frame.

A :class:`FaceSource` answers, for a clip's frames, the patient's box in each (or None). With a
detector, the patient is kept by continuity: each new detection set is matched to the last
patient box (IoU, then centre distance relative to face size), so a second face (the
interviewer) entering the frame does not take over; if the patient is lost for longer than
``reacquire_after`` detections, the largest face is taken again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from emoclip_clinic.faces.boxes import FaceBox
from emoclip_clinic.faces.tracks import FaceTracks


class FaceDetector(Protocol):
    """Finds faces in one RGB frame."""

    name: str  # identifies the detector in cache keys and outputs

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """Return the faces in a (H, W, 3) uint8 RGB frame."""


class FaceSource(Protocol):
    """Gives the patient's box in given frames of one recording."""

    description: str  # identifies the source in cache keys and outputs

    def boxes(self, frame_indices: Sequence[int], frames: np.ndarray) -> list[FaceBox | None]:
        """Boxes of the patient in ``frames`` (decoded frames with those indices)."""


class WholeFrame:
    """Inputs already cropped to the face (MAFW/DFEW style): the face is the whole frame."""

    description = "whole-frame"

    def boxes(self, frame_indices: Sequence[int], frames: np.ndarray) -> list[FaceBox | None]:
        """The full frame for every frame."""
        height, width = frames.shape[1:3]
        return [FaceBox(0, 0, width, height) for _ in frame_indices]


class TrackFile:
    """Boxes from a face-track file (OpenFace-style CSV); absent rows mean no face."""

    def __init__(self, tracks: FaceTracks, face_id: int | None = None, name: str = "") -> None:
        if face_id is None:  # a file without any tracked face means: no face in the recording
            face_id = tracks.patient_id() if tracks.boxes else 0
        self.face_id = face_id
        self._boxes = tracks.boxes.get(self.face_id, {})
        self.description = f"track-file:{name}:face{self.face_id}"

    def boxes(self, frame_indices: Sequence[int], frames: np.ndarray) -> list[FaceBox | None]:
        """Look the boxes up by frame index."""
        return [self._boxes.get(int(i)) for i in frame_indices]


@dataclass
class TrackerSettings:
    """How detections are linked into the patient's track."""

    detect_every: int = 2  # run the detector on every n-th sampled frame; others reuse the box
    min_confidence: float = 0.5  # ignore weaker detections
    min_iou: float = 0.2  # a detection overlapping the last box this much is the patient
    max_shift: float = 0.6  # ...or one whose centre moved less than this x face size
    reacquire_after: int = 8  # detections without the patient before the largest face is taken


class DetectorTracker:
    """Detect faces and follow the patient (see the module docstring)."""

    def __init__(self, detector: FaceDetector, settings: TrackerSettings | None = None) -> None:
        self.detector = detector
        self.settings = settings or TrackerSettings()
        self.description = self.describe(detector.name, self.settings)
        self._last: FaceBox | None = None  # the patient's last detected box
        self._held: FaceBox | None = None  # the box of the latest detection frame (None: missed)
        self._seen: dict[int, FaceBox | None] = {}  # answers for frames of the current clip span
        self._misses = 0
        self._count = 0

    @staticmethod
    def describe(detector_name: str, settings: TrackerSettings) -> str:
        """The description of a tracker around the detector of that name, without one."""
        return f"detector:{detector_name}:every{settings.detect_every}"

    def _match(self, faces: list[FaceBox]) -> FaceBox | None:
        s = self.settings
        faces = [f for f in faces if f.confidence >= s.min_confidence]
        if not faces:
            return None
        if self._last is None or self._misses >= s.reacquire_after:
            return max(faces, key=lambda f: f.area)
        last = self._last
        best = max(faces, key=lambda f: f.iou(last))
        if best.iou(last) >= s.min_iou:
            return best
        size = max(last.w, last.h)
        near = min(faces, key=lambda f: np.hypot(f.center[0] - last.center[0],
                                                  f.center[1] - last.center[1]))  # fmt: skip
        shift = np.hypot(near.center[0] - last.center[0], near.center[1] - last.center[1])
        return near if shift <= s.max_shift * size else None

    def boxes(self, frame_indices: Sequence[int], frames: np.ndarray) -> list[FaceBox | None]:
        """Detect on every ``detect_every``-th new frame, hold the box in between.

        Clips come in recording order. A frame seen before (clips that overlap, or a short
        clip's looped frames) gets the answer it got then, without detecting again.
        """
        out: list[FaceBox | None] = []
        indices = [int(i) for i in frame_indices]
        for index, frame in zip(indices, frames, strict=True):
            if index not in self._seen:  # the count runs on across calls, as does the held box
                if self._count % self.settings.detect_every == 0:
                    found = self._match(self.detector.detect(frame))
                    if found is None:
                        self._misses += 1
                        self._held = None
                    else:
                        self._misses, self._last, self._held = 0, found, found
                self._count += 1
                self._seen[index] = self._held
            out.append(self._seen[index])
        first = min(indices, default=0)  # later clips start here or later: older answers
        self._seen = {i: box for i, box in self._seen.items() if i >= first}  # are not needed
        return out
