"""Face boxes and face crops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned face box in pixels of the full frame."""

    x: float  # left edge
    y: float  # top edge
    w: float  # width
    h: float  # height
    confidence: float = 1.0  # detector score (1.0 for boxes from a file that has none)

    @property
    def center(self) -> tuple[float, float]:
        """Centre of the box."""
        return self.x + self.w / 2, self.y + self.h / 2

    @property
    def area(self) -> float:
        """Area in square pixels."""
        return max(self.w, 0.0) * max(self.h, 0.0)

    def iou(self, other: FaceBox) -> float:
        """Intersection over union with ``other``."""
        left, top = max(self.x, other.x), max(self.y, other.y)
        right = min(self.x + self.w, other.x + other.w)
        bottom = min(self.y + self.h, other.y + other.h)
        inter = max(0.0, right - left) * max(0.0, bottom - top)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


def square_crop(frame: np.ndarray, box: FaceBox, margin: float, size: int) -> np.ndarray:
    """Crop a square around the face with a margin and resize it to ``size`` x ``size``.

    Args:
        frame: (H, W, 3) uint8 image.
        box: the face.
        margin: side of the square as a multiple of the larger box side (e.g. 1.3).
        size: output side in pixels.

    Returns:
        (size, size, 3) uint8; parts of the square outside the frame are black.
    """
    cx, cy = box.center
    side = max(box.w, box.h) * margin
    left, top = round(cx - side / 2), round(cy - side / 2)
    side = max(1, round(side))
    image = Image.fromarray(frame).crop((left, top, left + side, top + side))
    return np.asarray(image.resize((size, size), Image.BILINEAR))
