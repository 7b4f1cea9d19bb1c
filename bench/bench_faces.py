"""The built-in face detector on the real media of shared/data/real: faces found and ms/frame.

Run from the repository root: ``.venv/bin/python bench/bench_faces.py [--shared ../shared]``.
Photos are scaled to at most 640 px; the video frames are used as stored (640x360). Prints a
markdown table with the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from emoclip_clinic.faces.detectors import make_detector
from emoclip_clinic.video import probe_video, read_frames


def main() -> None:
    """Detect faces in every photo and in every 4th frame of each video."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared")
    args = parser.parse_args()
    real = args.shared / "data" / "real"
    detector = make_detector("builtin")
    times, rows = [], []
    for path in sorted((real / "images").iterdir()):
        image = Image.open(path).convert("RGB")
        image.thumbnail((640, 640))
        start = time.perf_counter()
        faces = detector.detect(np.asarray(image))
        times.append(time.perf_counter() - start)
        rows.append((path.name, f"{len(faces)} faces"))
    for path in sorted((real / "videos").iterdir()):
        info = probe_video(path)
        frames = read_frames(info, np.arange(0, info.n_frames, 4))
        found = 0
        for frame in frames:
            start = time.perf_counter()
            found += bool(detector.detect(frame))
            times.append(time.perf_counter() - start)
        rows.append((path.name, f"face in {found} of {len(frames)} frames"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; CenterFace at 320 px, 1 thread")  # fmt: skip
    print("| input | result |\n|---|---|")
    for name, result in rows:
        print(f"| {name} | {result} |")
    print(f"\nmedian {1000 * statistics.median(times):.0f} ms per image or frame")


if __name__ == "__main__":
    main()
