"""Synthetic expression data sets in the real MAFW and DFEW layouts.

``make_mafw`` writes captioned face clips of the 11 MAFW classes and of compound classes (pairs
from ``protocols/emotions/au_prototypes.json``) with MAFW's annotation files (GBK, tab-separated,
``name<TAB>label<TAB>Chinese caption<TAB>English caption``), five folds split by identity, an
``identities.txt`` and a ``synth_meta.json`` with each clip's ground truth. ``make_dfew`` writes
the seven basic classes with DFEW's class imbalance, other identities and another rendering
style, in DFEW's official layout. The readers in :mod:`emoclip_clinic.data` read both.

Single-label MAFW clips are balanced over the 11 classes (each class within one clip of the
others); compound clips cycle through the listed compounds. Each clip shows one expression
episode (none for neutral) that starts within its first quarter, rises quickly and holds,
with head motion, blinks, gaze shifts and, in some clips, speech.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.synth.au import EMOTIONS, au_dict, load_prototypes
from emoclip_clinic.synth.captions import caption_clip
from emoclip_clinic.synth.dynamics import DynamicsConfig, sample_episode, simulate_face_track
from emoclip_clinic.synth.face import FaceRenderer, Identity
from emoclip_clinic.synth.styles import get_style, vary_style
from emoclip_clinic.synth.writing import (
    DECORD_BAD_WIDTHS,
    STREAM_DFEW,
    STREAM_MAFW,
    check_seed,
    parallel_map,
    prepare_out_dir,
    provenance,
    rng_for,
    write_json,
    write_text,
)
from emoclip_clinic.video.writer import write_video

# Share of each class among DFEW's single-labelled clips (Jiang et al. 2020, rounded).
DFEW_FREQUENCIES = {
    "happiness": 0.25, "sadness": 0.19, "neutral": 0.24, "anger": 0.16, "surprise": 0.10,
    "disgust": 0.015, "fear": 0.05,
}  # fmt: skip
DFEW_ORDER = ("happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear")
CHINESE_PLACEHOLDER = "合成数据无中文描述"  # "synthetic data, no Chinese caption"
N_FOLDS = 5
MAFW_OUTPUTS = ("data", "Train & Test Set", "identities.txt", "synth_meta.json")
DFEW_OUTPUTS = ("Clip", "EmoLabel_DataSplit", "identities.txt", "synth_meta.json")


@dataclass(frozen=True)
class ClipSetConfig:
    """Size and look of a synthetic expression data set."""

    n_identities: int = 40  # people; the 5 folds split them into groups
    clips_per_identity: int = 8  # clips of each person
    style: str = "mafw"  # registered rendering style
    size: int = 112  # frame width and height, pixels (even)
    fps: float = 25.0  # frames per second
    seconds: tuple[float, float] = (1.5, 3.0)  # range of clip lengths
    compound_fraction: float = 0.25  # MAFW: share of clips with a compound label
    speaking_fraction: float = 0.3  # share of clips in which the person talks
    intensity: tuple[float, float] = (0.55, 1.0)  # range of apex intensities

    def __post_init__(self) -> None:
        problems = []
        if self.n_identities < N_FOLDS:
            problems.append(f"n_identities must be >= {N_FOLDS} (5 folds), got {self.n_identities}")
        if self.clips_per_identity < 1:
            problems.append(f"clips_per_identity must be >= 1, got {self.clips_per_identity}")
        if self.size < 32 or self.size % 2 or self.size in DECORD_BAD_WIDTHS:
            problems.append(f"size must be even, >= 32 and not 48 or 72 (decord), got {self.size}")
        if self.fps <= 0:
            problems.append(f"fps must be > 0, got {self.fps}")
        low, high = self.seconds
        if not 0 < low <= high or low * self.fps < 2:
            problems.append(f"seconds must satisfy 0 < low <= high (2+ frames), got {self.seconds}")
        if not (0 <= self.compound_fraction <= 1 and 0 <= self.speaking_fraction <= 1):
            problems.append("compound_fraction and speaking_fraction must be within 0..1")
        if not 0 < self.intensity[0] <= self.intensity[1] <= 1:
            problems.append(f"intensity must satisfy 0 < low <= high <= 1, got {self.intensity}")
        if problems:
            raise ConfigError("; ".join(problems))
        get_style(self.style)  # an unknown style is a ConfigError naming the known ones

    @property
    def n_clips(self) -> int:
        """Clips in the data set."""
        return self.n_identities * self.clips_per_identity


MAFW_DEFAULTS = ClipSetConfig()
DFEW_DEFAULTS = ClipSetConfig(n_identities=30, style="dfew", compound_fraction=0.0)


@dataclass(frozen=True)
class ClipSetSummary:
    """What a data-set writer made."""

    root: Path  # the data set folder
    n_clips: int  # clips written
    label_counts: dict[str, int]  # clips per label
    n_frames: int  # frames rendered in all


@dataclass(frozen=True)
class _ClipJob:
    name: str  # clip file stem
    identity: int  # person index
    label: str  # class or compound
    index: int  # clip index (seeds its draws)
    seed: int  # user seed
    stream: int  # data-set seed stream
    config: ClipSetConfig  # data-set settings
    path: Path  # output video


def _configure(config: ClipSetConfig | None, defaults: ClipSetConfig, settings) -> ClipSetConfig:
    base = config or defaults
    unknown = set(settings) - {f.name for f in dataclasses.fields(ClipSetConfig)}
    if unknown:
        raise ConfigError(f"unknown data-set settings: {', '.join(sorted(unknown))}")
    return dataclasses.replace(base, **settings) if settings else base


@functools.lru_cache(maxsize=2)
def _renderer(seed: int, stream: int, identity: int, cfg: ClipSetConfig) -> FaceRenderer:
    """The renderer of one person, in one look for all their clips (as one film in MAFW).

    Cached: a worker renders a person's clips one after another, so the backdrop, body and
    shading are made once per person rather than once per clip.
    """
    person = Identity.sample(rng_for(seed, stream, 0, identity))
    base = dataclasses.replace(get_style(cfg.style), width=cfg.size, height=cfg.size)
    return FaceRenderer(person, vary_style(base, rng_for(seed, stream, 4, identity)))


def _render_clip(job: _ClipJob) -> dict:
    """Render, encode and caption one clip; return its ground truth (runs in a worker)."""
    cfg = job.config
    renderer = _renderer(job.seed, job.stream, job.identity, cfg)
    rng = rng_for(job.seed, job.stream, 1, job.index)
    n_frames = max(2, round(float(rng.uniform(*cfg.seconds)) * cfg.fps))
    duration = n_frames / cfg.fps
    episodes, intensity = [], 0.0
    if job.label != "neutral":
        intensity = float(rng.uniform(*cfg.intensity))
        start = float(rng.uniform(0, 0.25 * duration))
        speed = float(rng.uniform(1.0, 2.0))
        episodes = [sample_episode(rng, job.label, start, intensity=intensity, speed=speed)]
    speaking = np.ones(n_frames, bool) if rng.random() < cfg.speaking_fraction else None
    dynamics = DynamicsConfig(fps=cfg.fps, head_amplitude=float(rng.uniform(0.4, 1.2)))
    track = simulate_face_track(rng, n_frames, episodes, speaking, dynamics)
    frames = [renderer.render(*track.frame(i), noise_seed=i) for i in range(n_frames)]
    write_video(job.path, frames, cfg.fps)
    caption = caption_clip(track, rng_for(job.seed, job.stream, 2, job.index), speaking)
    episode = episodes[0] if episodes else None
    return {
        "name": job.name, "identity": f"id{job.identity:04d}", "label": job.label,
        "frames": n_frames, "intensity": round(intensity, 4), "speaking": speaking is not None,
        "episode_s": None if episode is None else [
            round(v, 3) for v in (episode.start, episode.onset, episode.apex, episode.offset)
        ],
        "peak_aus": au_dict(track.aus.max(axis=0), threshold=0.05), "caption": caption,
    }  # fmt: skip


def _balanced(names: list[str], count: int, rng: np.random.Generator) -> list[str]:
    """``count`` labels cycling through ``names`` (each within one of the others), shuffled."""
    names = [names[i] for i in rng.permutation(len(names))]  # which classes get the extra clips
    labels = [names[i % len(names)] for i in range(count)]
    return [labels[i] for i in rng.permutation(count)]


def _quota(frequencies: dict[str, float], count: int) -> list[str]:
    """Labels in the given proportions (largest remainder), each class at least once."""
    names = list(frequencies)
    share = np.asarray([frequencies[n] for n in names]) / sum(frequencies.values())
    counts = np.floor(share * count).astype(int)
    for i in np.argsort(-(share * count - counts), kind="stable")[: count - counts.sum()]:
        counts[i] += 1
    for i in np.flatnonzero(counts == 0):
        if count >= len(names):
            counts[i], counts[np.argmax(counts)] = 1, counts[np.argmax(counts)] - 1
    return [n for n, c in zip(names, counts, strict=True) for _ in range(c)]


def _fold_of_identity(n_identities: int, rng: np.random.Generator) -> np.ndarray:
    """Fold (1-5) whose test split holds each identity: five near-equal random groups."""
    fold = np.empty(n_identities, int)
    for k, group in enumerate(np.array_split(rng.permutation(n_identities), N_FOLDS), start=1):
        fold[group] = k
    return fold


def _run_jobs(jobs: list[_ClipJob], workers: int, progress: ProgressHook, task: str) -> list[dict]:
    progress.start(task, total=len(jobs), unit="clip")
    results = []
    per_person = jobs[0].config.clips_per_identity if jobs else 1
    for result in parallel_map(_render_clip, jobs, workers, chunksize=per_person):
        results.append(result)
        progress.advance(task)
    progress.end(task)
    return results


def _meta(kind: str, seed: int, cfg: ClipSetConfig, clips: list[dict], folds) -> dict:
    return {
        "generator": f"emoclip-clinic synth {kind}", "seed": seed,
        "settings": dataclasses.asdict(cfg), "provenance": provenance(),
        "folds": {f"set_{k}": sorted(f"id{i:04d}" for i in np.flatnonzero(folds == k))
                  for k in range(1, N_FOLDS + 1)},
        "label_counts": dict(sorted(Counter(c["label"] for c in clips).items())), "clips": clips,
    }  # fmt: skip


def _jobs(root_clips: Path, labels: list[str], cfg: ClipSetConfig, seed: int, stream: int):
    return [
        _ClipJob(
            name=f"{i + 1:05d}",
            identity=i // cfg.clips_per_identity,
            label=label,
            index=i,
            seed=seed,
            stream=stream,
            config=cfg,
            path=root_clips / f"{i + 1:05d}.mp4",
        )
        for i, label in enumerate(labels)
    ]


def _split_rows(clips: list[dict], folds: np.ndarray, fold: int, split: str) -> list[dict]:
    """Clips of one fold's split: its test split holds the identities of that fold."""
    return [c for c in clips if (folds[int(c["identity"][2:])] == fold) == (split == "test")]


def _write_identities(root: Path, clips: list[dict]) -> None:
    write_text(root / "identities.txt", "".join(f"{c['name']}\t{c['identity']}\n" for c in clips))


def _write_mafw_annotations(root: Path, clips: list[dict], folds: np.ndarray) -> None:
    """MAFW's annotation files: 5 folds x train/test x with/without captions x label type."""
    for label_type in ("single", "compound"):
        subset = [c for c in clips if ("_" in c["label"]) == (label_type == "compound")]
        if not subset:
            continue
        for fold in range(1, N_FOLDS + 1):
            for split in ("train", "test"):
                rows = _split_rows(subset, folds, fold, split)
                for captions, folder in ((True, "with_caption"), (False, "no_caption")):
                    lines = [
                        f"{c['name']}.mp4\t{c['label']}"
                        + (f"\t{CHINESE_PLACEHOLDER}\t{c['caption']}" if captions else "")
                        for c in rows
                    ]
                    path = root / "Train & Test Set" / label_type / folder / f"set_{fold}"
                    text = "".join(line + "\n" for line in lines)
                    write_text(path / f"{split}.txt", text, encoding="gbk")


def make_mafw(
    out_dir: str | Path,
    config: ClipSetConfig | None = None,
    *,
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    progress: ProgressHook | None = None,
    **settings,
) -> ClipSetSummary:
    """Write a captioned synthetic expression data set in MAFW's layout.

    Args:
        out_dir: the data-set folder (created; must be empty unless ``overwrite``).
        config: size and look; :data:`MAFW_DEFAULTS` when None.
        seed: the only source of randomness: same seed, same files.
        workers: processes rendering clips (the output does not depend on it).
        overwrite: replace a previous synthetic set in ``out_dir``.
        progress: receives one step per clip.
        **settings: fields of :class:`ClipSetConfig` that override ``config``.

    Returns:
        Where the set is and what it holds.

    Raises:
        ConfigError: an invalid setting, unknown style, or a non-empty ``out_dir``.
    """
    cfg, seed = _configure(config, MAFW_DEFAULTS, settings), check_seed(seed)
    root = prepare_out_dir(out_dir, MAFW_OUTPUTS, overwrite)
    (root / "data" / "clips").mkdir(parents=True, exist_ok=True)
    rng = rng_for(seed, STREAM_MAFW, 3)
    folds = _fold_of_identity(cfg.n_identities, rng)
    n_compound = round(cfg.compound_fraction * cfg.n_clips)
    compounds = list(load_prototypes().compound_names())
    labels = _balanced(list(EMOTIONS), cfg.n_clips - n_compound, rng)
    labels += _balanced(compounds, n_compound, rng)
    labels = [labels[i] for i in rng.permutation(len(labels))]
    jobs = _jobs(root / "data" / "clips", labels, cfg, seed, STREAM_MAFW)
    clips = _run_jobs(jobs, workers, progress or NO_PROGRESS, "synth mafw")
    _write_mafw_annotations(root, clips, folds)
    _write_identities(root, clips)
    write_json(root / "synth_meta.json", _meta("mafw", seed, cfg, clips, folds))
    return ClipSetSummary(root, len(clips), dict(Counter(labels)), sum(c["frames"] for c in clips))


def make_dfew(
    out_dir: str | Path,
    config: ClipSetConfig | None = None,
    *,
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    progress: ProgressHook | None = None,
    **settings,
) -> ClipSetSummary:
    """Write a synthetic seven-class data set in DFEW's official layout.

    Classes follow DFEW's imbalance (:data:`DFEW_FREQUENCIES`, every class at least once);
    identities are drawn from another seed stream than MAFW's, and the default style is
    ``"dfew"``. Clips are ``Clip/clip_224x224_avi/<id>.mp4`` (at ``size``, not 224 pixels);
    labels are ``EmoLabel_DataSplit/{train,test}(single-labeled)/set_<k>.csv``.

    Args:
        out_dir: the data-set folder (created; must be empty unless ``overwrite``).
        config: size and look; :data:`DFEW_DEFAULTS` when None.
        seed: the only source of randomness: same seed, same files.
        workers: processes rendering clips (the output does not depend on it).
        overwrite: replace a previous synthetic set in ``out_dir``.
        progress: receives one step per clip.
        **settings: fields of :class:`ClipSetConfig` that override ``config``.

    Returns:
        Where the set is and what it holds.

    Raises:
        ConfigError: an invalid setting, unknown style, or a non-empty ``out_dir``.
    """
    cfg, seed = _configure(config, DFEW_DEFAULTS, settings), check_seed(seed)
    root = prepare_out_dir(out_dir, DFEW_OUTPUTS, overwrite)
    clip_dir = root / "Clip" / "clip_224x224_avi"
    clip_dir.mkdir(parents=True, exist_ok=True)
    rng = rng_for(seed, STREAM_DFEW, 3)
    folds = _fold_of_identity(cfg.n_identities, rng)
    labels = _quota(DFEW_FREQUENCIES, cfg.n_clips)
    labels = [labels[i] for i in rng.permutation(len(labels))]
    jobs = _jobs(clip_dir, labels, cfg, seed, STREAM_DFEW)
    clips = _run_jobs(jobs, workers, progress or NO_PROGRESS, "synth dfew")
    for fold in range(1, N_FOLDS + 1):
        for split in ("train", "test"):
            rows = _split_rows(clips, folds, fold, split)
            text = "video_name,label\n" + "".join(
                f"{c['name']},{DFEW_ORDER.index(c['label']) + 1}\n" for c in rows
            )
            folder = root / "EmoLabel_DataSplit" / f"{split}(single-labeled)"
            write_text(folder / f"set_{fold}.csv", text)
    _write_identities(root, clips)
    write_json(root / "synth_meta.json", _meta("dfew", seed, cfg, clips, folds))
    return ClipSetSummary(root, len(clips), dict(Counter(labels)), sum(c["frames"] for c in clips))
