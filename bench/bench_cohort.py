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

Diagnostics follow, to tell the head from the encoder: (1) the leave-one-patient-out head
with clip inputs (the paper's) on stand-in embeddings that carry the true behaviour parameters
(``truth.csv``, standardised, through a fixed random map to the encoder's width, 150 clips
per interview with clip noise of SD 3): what the MLP reaches when the embeddings hold the
behaviour as a level (centred inputs cannot see a level, by design); (2) ridge regression,
leave-one-patient-out, from a summary of each interview's clip embeddings to each true
behaviour parameter (how much of the behaviour the real embeddings hold) and to each rating
(what a linear interview-level model reaches on the same embeddings, beside the head). Two
summaries: the mean of the clips, and their spread (each dimension's mean absolute deviation
from the interview's mean: behaviour that comes and goes between clips, in either direction).

``--head-inputs`` and ``--head-loss`` set the head as on the ``loocv`` command
(``--head-steps`` and ``--head-hidden`` its training length and width);
``--world-seed`` renders another cohort of the same settings (a confirmation set).

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

from bench_pretrain import device_name

BEHAVIOUR = (
    "expression_rate_per_min",
    "expression_intensity",
    "gesture_amplitude",
    "nod_rate_per_min",
    "talk_fraction",
    "pause_s",
    "gaze_aversion",
    "head_aversion",
)
SCALES = (("panss_negative", "labels_panss.csv"), ("cains_expression", "labels_cains.csv"))


def head_on_true_behaviour(cohort: Path, width: int, seed: int) -> dict[str, dict[str, float]]:
    """Per scale and item: LOOCV PCC of the head on stand-in embeddings of the true behaviour."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    from emoclip_clinic.scoring.head import HeadSettings
    from emoclip_clinic.scoring.labels import read_labels
    from emoclip_clinic.scoring.loocv import CohortData, leave_one_patient_out
    from emoclip_clinic.scoring.scales import load_scale

    truth = pd.read_csv(cohort / "truth.csv").set_index("interview_id")
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(len(BEHAVIOUR), width))
    out = {}
    for scale_name, labels in SCALES:
        scale = load_scale(scale_name)
        ratings = read_labels(cohort / labels, scale).scores(with_total=True)
        x = truth.loc[ratings.index, list(BEHAVIOUR)].to_numpy()
        x = (x - x.mean(axis=0)) / x.std(axis=0)
        clips = [(row @ mixing + 3.0 * rng.normal(size=(150, width))).astype(np.float32)
                 for row in x]  # fmt: skip
        data = CohortData(list(ratings.index), truth.loc[ratings.index, "patient_id"].to_numpy(),
                          clips, ratings)  # fmt: skip
        predicted = leave_one_patient_out(data, scale, HeadSettings(inputs="clip"))
        out[scale_name] = {c: float(stats.pearsonr(predicted[c], ratings[c])[0])
                           for c in ratings.columns}  # fmt: skip
    return out


def _ridge_loocv(features, groups, targets: dict) -> dict[str, float]:
    """Per target: PCC of leave-one-patient-out ridge predictions from interview features."""
    import numpy as np
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict

    out = {}
    for name, y in targets.items():
        fitted = cross_val_predict(RidgeCV(alphas=np.logspace(-2, 4, 13)), features, y,
                                   groups=groups, cv=LeaveOneGroupOut())  # fmt: skip
        out[name] = float(np.corrcoef(fitted, y)[0, 1])
    return out


def _summary(clips, kind: str):
    """One interview's clips (n, d) -> its mean, or its spread (mean absolute deviation)."""
    mean = clips.mean(axis=0)
    return mean if kind == "mean" else abs(clips - mean).mean(axis=0)


def linear_on_interview_summaries(
    cohort: Path, embeddings: dict, kind: str = "mean"
) -> dict[str, dict[str, float]]:
    """LOOCV ridge PCC from an interview summary of clip embeddings to behaviour and ratings.

    ``kind`` is ``"mean"`` (the interview's mean clip embedding) or ``"spread"`` (each
    dimension's mean absolute deviation from that mean). ``behaviour``: each true behaviour
    parameter of ``truth.csv`` (how much of the behaviour the embeddings hold); then per
    scale, each item's rating (what a linear interview-level model reaches with these
    embeddings: a reference for the clip-level head).
    """
    import numpy as np
    import pandas as pd

    from emoclip_clinic.scoring.labels import read_labels
    from emoclip_clinic.scoring.scales import load_scale

    truth = pd.read_csv(cohort / "truth.csv").set_index("interview_id")
    ids = sorted(i for i, e in embeddings.items() if e.usable.any())
    means = np.stack([_summary(embeddings[i].usable_embeddings, kind) for i in ids])
    groups = truth.loc[ids, "patient_id"].to_numpy()
    out = {
        "behaviour": _ridge_loocv(
            means, groups, {b: truth.loc[ids, b].to_numpy() for b in BEHAVIOUR}
        )
    }
    for scale_name, labels in SCALES:
        ratings = read_labels(cohort / labels, load_scale(scale_name)).scores(with_total=True)
        ratings = ratings.loc[ids]
        out[scale_name] = _ridge_loocv(
            means, groups, {c: ratings[c].to_numpy(float) for c in ratings.columns}
        )
    return out


def main() -> None:
    """Render (if needed), embed, cross-validate; print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--cohort", type=Path, default=Path("/tmp/emoclip_bench_cohort"))
    parser.add_argument("--out", type=Path, default=None, help="default: COHORT/../<name>_loocv")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes")
    parser.add_argument("--embed-workers", type=int, default=1, help="recordings embedded at once")
    parser.add_argument("--device", default="cpu", help="device of the encoder")
    parser.add_argument("--downsample", type=int, default=3)
    parser.add_argument("--clip-len", type=int, default=8)
    parser.add_argument("--margin", type=float, default=1.4, help="crop side / face box side")
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--world-seed", type=int, default=0, help="seed of a cohort rendered here")
    parser.add_argument("--head-inputs", default=None, help="default: HeadSettings' default")
    parser.add_argument("--head-loss", default=None, help="default: HeadSettings' default")
    parser.add_argument("--head-steps", type=int, default=None)
    parser.add_argument("--head-hidden", type=int, default=None, help="default: d/2")
    args = parser.parse_args()
    from emoclip_clinic.scoring.embed import EmbedSettings
    from emoclip_clinic.scoring.head import HeadSettings
    from emoclip_clinic.scoring.jobs import CohortJob, run_loocv
    from emoclip_clinic.scoring.labels import read_labels
    from emoclip_clinic.scoring.pipeline import FaceOptions, embed_cohort, load_encoder
    from emoclip_clinic.scoring.scales import load_scale
    from emoclip_clinic.synth.interviews import InterviewConfig, make_interviews

    start = time.perf_counter()
    if not (args.cohort / "labels_panss.csv").is_file():
        make_interviews(args.cohort, InterviewConfig(), seed=args.world_seed, workers=args.workers)
    rendered = time.perf_counter() - start
    out = args.out or args.cohort.parent / f"{args.cohort.name}_loocv"
    settings = EmbedSettings(downsample=args.downsample, clip_len=args.clip_len, margin=args.margin)
    faces = FaceOptions("tracks", args.cohort / "tracks")
    ceiling = json.loads((args.cohort / "ceiling.json").read_text())
    chosen = {"inputs": args.head_inputs, "loss": args.head_loss, "steps": args.head_steps,
              "hidden": args.head_hidden, "seed": args.seed}  # fmt: skip
    head = HeadSettings(**{k: v for k, v in chosen.items() if v is not None})
    rows = []
    for scale, labels in SCALES:
        job = CohortJob(args.cohort / labels, scale, args.checkpoint, out / "cache", settings,
                        faces, head, args.device, args.embed_workers)  # fmt: skip
        result = run_loocv(job, out / scale, n_boot=args.n_boot, seed=args.seed)
        observable = {i["id"]: i["observable"] for i in result["items"]}
        for row in result["agreement"]:
            rows.append((scale, row, observable.get(row["item"])))
        cohort = result["cohort"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"encoder on {device_name(args.device)}, "
          f"load average {os.getloadavg()[0]:.1f}; rendering {rendered:.0f} s, total "
          f"{time.perf_counter() - start:.0f} s; head: {head}")  # fmt: skip
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

    encoder = load_encoder(args.checkpoint)
    labels = read_labels(args.cohort / "labels_panss.csv", load_scale("panss_negative"))
    recordings = dict(zip(labels.table["interview_id"], labels.recordings, strict=True))
    embeddings, _ = embed_cohort(recordings, encoder, settings, faces, out / "cache")  # cached
    print("\nhead (clip inputs) on stand-in embeddings of the true behaviour (LOOCV PCC):")
    stand_in = head_on_true_behaviour(args.cohort, encoder.model.embed_dim, args.seed)
    for scale, pccs in stand_in.items():
        print(f"  {scale}: " + ", ".join(f"{k} {v:.2f}" for k, v in pccs.items()))
    for kind in ("mean", "spread"):
        print(f"ridge from the interview {kind} of clip embeddings (LOOCV PCC):")
        for target, pccs in linear_on_interview_summaries(args.cohort, embeddings, kind).items():
            print(f"  {target}: " + ", ".join(f"{k} {v:.2f}" for k, v in pccs.items()))


if __name__ == "__main__":
    main()
