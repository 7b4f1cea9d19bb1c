"""Face tracks from files: OpenFace-style CSVs of per-frame faces.

Clinical groups often already have OpenFace output for their recordings. This reader takes
OpenFace 2.x ``FeatureExtraction`` CSVs (``frame``, ``face_id``, ``timestamp``,
``confidence``, ``success`` and 2-D landmarks ``x_0..x_67``, ``y_0..y_67``: the box is the
landmarks' extent) and the same layout with explicit box columns ``face_x, face_y, face_w,
face_h`` (what ``emoclip-clinic synth interviews`` writes, with a ``role`` column). Column names
may carry OpenFace's leading spaces. Frames are 1-based as OpenFace writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from emoclip_clinic.errors import DataError
from emoclip_clinic.faces.boxes import FaceBox

BOX_COLUMNS = ("face_x", "face_y", "face_w", "face_h")


@dataclass
class FaceTracks:
    """Per-frame boxes of each face id in a recording."""

    boxes: dict[int, dict[int, FaceBox]]  # face_id -> 0-based frame -> box
    roles: dict[int, str]  # face_id -> role ("patient", "interviewer") when the file says

    def patient_id(self) -> int:
        """The face id of the patient: the one marked so, else the most often seen."""
        for face_id, role in self.roles.items():
            if role == "patient":
                return face_id
        if not self.boxes:
            raise DataError("the face-track file has no successfully tracked face")
        return max(self.boxes, key=lambda k: len(self.boxes[k]))


def _box_frame(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    if all(c in table for c in BOX_COLUMNS):
        return table.rename(columns=dict(zip(BOX_COLUMNS, "xywh", strict=True)))
    xs = [c for c in table if c.startswith("x_") and c[2:].isdigit()]
    ys = [c for c in table if c.startswith("y_") and c[2:].isdigit()]
    if not xs or len(xs) != len(ys):
        raise DataError(
            f"{path}: no face boxes: expected columns {', '.join(BOX_COLUMNS)} or OpenFace "
            "landmarks x_0..x_67, y_0..y_67"
        )
    x0, y0 = table[xs].min(axis=1), table[ys].min(axis=1)
    return table.assign(x=x0, y=y0, w=table[xs].max(axis=1) - x0, h=table[ys].max(axis=1) - y0)


def _face_ids(table: pd.DataFrame) -> pd.Series:
    """Each row's face id (0 for every row of a file without the column)."""
    return table["face_id"].astype(int) if "face_id" in table else pd.Series(0, table.index)


def read_face_tracks(path: str | Path) -> FaceTracks:
    """Read an OpenFace-style CSV (see the module docstring).

    Raises:
        DataError: missing file, not a CSV, missing columns, or no usable row.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"face-track file not found: {path}")
    try:
        table = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a readable CSV ({err})") from None
    table.columns = [str(c).strip() for c in table.columns]
    if "frame" not in table:
        raise DataError(f"{path}: no 'frame' column")
    table = _box_frame(table, path)
    roles: dict[int, str] = {}  # from every row: a patient never tracked is still the patient
    if "role" in table:
        named = table[table["role"].fillna("").astype(str).str.strip() != ""]
        if "face_id" in named:
            named = named[named["face_id"].notna()]
        for face_id, role in zip(_face_ids(named), named["role"], strict=True):
            roles.setdefault(int(face_id), str(role).strip())  # a face's first role
    if "success" in table:
        table = table[table["success"].fillna(0).astype(float) > 0]
    table = table.dropna(subset=["x", "y", "w", "h"])
    face_ids = _face_ids(table)
    confidence = table["confidence"].astype(float) if "confidence" in table else 1.0
    table = table.assign(face_id=face_ids, confidence=confidence)
    boxes: dict[int, dict[int, FaceBox]] = {}
    for row in table.itertuples(index=False):
        boxes.setdefault(int(row.face_id), {})[int(row.frame) - 1] = FaceBox(
            float(row.x), float(row.y), float(row.w), float(row.h), float(row.confidence)
        )
    return FaceTracks(boxes, roles)
