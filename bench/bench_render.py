"""Benchmark the synthetic face renderer: median time per frame at 112x112 and 640x480.

Run from the repository root::

    .venv/bin/python bench/bench_render.py [--frames 300] [--encode-seconds 20]

Each style renders a moving, expressive face (a simulated track: expressions, blinks, speech,
head motion, gaze) for several identities; the median wall time per frame is reported with the
machine description. ``--encode-seconds`` also writes that many seconds of the 640x480
interview style through the project's H.264 writer and reports the real-time factor
(recording seconds per wall second; above 1 means faster than real time).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL

from emoclip_clinic.synth import (
    FaceRenderer,
    Identity,
    get_style,
    sample_episodes,
    simulate_face_track,
)


def machine_description() -> str:
    """CPU model, core count, Python, numpy and Pillow versions."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    # A fixed pure-Python loop, to compare machines: roughly 30-60 ms on a recent desktop core.
    start, total = time.perf_counter(), 0
    for i in range(1_000_000):
        total += i
    reference = 1000 * (time.perf_counter() - start)
    return (
        f"{model}, {os.cpu_count()} logical cores, load average {load:.2f}, "
        f"reference loop {reference:.0f} ms; Python {platform.python_version()}, "
        f"numpy {np.__version__}, Pillow {PIL.__version__}"
    )


def time_style(style: str, frames: int, identities: int = 4) -> tuple[float, float, float]:
    """Median wall, 90th-percentile wall and median CPU milliseconds per frame of one style.

    CPU time (this process only) is the steadier figure on a shared machine.
    """
    times, cpu = [], []
    per_identity = max(1, frames // identities)
    for seed in range(identities):
        rng = np.random.default_rng(seed)
        renderer = FaceRenderer(Identity.sample(rng), style)
        episodes = sample_episodes(rng, per_identity / 25, ["happiness", "surprise", "anger"], 30)
        speaking = np.ones(per_identity, bool)
        track = simulate_face_track(rng, per_identity, episodes, speaking)
        renderer.render()  # warm the caches (background, body layer)
        for index in range(per_identity):
            aus, pose, gaze = track.frame(index)
            start, start_cpu = time.perf_counter(), time.process_time()
            renderer.render(aus, pose, gaze, noise_seed=index)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    wall = 1000 * np.asarray(times)
    return float(np.median(wall)), float(np.percentile(wall, 90)), 1000 * float(np.median(cpu))


def time_encode(seconds: float) -> float:
    """Recording seconds written per wall second: interview style rendered and H.264-encoded."""
    from emoclip_clinic.video.writer import VideoWriter

    style = get_style("interview")
    n_frames = int(seconds * 25)
    rng = np.random.default_rng(0)
    renderer = FaceRenderer(Identity.sample(rng), style)
    episodes = sample_episodes(rng, seconds, ["happiness", "sadness"], 6)
    track = simulate_face_track(rng, n_frames, episodes, np.ones(n_frames, bool))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        with VideoWriter(Path(folder) / "bench.mp4", 25, style.width, style.height) as writer:
            for index in range(n_frames):
                writer.write(renderer.render(*track.frame(index)))
        elapsed = time.perf_counter() - start
    return seconds / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per style")
    parser.add_argument("--encode-seconds", type=float, default=20.0, help="0 to skip")
    args = parser.parse_args()
    print(machine_description())
    for style in ("plain", "mafw", "dfew", "interview"):
        s = get_style(style)
        median, p90, cpu = time_style(style, args.frames)
        print(
            f"{style:10s} {s.width}x{s.height}: median {median:.2f} ms/frame wall "
            f"(p90 {p90:.2f}), median {cpu:.2f} ms CPU"
        )
    if args.encode_seconds > 0:
        factor = time_encode(args.encode_seconds)
        print(f"interview 640x480 render + H.264 encode: {factor:.2f}x real time")


if __name__ == "__main__":
    main()
