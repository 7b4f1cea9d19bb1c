"""Time streaming decode of a long recording, per recording hour, against a decode-only bound.

Usage::

    .venv/bin/python bench/bench_decode.py            # 10-minute 640x480 file, 3 runs each
    .venv/bin/python bench/bench_decode.py --minutes 2 --runs 1 --methods stream,decode-only

The synthetic recording (moving gradient, a moving face-sized ellipse, sensor-like noise) is
written once with :class:`emoclip_clinic.video.VideoWriter` into the system temporary folder
and reused. Every run is a fresh subprocess, so its peak RSS is its own. Methods:

- ``stream``: :class:`ClipReader` with the default plan (every 4th frame, 32-frame clips).
- ``stream-320x240``: the same, resized while converting.
- ``decode-only``: PyAV decodes every frame, no RGB conversion: the lower bound for any
  reader that has to decode all groups of pictures.
- ``decord``: decord 0.6.0 ``next()`` + ``skip_frames`` over the same frames (the alternative).

Prints a markdown table (median of the runs) with the machine's details.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emoclip_clinic.video import ClipPlanConfig, ClipReader, EncoderSettings, VideoWriter  # noqa: E402

METHODS = ("stream", "stream-320x240", "decode-only", "decord")
WIDTH, HEIGHT, FPS = 640, 480, 25


def synthetic_frames(n: int, seed: int = 0):
    """Yield ``n`` 640x480 frames: panning gradient, moving ellipse, fixed-pattern noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : 2 * HEIGHT, 0 : 2 * WIDTH]
    background = np.stack([xx * 255 // (2 * WIDTH), yy * 255 // (2 * HEIGHT), (xx + yy) % 256], -1)
    background = background.astype(np.uint8)
    noise = rng.integers(0, 12, size=(8, HEIGHT, WIDTH, 3), dtype=np.uint8)
    fy, fx = np.mgrid[0 : HEIGHT // 2, 0 : WIDTH // 4]
    face = ((fx - WIDTH / 8) / (WIDTH / 8)) ** 2 + ((fy - HEIGHT / 4) / (HEIGHT / 4)) ** 2 < 1
    for i in range(n):
        ox, oy = int((np.sin(i / 50) + 1) * WIDTH / 2), int((np.cos(i / 70) + 1) * HEIGHT / 2)
        frame = background[oy : oy + HEIGHT, ox : ox + WIDTH] + noise[i % 8]
        left = int(WIDTH / 2 + WIDTH / 4 * np.sin(i / 30)) - WIDTH // 8
        region = frame[HEIGHT // 4 : HEIGHT // 4 + HEIGHT // 2, left : left + WIDTH // 4]
        region[face] = (200 + 40 * np.sin(i / 10), 160, 140)
        yield frame


def ensure_recording(minutes: float) -> tuple[Path, float | None]:
    """Return the synthetic file (writing it if missing) and the encoding rate if written."""
    folder = Path(tempfile.gettempdir()) / "emoclip_bench"
    folder.mkdir(exist_ok=True)
    path = folder / f"synthetic_{minutes:g}min_{WIDTH}x{HEIGHT}.mp4"
    if path.exists():
        return path, None
    n = int(minutes * 60 * FPS)
    start = time.perf_counter()
    with VideoWriter(path, FPS, WIDTH, HEIGHT, EncoderSettings()) as writer:
        for frame in synthetic_frames(n):
            writer.write(frame)
    return path, n / (time.perf_counter() - start)


def peak_rss_mb() -> float:
    """Peak RSS of this process image.

    ``getrusage().ru_maxrss`` survives ``exec`` on Linux, so a child started from a big parent
    would report the parent's peak; ``VmHWM`` belongs to the current address space only.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(method: str, path: Path) -> dict[str, float]:
    """Run one method in this process; return wall/CPU seconds, frames, peak RSS."""
    start, cpu = time.perf_counter(), time.process_time()
    frames = 0
    if method.startswith("stream"):
        size = (320, 240) if method == "stream-320x240" else None
        for _, clip, _, _ in ClipReader(path, ClipPlanConfig(), size=size):
            frames += len(clip)
    elif method == "decode-only":
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"
            for _ in container.decode(stream):
                frames += 1
    elif method == "decord":
        import decord

        reader = decord.VideoReader(str(path))
        for i in range(0, len(reader), 4):
            reader.next().asnumpy()
            frames += 1
            if min(3, len(reader) - i - 1) > 0:
                reader.skip_frames(min(3, len(reader) - i - 1))
    return {
        "wall": time.perf_counter() - start,
        "cpu": time.process_time() - cpu,
        "frames": frames,
        "rss_mb": peak_rss_mb(),
    }


def run_once(method: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", method, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine_info() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    import av
    import decord

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu}, {cores} cores, load average {os.getloadavg()[0]:.2f}; Python "
        f"{platform.python_version()}, PyAV {av.__version__} (libavcodec "
        f"{'.'.join(map(str, av.library_versions['libavcodec']))}), decord {decord.__version__},"
        f" numpy {np.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]))))
        return
    path, encode_fps = ensure_recording(args.minutes)
    hours = args.minutes / 60
    print(
        f"Recording: {path} ({args.minutes:g} min, {WIDTH}x{HEIGHT}, {FPS} fps, "
        f"{path.stat().st_size / 1e6:.0f} MB)"
    )
    if encode_fps:
        print(f"Written at {encode_fps:.0f} frames/s (ultrafast, crf 23, 1 thread, incl. drawing)")
    print(f"Machine: {machine_info()}\n")
    print("| method | frames out | wall s (median) | s per recording hour | CPU s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        runs = [run_once(method, path) for _ in range(args.runs)]
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        print(
            f"| {method} | {int(runs[0]['frames'])} | {wall:.1f} | {wall / hours:.0f} | "
            f"{cpu:.1f} | {rss:.0f} |"
        )
    print(f"\nLoad average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
