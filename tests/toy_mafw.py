"""A toy data set in the MAFW layout for pretraining tests: moving coloured discs.

Each clip shows a disc of one colour moving in one direction; its caption says which. A model
that learns anything can match captions to clips, and the files exercise the real reader
(GBK-encoded tab-separated annotations, video clips and frame folders, identities).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from emoclip_clinic.video import write_video

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 80, 230),
    "yellow": (230, 210, 40),
}
MOTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
LABELS = ["anger", "happiness", "sadness", "surprise"]  # one per motion, arbitrary


def _clip(colour: str, motion: str, rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    dx, dy = MOTIONS[motion]
    x0, y0 = size / 2 - dx * size / 4, size / 2 - dy * size / 4
    out = np.empty((frames, size, size, 3), np.uint8)
    background = rng.integers(0, 60, 3)
    for t in range(frames):
        x = x0 + dx * size / 2 * t / (frames - 1)
        y = y0 + dy * size / 2 * t / (frames - 1)
        disc = (xx - x) ** 2 + (yy - y) ** 2 < (size / 6) ** 2
        out[t] = background
        out[t][disc] = COLOURS[colour]
    return out


def make_toy_mafw(
    root: Path,
    clips: int = 64,
    frames: int = 24,
    size: int = 32,
    seed: int = 0,
    frame_folders: int = 2,
) -> Path:
    """Write ``clips`` clips with captions in five identity-disjoint folds under ``root``."""
    rng = np.random.default_rng(seed)
    rows, identities = [], []
    for i in range(clips):
        colour, motion = list(COLOURS)[i % 4], list(MOTIONS)[(i // 4) % 4]
        name = f"{i:05d}"
        video = _clip(colour, motion, rng, frames, size)
        if i < frame_folders:  # a few clips as folders of frames, as real MAFW ships them
            folder = root / "data" / "faces" / name
            folder.mkdir(parents=True)
            for t, frame in enumerate(video):
                Image.fromarray(frame).save(folder / f"{t + 1:03d}.png")
        else:
            (root / "data" / "clips").mkdir(parents=True, exist_ok=True)
            write_video(root / "data" / "clips" / f"{name}.mp4", video, fps=25)
        caption = f"a {colour} dot moves {motion}"
        rows.append((f"{name}.mp4", LABELS[(i // 4) % 4], "中文描述", caption))
        identities.append(f"{name}\tperson{i % 10}")
    (root / "identities.txt").write_text("\n".join(identities) + "\n", encoding="utf-8")
    for fold in range(1, 6):
        test_people = {f"person{2 * (fold - 1)}", f"person{2 * (fold - 1) + 1}"}
        folder = root / "Train & Test Set" / "single" / "with_caption" / f"set_{fold}"
        folder.mkdir(parents=True)
        for split in ("train", "test"):
            lines = [
                "\t".join(row)
                for row, ident in zip(rows, identities, strict=True)
                if (ident.split("\t")[1] in test_people) == (split == "test")
            ]
            (folder / f"{split}.txt").write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    return root
