"""Benchmark the clinician reports: median render time and file size of each.

Run from the repository root::

    .venv/bin/python bench/bench_reports.py [--repeats 7] [--examples docs/examples]

Four inputs: the toy ``score`` and ``loocv`` outputs in ``tests/data/report_samples/``, a
synthetic one-hour interview (900 four-second clips, with stretches without a face) made from
the toy score output, and a synthetic cohort of 300 interviews made from the toy loocv output.
Each is rendered once to warm up (imports, fonts, templates), then ``--repeats`` times; the
median wall time of ``render_patient_report`` / ``render_cohort_report`` is reported with the
size of the HTML file. ``--cold`` also times a fresh ``emoclip-clinic report`` process per
report (Python start and imports included; compiled bytecode cached under a temporary
``PYTHONPYCACHEPREFIX`` so the numbers do not depend on ``PYTHONDONTWRITEBYTECODE``).
``--examples DIR`` keeps the synthetic inputs and their reports there.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from emoclip_clinic.report import render_cohort_report, render_patient_report

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "report_samples"


def machine_description() -> str:
    """CPU model, core count, load, Python and matplotlib versions."""
    import matplotlib

    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{model}, {os.cpu_count()} logical cores, load average {load:.2f}; "
        f"Python {platform.python_version()}, matplotlib {matplotlib.__version__}"
    )


def long_interview(score: dict, minutes: float = 60, clip_s: float = 4.0, seed: int = 0) -> dict:
    """A synthetic long interview from a toy score output: smooth traces, face lost at times."""
    rng = np.random.default_rng(seed)
    result = copy.deepcopy(score)
    n = int(minutes * 60 / clip_s)
    total = next(s for s in result["scores"] if s["item"] == "total")
    drift = np.cumsum(rng.normal(0, 0.6, n))
    trace = np.clip(total["predicted"] + drift - drift.mean() + rng.normal(0, 1.5, n), 7, 49)
    express = np.clip(0.55 + 0.25 * np.sin(np.arange(n) / 40) + rng.normal(0, 0.08, n), 0, 1)
    usable = np.ones(n, bool)
    for start, length in ((int(0.21 * n), 9), (int(0.58 * n), 4), (int(0.83 * n), 15)):
        usable[start : start + length] = False
    template = {k: v for k, v in result["timeline"][0].items() if not k.startswith("predicted_")}
    items = [s["item"] for s in result["scores"] if s["item"] != "total"]
    result["timeline"] = [
        {**template, "clip": k, "start_s": k * clip_s, "end_s": (k + 1) * clip_s,
         "usable": bool(usable[k]), "face_fraction": 1.0 if usable[k] else 0.1,
         **{f"predicted_{i}": float(trace[k] / len(items)) if usable[k] else None for i in items},
         "predicted_total": float(trace[k]) if usable[k] else None,
         "expressivity": float(express[k]) if usable[k] else None}
        for k in range(n)
    ]  # fmt: skip
    result["quality"] = {"clips": n, "usable_clips": int(usable.sum()),
                         "face_time_share": float(np.mean(np.where(usable, 1.0, 0.1)))}  # fmt: skip
    result["recording"].update(path="/data/interviews/P00_I0.mp4", duration_s=n * clip_s,
                               fps=25.0, width=1280, height=720)  # fmt: skip
    return result


def large_cohort(loocv: dict, interviews: int = 300) -> dict:
    """The toy loocv output with its predictions repeated to a larger cohort."""
    result = copy.deepcopy(loocv)
    base = result["predictions"]
    result["predictions"] = [
        dict(base[k % len(base)], interview_id=f"I{k:03d}", patient_id=f"P{k // 2:03d}")
        for k in range(interviews)
    ]
    return result


def time_render(render, source: Path, out: Path, repeats: int) -> tuple[float, int]:
    """Median wall seconds of ``repeats`` renders after one warm-up, and the file size."""
    path = render(source, out)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        path = render(source, out)
        times.append(time.perf_counter() - start)
    return statistics.median(times), path.stat().st_size


def time_cold(source: Path, out: Path, cache: Path) -> float:
    """Wall seconds of one fresh ``emoclip-clinic report`` process (bytecode already cached)."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(cache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-m", "emoclip_clinic", "report", str(source), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, env=env)  # fills the cache
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cold", action="store_true", help="also time a fresh CLI process")
    parser.add_argument("--examples", type=Path, help="keep the synthetic inputs and reports")
    args = parser.parse_args()
    work = args.examples or Path(tempfile.mkdtemp(prefix="bench_reports_"))
    work.mkdir(parents=True, exist_ok=True)
    score = json.loads((SAMPLES / "P00_I0_score.json").read_text())
    loocv = json.loads((SAMPLES / "loocv.json").read_text())
    (work / "P00_I0_long_score.json").write_text(json.dumps(long_interview(score)))
    (work / "cohort300.json").write_text(json.dumps(large_cohort(loocv)))
    cases = [
        ("patient, toy (6 clips)", render_patient_report, SAMPLES / "P00_I0_score.json"),
        ("patient, 1 hour (900 clips)", render_patient_report, work / "P00_I0_long_score.json"),
        ("cohort, toy (12 interviews, 8 items)", render_cohort_report, SAMPLES / "loocv.json"),
        ("cohort, 300 interviews, 8 items", render_cohort_report, work / "cohort300.json"),
    ]
    print(f"Machine: {machine_description()}\n")
    print(f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`\n")
    header = "| report | median render (s) | size (KB) |" + (" cold CLI (s) |" if args.cold else "")
    print(header)
    print("|---|---|---|" + ("---|" if args.cold else ""))
    cache = Path(tempfile.mkdtemp(prefix="pycache_"))
    for name, render, source in cases:
        seconds, size = time_render(render, source, work, args.repeats)
        row = f"| {name} | {seconds:.2f} | {size / 1024:.0f} |"
        if args.cold:
            row += f" {time_cold(source, work / 'cold', cache):.2f} |"
        print(row)


if __name__ == "__main__":
    main()
