"""Leave-one-patient-out on cached embeddings: the paper's cohort size at ViT-B/32 width.

Run from the repository root::

    .venv/bin/python bench/bench_loocv.py                    # 113 interviews, 69 patients
    .venv/bin/python bench/bench_loocv.py --minutes 60 --dim 512
    .venv/bin/python bench/bench_loocv.py --dim 64 --head-loss clip --clips-per-interview 8
    .venv/bin/python bench/bench_loocv.py --dim 64 --head-inputs clip
    .venv/bin/python bench/bench_loocv.py --head-precision bf16   # CPUs with bf16 units
    .venv/bin/python bench/bench_loocv.py --device cuda           # heads trained on a GPU

Builds a cohort of random clip embeddings the size of the paper's (113 interviews of 69
patients, ``--dim`` wide, one clip per 5.12 s of a ``--minutes`` recording: 32 frames after
downsampling by 4 at 25 fps) with PANSS-negative ratings, and times ``leave_one_patient_out``
(69 folds, all trained at once as one batched MLP) and the agreement table with its patient
bootstrap. Embeddings are random, so the agreement itself means nothing here; this measures
speed and memory only. Prints the median of ``--repeats`` runs and the peak RSS, and the lower
bound that the first layer's two matrix products per step set (forward and weight gradient,
timed alone in the head's precision, median of 5) times the number of steps.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import numpy as np
import pandas as pd

CLIP_SECONDS = 32 * 4 / 25  # 32 frames after downsampling by 4, at 25 fps


def cohort(dim: int, minutes: float, seed: int):
    """A CohortData of 113 interviews from 69 patients with plausible PANSS-negative ratings."""
    from emoclip_clinic.scoring.loocv import CohortData
    from emoclip_clinic.scoring.scales import load_scale

    scale = load_scale("panss_negative")
    rng = np.random.default_rng(seed)
    patients = np.concatenate([np.arange(69), rng.choice(69, 113 - 69)])  # 44 return visits
    ids = [f"I{i:03d}" for i in range(113)]
    n_clips = int(minutes * 60 / CLIP_SECONDS)
    clips = [rng.standard_normal((n_clips, dim)).astype(np.float32) for _ in ids]
    items = list(scale.item_ids)
    scores = rng.integers(1, 8, size=(113, len(items))).astype(float)
    ratings = pd.DataFrame(scores, index=ids, columns=items)
    ratings[scale.total.id] = ratings.sum(axis=1)
    data = CohortData(ids, np.array([f"P{p:02d}" for p in patients]), clips, ratings)
    return data, scale


def matmul_floor(data, folds: int, settings, device: str) -> tuple[float, float]:
    """Seconds per step of the first layer's two products alone, and times the steps."""
    import torch

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    dim = data.clips[0].shape[1]
    rows = len(data.clips) * settings.clips_per_interview
    width = folds * (settings.hidden or dim // 2)
    dtype = torch.bfloat16 if settings.precision == "bf16" else torch.float32
    x = torch.randn(rows, dim, dtype=dtype, device=device)
    w = torch.randn(dim, width, dtype=dtype, device=device)
    grad = torch.randn(rows, width, dtype=dtype, device=device)
    times = []
    for _ in range(6):
        sync()
        start = time.perf_counter()
        x @ w, x.T @ grad
        sync()
        times.append(time.perf_counter() - start)
    per_step = statistics.median(times[1:])
    return per_step, per_step * settings.steps


def main() -> None:
    """Time LOOCV and the agreement table; print a markdown row."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--head-loss", default=None, help="default: HeadSettings' default")
    parser.add_argument("--clips-per-interview", type=int, default=None)
    parser.add_argument("--head-inputs", default=None, help="default: HeadSettings' default")
    parser.add_argument("--head-precision", default=None, help="fp32 (default) or bf16")
    parser.add_argument("--device", default="cpu", help="where the heads train: cpu, cuda")
    args = parser.parse_args()
    from emoclip_clinic.devices import resolve_device
    from emoclip_clinic.scoring.head import HeadSettings
    from emoclip_clinic.scoring.loocv import agreement, leave_one_patient_out

    chosen = {"loss": args.head_loss, "clips_per_interview": args.clips_per_interview,
              "inputs": args.head_inputs, "precision": args.head_precision}  # fmt: skip
    settings = HeadSettings(**{k: v for k, v in chosen.items() if v is not None})

    device = resolve_device(args.device)
    data, scale = cohort(args.dim, args.minutes, 0)
    fits, tables = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        predictions = leave_one_patient_out(data, scale, settings, device=device)
        fits.append(time.perf_counter() - start)
        start = time.perf_counter()
        agreement(data, predictions, n_boot=args.n_boot)
        tables.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    clips = sum(len(c) for c in data.clips)
    if device.startswith("cuda"):
        import torch

        print(f"heads trained on {torch.cuda.get_device_name(device)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; head loss {settings.loss}, inputs "
          f"{settings.inputs}, precision {settings.precision}, "
          f"{settings.clips_per_interview} clips per interview and step")  # fmt: skip
    print("| interviews / patients | d | clips | LOOCV s (median) | agreement + bootstrap s "
          "| peak RSS MB |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    fit, table = statistics.median(fits), statistics.median(tables)
    per_step, floor = matmul_floor(data, len(set(data.patient_ids)), settings, device)
    print(f"| 113 / 69 | {args.dim} | {clips:,} | {fit:.1f} | {table:.1f} "
          f"({args.n_boot} replicates) | {peak_mb:.0f} |")  # fmt: skip
    print(f"lower bound: the first layer's two products take {per_step * 1000:.0f} ms a step "
          f"alone, {floor:.1f} s for {settings.steps} steps")  # fmt: skip


if __name__ == "__main__":
    main()
