"""Synthetic interview cohorts: recordings, true face tracks, ratings, truth and the ceiling.

``make_interviews`` samples a cohort from the latent model (:mod:`emoclip_clinic.synth.cohort`),
plans each interview's timelines (:mod:`emoclip_clinic.synth.scenes`), renders the patient in a
consultation room at the recording's size, sometimes with the interviewer's face in a corner
tile and stretches without the patient's face, and streams the frames into an H.264 file while
writing the true face boxes per frame. Memory does not grow with the length of the frames (the
per-frame tracks are a few hundred bytes per frame). Output folder::

    recordings/<interview_id>.mp4      H.264, yuv420p, width x height at fps
    tracks/<interview_id>.csv          OpenFace-style true face boxes (see write_track_row)
    labels_panss.csv, labels_cains.csv rated items (pass emoclip_clinic.scoring.labels.read_labels)
    truth.csv                          factor, domain and item severities, behaviour, realised scene
    ceiling.json, ceiling.csv          oracle PCC per item and total
    synth_meta.json                    seed, settings, model, versions
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.synth.cohort import LatentModel, sample_cohort
from emoclip_clinic.synth.cohort_tables import write_cohort_tables
from emoclip_clinic.synth.face import FaceRenderer, Identity, Pose
from emoclip_clinic.synth.scenes import LEFT, OCCLUDED, Scene, SceneSettings, plan_scene
from emoclip_clinic.synth.styles import (
    RenderStyle,
    background_image,
    degrade,
    get_style,
    vary_style,
)
from emoclip_clinic.synth.writing import (
    DECORD_BAD_WIDTHS,
    STREAM_COHORT,
    STREAM_INTERVIEW,
    atomic_open,
    check_seed,
    parallel_map,
    prepare_out_dir,
    provenance,
    rng_for,
    write_json,
)
from emoclip_clinic.video.writer import VideoWriter

TRACK_COLUMNS = ("frame", "face_id", "timestamp", "confidence", "success",
                 "face_x", "face_y", "face_w", "face_h", "role")  # fmt: skip
INTERVIEW_OUTPUTS = ("recordings", "tracks", "labels_panss.csv", "labels_cains.csv", "truth.csv",
                     "ceiling.json", "ceiling.csv", "synth_meta.json")  # fmt: skip
_TILE = 0.3  # interviewer tile size, fraction of the frame's width and height
_SHEET = (232, 230, 222)  # colour of the sheet that occludes the face


@dataclass(frozen=True)
class InterviewConfig:
    """Size of the cohort and of its recordings."""

    n_patients: int = 30  # patients in the cohort
    interviews_per_patient: tuple[int, int] = (1, 3)  # range of interviews per patient
    minutes: float = 3.0  # length of each recording (enough episodes to estimate expressivity)
    width: int = 640  # frame width, pixels (even)
    height: int = 480  # frame height, pixels (even)
    fps: float = 25.0  # frames per second
    style: str = "interview"  # registered rendering style of the room
    scene: SceneSettings = field(default_factory=SceneSettings)  # tile, absences, questions

    def __post_init__(self) -> None:
        problems = []
        if self.n_patients < 1:
            problems.append(f"n_patients must be >= 1, got {self.n_patients}")
        low, high = self.interviews_per_patient
        if not 1 <= low <= high:
            problems.append(f"interviews_per_patient must be 1 <= low <= high, got {low}, {high}")
        if not 0 < self.minutes <= 600:
            problems.append(f"minutes must be within (0, 600], got {self.minutes}")
        odd = self.width % 2 or self.height % 2 or self.width in DECORD_BAD_WIDTHS
        if min(self.width, self.height) < 64 or odd:
            problems.append(
                f"size must be even, >= 64 pixels and not 72 wide (decord), "
                f"got {self.width}x{self.height}"
            )
        if self.fps <= 0:
            problems.append(f"fps must be > 0, got {self.fps}")
        if problems:
            raise ConfigError("; ".join(problems))
        get_style(self.style)

    @property
    def n_frames(self) -> int:
        """Frames per recording."""
        return max(1, round(self.minutes * 60 * self.fps))


@dataclass(frozen=True)
class InterviewSetSummary:
    """What ``make_interviews`` made."""

    root: Path  # the output folder
    n_patients: int  # patients
    n_interviews: int  # recordings
    n_frames: int  # frames written in all
    ceiling: dict[str, dict[str, float]]  # scale -> item/total -> oracle PCC


@dataclass(frozen=True)
class _InterviewJob:
    interview_id: str  # e.g. "P001_I2"
    patient: int  # patient index (seeds the patient's face)
    index: int  # interview index (seeds the scene)
    seed: int  # user seed
    config: InterviewConfig  # sizes
    behaviour: dict  # behaviour parameters
    root: Path  # output folder


class _Scenery:
    """Renderers and cached images of one interview."""

    def __init__(self, job: _InterviewJob, rng: np.random.Generator) -> None:
        cfg = job.config
        base = dataclasses.replace(get_style(cfg.style), width=cfg.width, height=cfg.height)
        self.style = vary_style(base, rng, amount=0.6)
        identity = Identity.sample(rng_for(job.seed, STREAM_INTERVIEW, 0, job.patient))
        self.patient = FaceRenderer(identity, self.style)
        # The room without the patient, for stretches where the patient has left.
        room = np.array(background_image(self.style, cfg.width, cfg.height), np.uint8)
        self.empty_room = degrade(room, self.style)
        tw, th = (2 * round(_TILE * v / 2) for v in (cfg.width, cfg.height))
        self.tile_xy = (cfg.width - tw - cfg.width // 40, cfg.height - th - cfg.height // 40)
        tile_style = RenderStyle(
            name="interviewer-tile", width=tw, height=th, face_height=0.55, background="studio",
            bg_colors=((180, 185, 190), (90, 95, 100)), bg_seed=int(rng.integers(2**31 - 1)),
        )  # fmt: skip
        self.interviewer = FaceRenderer(Identity.sample(rng), tile_style)

    def patient_box(self, pose: Pose, aus: np.ndarray) -> tuple[float, float, float, float]:
        """The patient's true box (x, y, w, h), clipped to the frame."""
        x0, y0, x1, y1 = self.patient.face_box(pose, aus)
        return _clip_box(x0, y0, x1, y1, 0, 0, self.style.width, self.style.height)

    def interviewer_box(self, pose: Pose, aus: np.ndarray) -> tuple[float, float, float, float]:
        """The interviewer's true box in frame pixels, clipped to the tile."""
        x0, y0, x1, y1 = self.interviewer.face_box(pose, aus)
        tx, ty = self.tile_xy
        w, h = self.interviewer.width, self.interviewer.height
        return _clip_box(x0 + tx, y0 + ty, x1 + tx, y1 + ty, tx, ty, tx + w, ty + h)


def _clip_box(x0, y0, x1, y1, left, top, right, bottom) -> tuple[float, float, float, float]:
    x0, x1 = max(x0, left), min(x1, right)
    y0, y1 = max(y0, top), min(y1, bottom)
    return x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0)


def _track_row(frame: int, face_id: int, fps: float, box, role: str) -> list[str]:
    """One OpenFace-style row; ``frame`` is 1-based as OpenFace writes it; box None = absent."""
    head = [str(frame), str(face_id), f"{(frame - 1) / fps:.3f}"]
    if box is None:
        return [*head, "0.00", "0", "", "", "", "", role]
    return [*head, "1.00", "1", *(f"{v:.1f}" for v in box), role]


def _occlude(frame: np.ndarray, box: tuple[float, float, float, float]) -> None:
    """Cover the face with a sheet (a held-up page) reaching a quarter beyond the box."""
    x, y, w, h = box
    height, width = frame.shape[:2]
    x0, x1 = max(0, int(x - 0.25 * w)), min(width, int(x + 1.25 * w))
    y0, y1 = max(0, int(y - 0.25 * h)), min(height, int(y + 1.25 * h))
    frame[y0:y1, x0:x1] = _SHEET
    frame[y0:y1, x0 : x0 + 2] = frame[y0:y1, max(0, x1 - 2) : x1] = (150, 148, 140)


def _compose(scenery: _Scenery, scene: Scene, i: int, rows, fps: float) -> np.ndarray:
    """Frame ``i`` of the recording; writes its track rows."""
    aus, pose, gaze = scene.patient.frame(i)
    if scene.absent[i] == LEFT:
        frame, box = scenery.empty_room.copy(), None
    else:
        frame = scenery.patient.render(aus, pose, gaze, noise_seed=i)
        box = scenery.patient_box(pose, aus)
        if scene.absent[i] == OCCLUDED:
            _occlude(frame, box)
            box = None
    rows.writerow(_track_row(i + 1, 0, fps, box, "patient"))
    if scene.interviewer is not None and scene.interviewer_visible[i]:
        t_aus, t_pose, t_gaze = scene.interviewer.frame(i)
        tile = scenery.interviewer.render(t_aus, t_pose, t_gaze, noise_seed=i)
        tx, ty = scenery.tile_xy
        frame[ty : ty + tile.shape[0], tx : tx + tile.shape[1]] = tile
        box = scenery.interviewer_box(t_pose, t_aus)
        rows.writerow(_track_row(i + 1, 1, fps, box, "interviewer"))
    return frame


def _render_interview(job: _InterviewJob, on_frames: Callable[[int], None] | None = None) -> dict:
    """Write one recording and its track file; return what the scene realised (in a worker)."""
    cfg, n = job.config, job.config.n_frames
    rng = rng_for(job.seed, STREAM_INTERVIEW, 1, job.index)
    scenery = _Scenery(job, rng)
    scene = plan_scene(rng, n, cfg.fps, job.behaviour, cfg.scene)
    video = job.root / "recordings" / f"{job.interview_id}.mp4"
    with (
        VideoWriter(video, cfg.fps, cfg.width, cfg.height) as writer,
        atomic_open(job.root / "tracks" / f"{job.interview_id}.csv") as handle,
    ):
        rows = csv.writer(handle, lineterminator="\n")
        rows.writerow(TRACK_COLUMNS)
        for i in range(n):
            writer.write(_compose(scenery, scene, i, rows, cfg.fps))
            if on_frames is not None and (i + 1) % 250 == 0:
                on_frames(250)
    if on_frames is not None:
        on_frames(n % 250)
    return {
        "frames": n,
        "episodes_per_min": round(len(scene.episodes) / (n / cfg.fps / 60), 3),
        "talk_fraction": round(float(scene.patient_speaking.mean()), 4),
        "head_averted_fraction": round(float(scene.head_averted.mean()), 4),
        "interviewer_fraction": round(float(scene.interviewer_visible.mean()), 4),
        "absent_fraction": round(float((scene.absent > 0).mean()), 4),
    }


def _configure(config: InterviewConfig | None, settings: dict) -> InterviewConfig:
    unknown = set(settings) - {f.name for f in dataclasses.fields(InterviewConfig)}
    if unknown:
        raise ConfigError(f"unknown interview settings: {', '.join(sorted(unknown))}")
    return dataclasses.replace(config or InterviewConfig(), **settings)


def _render_all(jobs: list[_InterviewJob], workers: int, progress: ProgressHook) -> list[dict]:
    task = "synth interviews"
    progress.start(task, total=sum(j.config.n_frames for j in jobs), unit="frame")
    if workers == 1:
        results = [_render_interview(job, lambda k: progress.advance(task, k)) for job in jobs]
    else:
        results = []
        for job, result in zip(jobs, parallel_map(_render_interview, jobs, workers), strict=True):
            results.append(result)
            progress.advance(task, job.config.n_frames)
    progress.end(task)
    return results


def make_interviews(
    out_dir: str | Path,
    config: InterviewConfig | None = None,
    *,
    seed: int = 0,
    model: LatentModel | None = None,
    workers: int = 1,
    overwrite: bool = False,
    progress: ProgressHook | None = None,
    **settings,
) -> InterviewSetSummary:
    """Write a synthetic interview cohort (see the module docstring for the files).

    Args:
        out_dir: the output folder (created; must be empty unless ``overwrite``).
        config: cohort size and recording format; :class:`InterviewConfig` defaults when None.
        seed: the only source of randomness: same seed, same files.
        model: the latent model; defaults when None.
        workers: processes rendering recordings (the output does not depend on it).
        overwrite: replace a previous synthetic cohort in ``out_dir``.
        progress: receives the frames written.
        **settings: fields of :class:`InterviewConfig` that override ``config``.

    Returns:
        Where the cohort is, its size and its oracle ceiling.

    Raises:
        ConfigError: an invalid setting (no patients, a length <= 0, an unknown style) or a
            non-empty ``out_dir``.
    """
    cfg, seed = _configure(config, settings), check_seed(seed)
    model = model or LatentModel()
    root = prepare_out_dir(out_dir, INTERVIEW_OUTPUTS, overwrite)
    for folder in ("recordings", "tracks"):
        (root / folder).mkdir(exist_ok=True)
    cohort = sample_cohort(
        model, rng_for(seed, STREAM_COHORT), cfg.n_patients, cfg.interviews_per_patient
    )
    behaviour = cohort.population.behaviour
    jobs = [
        _InterviewJob(
            interview_id=iid,
            patient=int(cohort.population.patient[row]),
            index=row,
            seed=seed,
            config=cfg,
            behaviour={k: float(v[row]) for k, v in behaviour.items()},
            root=root,
        )
        for row, iid in enumerate(cohort.interview_ids)
    ]
    realised = _render_all(jobs, workers, progress or NO_PROGRESS)
    ceiling = write_cohort_tables(root, cohort, model, realised)
    pairs = zip(jobs, realised, strict=True)
    per_interview = [{"interview_id": job.interview_id, **seen} for job, seen in pairs]
    write_json(root / "synth_meta.json", {
        "generator": "emoclip-clinic synth interviews", "seed": seed,
        "settings": dataclasses.asdict(cfg), "model": dataclasses.asdict(model),
        "provenance": provenance(), "interviews": per_interview,
    })  # fmt: skip
    return InterviewSetSummary(
        root, cfg.n_patients, len(jobs), sum(r["frames"] for r in realised), ceiling.oracle
    )
