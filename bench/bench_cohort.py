"""Leave-one-patient-out on the default synthetic cohort, against the oracle ceiling.

Run from the repository root::

    .venv/bin/python bench/bench_cohort.py --checkpoint RUN/best
    .venv/bin/python bench/bench_cohort.py --checkpoint RUN/best --cohort /tmp/cohort --workers 2

Renders the synthetic interview cohort with the world's default settings (30 patients, 1-3
interviews each, 3-minute 640x480 recordings, seed 0; about an hour of CPU) unless
``--cohort`` already holds it, embeds every recording with the frozen encoder of
``--checkpoint`` through the true face tracks, runs ``loocv`` for PANSS negative and CAINS
expression, and prints per item the held-out PCC with its interval beside the oracle ceiling
(the PCC that the true behaviour parameters reach, ``ceiling.json``) and their ratio. Items
whose domain has no behaviour in the video are marked: they can only be reached through the
shared severity factor.

The clip plan should match what the encoder was trained on: ``--downsample`` and
``--clip-len`` default to 8 frames at about 8 fps (the demo and the pretraining benchmark
train on 8-frame clips of 8 fps synthetic MAFW; the cohort is 25 fps).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def main() -> None:
    """Render (if needed), embed, cross-validate; print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--cohort", type=Path, default=Path("/tmp/emoclip_bench_cohort"))
    parser.add_argument("--out", type=Path, default=None, help="default: COHORT/../<name>_loocv")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--downsample", type=int, default=3)
    parser.add_argument("--clip-len", type=int, default=8)
    parser.add_argument("--margin", type=float, default=1.4, help="crop side / face box side")
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from emoclip_clinic.scoring.embed import EmbedSettings
    from emoclip_clinic.scoring.jobs import CohortJob, run_loocv
    from emoclip_clinic.scoring.pipeline import FaceOptions
    from emoclip_clinic.synth.interviews import InterviewConfig, make_interviews

    start = time.perf_counter()
    if not (args.cohort / "labels_panss.csv").is_file():
        make_interviews(args.cohort, InterviewConfig(), seed=0, workers=args.workers)
    rendered = time.perf_counter() - start
    out = args.out or args.cohort.parent / f"{args.cohort.name}_loocv"
    settings = EmbedSettings(downsample=args.downsample, clip_len=args.clip_len, margin=args.margin)
    faces = FaceOptions("tracks", args.cohort / "tracks")
    ceiling = json.loads((args.cohort / "ceiling.json").read_text())
    rows = []
    for scale, labels in (("panss_negative", "labels_panss.csv"),
                          ("cains_expression", "labels_cains.csv")):  # fmt: skip
        job = CohortJob(args.cohort / labels, scale, args.checkpoint, out / "cache", settings,
                        faces)  # fmt: skip
        result = run_loocv(job, out / scale, n_boot=args.n_boot, seed=args.seed)
        observable = {i["id"]: i["observable"] for i in result["items"]}
        for row in result["agreement"]:
            rows.append((scale, row, observable.get(row["item"])))
        cohort = result["cohort"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; rendering {rendered:.0f} s, total "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    print(f"cohort: {cohort['interviews']} interviews of {cohort['patients']} patients, "
          f"{cohort['clips']:,} usable clips; simulated population of the ceiling: "
          f"{ceiling.get('n_simulated', '?')}")  # fmt: skip
    print("| scale | item | visible in video | LOOCV PCC [95% CI] | oracle PCC | share |")
    print("|---|---|---|---|---|---|")
    for scale, row, seen in rows:
        share = row["share_of_ceiling"]
        print(f"| {scale} | {row['item']} | {seen} | {row['pcc']:.2f} "
              f"[{row['pcc_ci_low']:.2f}, {row['pcc_ci_high']:.2f}] | {row['oracle_pcc']:.2f} "
              f"| {share:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
