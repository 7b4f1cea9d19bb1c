"""Time the synthetic world: the demo-sized data sets and a long 640x480 interview.

Run from the repository root::

    .venv/bin/python bench/bench_synth.py                  # demo once, 2-minute slice 3 times
    .venv/bin/python bench/bench_synth.py --demo-runs 3 --slice-minutes 5
    .venv/bin/python bench/bench_synth.py --full           # the whole 60-minute interview

``demo``: the three data sets of :func:`emoclip_clinic.synth.world.make_world` at
``DEMO_SIZES`` (MAFW, DFEW, interview cohort), each timed, with 2 worker processes; target:
all three under 60 s wall on 2 cores. ``interview``:
one 640x480, 25 fps interview (default scene) written by ``make_interviews`` in one process.
By default a slice of ``--slice-minutes`` is timed and its per-frame time extrapolated to 60
minutes (per-frame cost does not depend on the length: frames stream and the tracks are
precomputed); ``--full`` writes the 60 minutes. Target: faster than real time (factor > 1).
CPU seconds include the worker processes; on a shared machine, CPU / cores is the wall time an
idle machine would need. Prints a markdown table with the machine's details.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emoclip_clinic.synth.expression_sets import make_dfew, make_mafw  # noqa: E402
from emoclip_clinic.synth.interviews import InterviewConfig, make_interviews  # noqa: E402
from emoclip_clinic.synth.world import DEMO_SIZES  # noqa: E402


def machine() -> str:
    """CPU model, usable cores, load average and versions."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]  # fmt: skip
        model = names[0] if names else model
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import av
    import numpy
    import PIL

    return (f"{model}, {cores} usable cores, load average {load:.2f} at start; Python "
            f"{platform.python_version()}, numpy {numpy.__version__}, Pillow {PIL.__version__}, "
            f"PyAV {av.__version__}")  # fmt: skip


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(function) -> tuple[float, float, object]:
    """Wall and CPU seconds (with finished child processes) of one call, and its result."""
    start, cpu = time.perf_counter(), _cpu()
    result = function()
    return time.perf_counter() - start, _cpu() - cpu, result


def bench_demo(runs: int, folder: Path) -> dict[str, tuple[list[float], list[float], str]]:
    """Wall and CPU seconds of each demo data set (as ``make_world`` makes them), per run."""
    parts = {
        "MAFW": lambda out, seed: make_mafw(out, DEMO_SIZES.mafw, seed=seed, workers=2),
        "DFEW": lambda out, seed: make_dfew(out, DEMO_SIZES.dfew, seed=seed, workers=2),
        "cohort": lambda out, seed: make_interviews(out, DEMO_SIZES.interviews, seed=seed,
                                                    workers=2),
    }  # fmt: skip
    results = {}
    for name, make in parts.items():
        walls, cpus, size = [], [], ""
        for run in range(runs):
            out = folder / f"{name}{run}"
            wall, cpu, summary = timed(lambda out=out, run=run, make=make: make(out, run))
            walls.append(wall)
            cpus.append(cpu)
            count = getattr(summary, "n_clips", None) or getattr(summary, "n_interviews", 0)
            unit = "interviews" if name == "cohort" else "clips"
            size = f"{count} {unit}, {summary.n_frames} frames"
            shutil.rmtree(out)
        results[name] = (walls, cpus, size)
    return results


def bench_interview(minutes: float, runs: int, folder: Path) -> tuple[list[float], list[float]]:
    """Seconds per frame (wall, CPU) of one 640x480 25 fps interview of ``minutes``."""
    config = InterviewConfig(n_patients=1, interviews_per_patient=(1, 1), minutes=minutes)
    walls, cpus = [], []
    for run in range(runs):
        out = folder / f"interview{run}"
        wall, cpu, summary = timed(lambda out=out, run=run: make_interviews(out, config, seed=run))
        walls.append(wall / summary.n_frames)
        cpus.append(cpu / summary.n_frames)
        shutil.rmtree(out)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-runs", type=int, default=1, help="demo repetitions (0 skips)")
    parser.add_argument("--slice-minutes", type=float, default=2.0, help="interview slice")
    parser.add_argument("--interview-runs", type=int, default=3, help="slice repetitions")
    parser.add_argument("--full", action="store_true", help="write the whole 60 minutes once")
    args = parser.parse_args()
    print(
        f"Machine: {machine()}\n\nCommand: `{' '.join([Path(sys.executable).name, *sys.argv])}`\n"
    )
    print("| what | runs | wall s (median) | CPU s (median) | target | result |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.demo_runs > 0:
            parts = bench_demo(args.demo_runs, folder)
            for name, (walls, cpus, size) in parts.items():
                wall, cpu = statistics.median(walls), statistics.median(cpus)
                print(f"| demo {name} ({size}), 2 workers | {len(walls)} | {wall:.1f} "
                      f"| {cpu:.1f} | | |")  # fmt: skip
            wall = sum(statistics.median(p[0]) for p in parts.values())
            cpu = sum(statistics.median(p[1]) for p in parts.values())
            print(f"| **demo data, all three** | {args.demo_runs} | {wall:.1f} | {cpu:.1f} "
                  f"| < 60 s wall on 2 cores | {'met' if wall < 60 else 'missed'} (CPU/2 = "
                  f"{cpu / 2:.1f} s) |")  # fmt: skip
        minutes = 60.0 if args.full else args.slice_minutes
        runs = 1 if args.full else args.interview_runs
        if runs < 1:
            return
        walls, cpus = bench_interview(minutes, runs, folder)
        per_frame, per_frame_cpu = statistics.median(walls), statistics.median(cpus)
        hour = 60 * 60 * 25 * per_frame
        how = "written in full" if args.full else f"{minutes:g}-min slice, extrapolated"
        print(f"| 60-min 640x480 25 fps interview ({how}), 1 process | {runs} | {hour:.0f} "
              f"| {60 * 60 * 25 * per_frame_cpu:.0f} | faster than real time (< 3600 s) "
              f"| {3600 / hour:.2f}x real time, {1000 * per_frame:.1f} ms/frame |")  # fmt: skip


if __name__ == "__main__":
    main()
