"""The occlusion flag on real and synthetic recordings: per-frame scores and flagged stretches.

Run from the repository root: ``.venv/bin/python bench/bench_occlusion.py [--frames]``.
Frames are sampled as ``embed`` samples them (``--downsample``, ``--clip-len``); the real
videos get their boxes from the built-in detector and tracker, the synthetic interviews (made
in a temporary folder) from their true face tracks. Prints, per recording, the flagged
stretches, the clips that ``embed`` would leave out, and what the rule would flag without each
of its parts (the pose rule, the lower-face check, the 1-second minimum); ``--frames`` adds
the per-frame table. Then a hand painted on the GRID talking heads, at the mouth and under
the chin. In the Pexels video a hand covers the mouth from 2.4 s to 9.5 s (checked frame by
frame).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from emoclip_clinic.faces.boxes import FaceBox
from emoclip_clinic.faces.detectors import make_detector
from emoclip_clinic.faces.occlusion import (
    OcclusionSettings,
    RecordingOcclusion,
    RegionDescriber,
    occluded_frames,
    occlusion_scores,
    region_ratios,
)
from emoclip_clinic.faces.tracking import DetectorTracker, FaceSource, TrackFile
from emoclip_clinic.faces.tracks import read_face_tracks
from emoclip_clinic.scoring.embed import EmbedSettings
from emoclip_clinic.synth.interviews import InterviewConfig, make_interviews
from emoclip_clinic.synth.scenes import SceneSettings
from emoclip_clinic.video import ClipReader, probe_video, read_frames

REAL = ("pyfeat_WolfgangLanger_Pexels.mp4", "grid_lwbsza.mpg", "grid_swiz3n.mpg")


def describe(path: Path, source: FaceSource, settings: EmbedSettings):
    """Frame times, ratios, scores and the clips of one recording, sampled as ``embed`` does."""
    reader = ClipReader(path, settings.plan())
    describer, record = RegionDescriber(), RecordingOcclusion(reader.info.timestamps[:, 0])
    descriptors, clips = {}, []
    for clip_index, frames, start_s, end_s in reader:
        indices = reader.plan[clip_index].frame_indices.tolist()
        boxes = source.boxes(indices, frames)
        kept = [i for i, b in zip(indices, boxes, strict=True) if b is not None]
        rows = describer.describe(frames, boxes)
        record.add(clip_index, kept, rows)
        descriptors.update(zip(kept, rows, strict=True))
        clips.append((start_s, end_s))
    frames, scores, flagged = record.frames()
    ratios = region_ratios(np.stack([descriptors[i] for i in frames.tolist()]))
    times = reader.info.timestamps[frames, 0]
    return times, ratios, scores, flagged, clips, record.clip_fractions(len(clips))


def stretches(times: np.ndarray, flagged: np.ndarray, gap: float) -> str:
    """Flagged frames merged into time ranges (frames closer than ``gap`` seconds join)."""
    spans: list[list[float]] = []
    for t in times[flagged]:
        if spans and t - spans[-1][1] <= gap:
            spans[-1][1] = t
        else:
            spans.append([t, t])
    return ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in spans) or "none"


def variants(ratios: dict[str, np.ndarray], times: np.ndarray) -> dict[str, np.ndarray]:
    """Frames the rule would flag without each of its parts."""
    limits = OcclusionSettings()
    lower = ratios["lower_face"] / limits.lower_ratio
    below = ratios["below_chin"] / limits.below_ratio
    fixed = ratios["below_chin_fixed"] / limits.below_ratio
    runs = {"without the fixed place (no pose rule)": np.minimum(lower, below),
            "without the lower-face check": np.minimum(below, fixed)}  # fmt: skip
    out = {k: occluded_frames(v, times, limits.min_seconds) for k, v in runs.items()}
    out["without the 1-second minimum"] = np.minimum.reduce([lower, below, fixed]) >= 1
    return out


def report(name: str, path: Path, source: FaceSource, settings: EmbedSettings, frames: bool):
    """Print one recording's flagged stretches, left-out clips and, optionally, frames."""
    times, ratios, scores, flagged, clips, fractions = describe(path, source, settings)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    print(f"\n## {name}: {len(times)} sampled face frames, {flagged.sum()} flagged "
          f"({flagged.mean():.0%})\n")  # fmt: skip
    print(f"flagged frames: {stretches(times, flagged, 1.5 * step)}")
    out = []
    for (start, end), share in zip(clips, fractions, strict=True):
        if share >= settings.max_occluded_fraction:
            out.append(f"{start:.1f}-{end:.1f} s ({share:.0%})")
    print(f"clips left out as occluded: {len(out)} of {len(clips)}: {', '.join(out) or 'none'}")
    for label, variant in variants(ratios, times).items():
        print(f"{label}: {stretches(times, variant, 1.5 * step)}")
    if frames:
        print("\n| time s | lower face | below chin | below chin, fixed | score | flagged |")
        print("|---|---|---|---|---|---|")
        for j, t in enumerate(times):
            print(f"| {t:.2f} | {ratios['lower_face'][j]:.2f} | {ratios['below_chin'][j]:.2f} | "
                  f"{ratios['below_chin_fixed'][j]:.2f} | {scores[j]:.2f} | "
                  f"{'yes' if flagged[j] else ''} |")  # fmt: skip


def forearm(frames: np.ndarray, box: FaceBox, top: float) -> np.ndarray:
    """Frames with a hand at ``top`` (box units) on a forearm in a pale sleeve from below."""
    out = frames.copy()
    left, right = int(box.x + 0.3 * box.w), int(box.x + 0.75 * box.w)
    wrist = int(box.y + (top + 0.4) * box.h)
    out[:, int(box.y + top * box.h) : wrist, left:right] = (196, 150, 124)
    out[:, wrist:, left:right] = (228, 230, 236)
    return out


def pasted(path: Path, detector, settings: EmbedSettings) -> None:
    """A painted hand on a real talking head: at the mouth, then under the chin only."""
    info = probe_video(path)
    indices = np.arange(0, info.n_frames, settings.downsample)
    frames = read_frames(info, indices)
    boxes = DetectorTracker(detector).boxes(indices, frames)
    n = len(frames)
    covered = slice(int(0.3 * n), int(0.7 * n))
    for label, top in (("hand over the mouth", 0.7), ("hand under the chin only", 1.1)):
        edited = frames.copy()
        edited[covered] = forearm(frames[covered], boxes[0], top)
        descriptors = RegionDescriber().describe(edited, boxes)
        times = info.timestamps[indices, 0]
        flagged = occluded_frames(occlusion_scores(descriptors), times, 1.0)
        no_check = variants(region_ratios(descriptors), times)["without the lower-face check"]
        counts = [
            (int(f[covered].sum()), int(f.sum() - f[covered].sum())) for f in (flagged, no_check)
        ]
        print(f"{path.name}, {label} in frames {covered.start}-{covered.stop - 1} of {n}: flagged "
              f"{counts[0][0]} of them and {counts[0][1]} others; without the lower-face check "
              f"{counts[1][0]} and {counts[1][1]}")  # fmt: skip


def main() -> None:
    """Run the real videos and two synthetic interviews."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared")
    parser.add_argument("--downsample", type=int, default=4)
    parser.add_argument("--clip-len", type=int, default=32)
    parser.add_argument("--frames", action="store_true", help="print every frame's score")
    args = parser.parse_args()
    settings = EmbedSettings(downsample=args.downsample, clip_len=args.clip_len)
    print(f"downsample {settings.downsample}, clip_len {settings.clip_len}, clips left out at "
          f">= {settings.max_occluded_fraction:.0%} occluded frames")  # fmt: skip
    detector = make_detector("builtin")
    for name in REAL:
        source = DetectorTracker(detector)
        report(name, args.shared / "data/real/videos" / name, source, settings, args.frames)
    print("\n## Painted hands on the GRID talking heads\n")
    for name in REAL[1:]:
        pasted(args.shared / "data/real/videos" / name, detector, settings)
    with tempfile.TemporaryDirectory() as tmp:
        config = InterviewConfig(n_patients=2, interviews_per_patient=(1, 1), minutes=1.0,
                                 width=320, height=240, fps=12.0,
                                 scene=SceneSettings(interviewer_fraction=1.0))  # fmt: skip
        make_interviews(tmp, config, seed=3)
        for path in sorted(Path(tmp, "recordings").glob("*.mp4")):
            source = TrackFile(read_face_tracks(Path(tmp, "tracks", f"{path.stem}.csv")))
            report(f"synthetic {path.name}", path, source, settings, args.frames)


if __name__ == "__main__":
    main()
