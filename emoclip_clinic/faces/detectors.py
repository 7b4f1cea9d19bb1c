"""Face detectors behind one interface (:class:`emoclip_clinic.faces.tracking.FaceDetector`)."""

from __future__ import annotations

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.faces.tracking import FaceDetector

DETECTORS: dict[str, str] = {}  # name -> one-line description, filled as detectors are added


def make_detector(name: str) -> FaceDetector:
    """Build a detector by name.

    Raises:
        ConfigError: unknown name.
    """
    raise ConfigError(
        f"unknown face detector {name!r}; use face-track files (--faces tracks) "
        f"(known detectors: {', '.join(DETECTORS) or 'none yet'})"
    )
