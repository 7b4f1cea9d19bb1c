"""A toy interview cohort for scoring tests: short videos whose motion falls with severity."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoclip_clinic.video import write_video

PANSS_ITEMS = [f"N{i}" for i in range(1, 8)]


def _recording(severity: float, rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    amplitude = size / 3 * (1.0 - severity)  # blunted patients move less
    out = np.empty((frames, size, size, 3), np.uint8)
    phase = rng.uniform(0, 2 * np.pi)
    for t in range(frames):
        x = size / 2 + amplitude * np.sin(phase + t / 3)
        disc = (xx - x) ** 2 + (yy - size / 2) ** 2 < (size / 5) ** 2
        out[t] = 40
        out[t][disc] = (200, 160, 120)
    return out


def make_toy_cohort(
    root: Path, patients: int = 8, frames: int = 48, size: int = 48, seed: int = 0
) -> Path:
    """Write recordings/, tracks/ and labels.csv (PANSS negative) under ``root``."""
    rng = np.random.default_rng(seed)
    (root / "recordings").mkdir(parents=True)
    (root / "tracks").mkdir()
    rows = []
    for p in range(patients):
        severity = rng.uniform(0, 1)
        for k in range(1 + p % 2):
            interview = f"P{p:02d}_I{k}"
            path = root / "recordings" / f"{interview}.mp4"
            write_video(path, _recording(severity, rng, frames, size), fps=10)
            track = ["frame,face_id,timestamp,confidence,success,face_x,face_y,face_w,face_h,role"]
            track += [f"{t + 1},0,{t / 10:.2f},0.99,1,4,4,{size - 8},{size - 8},patient"
                      for t in range(frames)]  # fmt: skip
            (root / "tracks" / f"{interview}.csv").write_text("\n".join(track) + "\n")
            items = np.clip(np.round(1 + 6 * severity + rng.normal(0, 0.5, 7)), 1, 7).astype(int)
            rows.append([f"P{p:02d}", interview, f"recordings/{interview}.mp4", *items])
    header = "patient_id,interview_id,recording," + ",".join(PANSS_ITEMS)
    lines = [header] + [",".join(map(str, r)) for r in rows]
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root
