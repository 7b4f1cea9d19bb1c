"""Embedding a long interview: time per recording hour, its split, and peak memory.

Run from the repository root::

    .venv/bin/python bench/bench_embed.py --minutes 60            # the issue's 60-minute case
    .venv/bin/python bench/bench_embed.py --minutes 5 --keep /tmp/bench_interview
    python bench/bench_embed.py --minutes 10 --model emoclip-vit-b-32 --device cuda --batch-clips 32

Writes (once, reused with ``--keep``) one synthetic 640x480 25 fps interview of ``--minutes``
with its true face track, then measures three passes, each in a fresh process so that peak RSS
is its own: (1) decode only: the clip reader over the recording (every 4th frame, 32-frame
clips): the lower bound; (2) decode + face boxes from the track file + crops + preprocessing;
(3) the full embedding with ``--model`` (default ``emoclip-tiny``; random weights: speed does
not depend on them) on ``--device`` (on CUDA with bf16 autocast, as ``embed`` runs there).
The differences between passes give the decode / face / embed split. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_pretrain import device_name

PASSES = ("decode", "crop", "embed")


def _make_recording(folder: Path, minutes: float) -> Path:
    from emoclip_clinic.synth.interviews import make_interviews

    if not (folder / "labels_panss.csv").is_file():
        make_interviews(folder, n_patients=1, interviews_per_patient=(1, 1), minutes=minutes,
                        overwrite=True)  # fmt: skip
    return next((folder / "recordings").glob("*.mp4"))


def _one_pass(kind: str, recording: Path, checkpoint: Path, device: str, batch: int) -> dict:
    import numpy as np
    import torch

    from emoclip_clinic.data.transforms import ClipTransform
    from emoclip_clinic.faces.tracking import TrackFile
    from emoclip_clinic.faces.tracks import read_face_tracks
    from emoclip_clinic.models.build import get_preprocess_cfg
    from emoclip_clinic.scoring.embed import EmbedSettings, _prepare_clips, embed_recording
    from emoclip_clinic.scoring.pipeline import load_encoder
    from emoclip_clinic.video import ClipReader

    settings = EmbedSettings(batch_clips=batch)
    track = recording.parent.parent / "tracks" / f"{recording.stem}.csv"
    encoder = load_encoder(checkpoint, device)
    start = time.perf_counter()
    reader = ClipReader(recording, settings.plan())
    if kind == "decode":
        clips = sum(1 for _ in reader)
    elif kind == "crop":
        transform = ClipTransform(get_preprocess_cfg(encoder.model))
        source = TrackFile(read_face_tracks(track))
        clips = sum(1 for _ in _prepare_clips(reader, source, settings, transform, 64))
    else:
        entry = embed_recording(recording, encoder.model, TrackFile(read_face_tracks(track)),
                                settings)  # fmt: skip
        clips = int(np.sum(entry.usable))
    wall = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else 0.0
    return {"pass": kind, "wall_s": wall, "clips": clips, "peak_rss_mb": rss_mb,
            "peak_gpu_mb": gpu_mb, "duration_s": reader.info.duration_s}  # fmt: skip


def main() -> None:
    """Make the recording if needed, run the three passes, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the recording in")
    parser.add_argument("--model", default="emoclip-tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-clips", type=int, default=8, help="clips per encoder batch")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, recording, checkpoint = args.worker
        row = _one_pass(kind, Path(recording), Path(checkpoint), args.device, args.batch_clips)
        print(json.dumps(row))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_embed_"))
    start = time.perf_counter()
    recording = _make_recording(folder, args.minutes)
    made = time.perf_counter() - start
    checkpoint = folder / args.model
    if not checkpoint.is_dir():
        from emoclip_clinic.models import create_emoclip
        from emoclip_clinic.models.checkpoints import save_checkpoint

        save_checkpoint(checkpoint, create_emoclip(args.model))
    rows = []
    for kind in PASSES:
        command = [sys.executable, __file__, "--worker", kind, str(recording), str(checkpoint),
                   "--device", args.device, "--batch-clips", str(args.batch_clips)]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    hours = rows[0]["duration_s"] / 3600
    minutes = rows[0]["duration_s"] / 60
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; recording {minutes:.1f} min 640x480 25 fps "
          f"(written in {made:.0f} s); clips of 32 frames, every 4th frame; {args.model} on "
          f"{device_name(args.device)}, {args.batch_clips} clips per batch")  # fmt: skip
    print("| pass | wall s | s per recording hour | clips | peak RSS MB | peak GPU MB |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['pass']} | {row['wall_s']:.1f} | {row['wall_s'] / hours:.0f} | "
              f"{row['clips']} | {row['peak_rss_mb']:.0f} | "
              f"{row['peak_gpu_mb']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
