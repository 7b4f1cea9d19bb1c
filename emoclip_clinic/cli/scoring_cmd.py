"""``embed``, ``loocv``, ``train-head`` and ``score``: the interview-scoring commands."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from emoclip_clinic.cli import app
from emoclip_clinic.devices import DEVICE_HELP


class FaceMode(StrEnum):
    """Where the patient's face comes from."""

    auto = "auto"
    tracks = "tracks"
    detector = "detector"
    whole_frame = "whole-frame"


Checkpoint = Annotated[
    Path, typer.Option(help="EmoCLIP checkpoint folder (frozen encoder).", exists=True)
]
Cache = Annotated[Path, typer.Option(help="Embedding cache folder.")]
Faces = Annotated[
    FaceMode, typer.Option(help="auto: track files if present, else the face detector.")
]
TracksDir = Annotated[
    Path | None,
    typer.Option(
        exists=True,
        file_okay=False,
        help="Folder of <recording>.csv face tracks (OpenFace-style) [default: tracks/ beside "
        "the recordings' folder].",
    ),
]
Detector = Annotated[str, typer.Option(help="Face detector for --faces detector/auto.")]
ClipLen = Annotated[
    int,
    typer.Option("--clip-len", "--frames", min=1, help="Frames per clip after downsampling."),
]  # --frames as pretrain and zeroshot name it
Downsample = Annotated[int, typer.Option(min=1, help="Keep every k-th frame.")]
Stride = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Sampled frames between the starts of consecutive clips; less than the clip "
        "length makes clips overlap [default: the clip length, no overlap].",
    ),
]
Margin = Annotated[
    float,
    typer.Option(min=1.0, help="Side of the square face crop as a multiple of the face box."),
]
Device = Annotated[str, typer.Option(help=DEVICE_HELP)]
Workers = Annotated[
    int,
    typer.Option(
        min=1,
        help="Recordings embedded at once, each in its own process with its own copy of the "
        "encoder (decoding and cropping bound the speed on a GPU).",
    ),
]


class HeadLoss(StrEnum):
    """What the symptom head's training fits to the ratings (emoclip_clinic.scoring.head)."""

    interview = "interview"
    clip = "clip"


HeadLossOption = Annotated[
    HeadLoss,
    typer.Option(
        help="Train the head so that the mean of an interview's clip predictions fits its "
        "ratings (interview), or label every clip with them (clip; predictions shrink "
        "towards the cohort mean when behaviour comes and goes between clips).",
    ),
]


class HeadInputs(StrEnum):
    """What the symptom head sees of each clip (emoclip_clinic.scoring.head.head_inputs)."""

    centred = "centred"
    clip = "clip"
    clip_and_centred = "clip+centred"


HeadInputsOption = Annotated[
    HeadInputs,
    typer.Option(
        help="The head's per-clip inputs: the clip's embedding minus its recording's mean "
        "(centred: only what changes within an interview counts), the embedding itself "
        "(clip, the paper's head), or both.",
    ),
]


class HeadPrecision(StrEnum):
    """Precision of the symptom head's matrix products in training."""

    fp32 = "fp32"
    bf16 = "bf16"


HeadPrecisionOption = Annotated[
    HeadPrecision,
    typer.Option(
        help="Matrix products of head training in fp32, or in bf16: 1.4-1.8x as fast on "
        "CPUs with bf16 units (AMX, AVX512-BF16; see docs/benchmarks.md), slower on others. "
        "Predictions move far less than with another --seed (tests/test_scoring.py).",
    ),
]
Patients = Annotated[
    Path | None,
    typer.Option(
        exists=True,
        dir_okay=False,
        help="The study's patient list (a CSV with a patient_id column, or one id per line): "
        "labels naming any other patient are refused, so that a mistyped id cannot split one "
        "patient in two across the leave-one-patient-out folds.",
    ),
]
Occlusion = Annotated[
    bool, typer.Option(help="Leave out clips whose lower face is mostly covered (a hand).")
]


def _embed_settings(clip_len: int, downsample: int, occlusion: bool, stride: int | None,
                    margin: float):  # fmt: skip
    from emoclip_clinic.scoring.embed import EmbedSettings

    limit = EmbedSettings.max_occluded_fraction if occlusion else None
    return EmbedSettings(downsample=downsample, clip_len=clip_len, stride=stride, margin=margin,
                         max_occluded_fraction=limit)  # fmt: skip


def _faces(mode: FaceMode, tracks: Path | None, detector: str):
    from emoclip_clinic.scoring.pipeline import FaceOptions

    return FaceOptions(mode.value, tracks, detector)


def _job(labels, scale, checkpoint, cache, embed, faces, device, seed, workers, head_loss,
         head_inputs, head_precision, patients):  # fmt: skip
    from emoclip_clinic.scoring.head import HeadSettings
    from emoclip_clinic.scoring.jobs import CohortJob

    return CohortJob(labels, scale, checkpoint, cache, embed, faces,
                     HeadSettings(seed=seed, loss=head_loss.value, inputs=head_inputs.value,
                                  precision=head_precision.value),
                     device, workers, patients)  # fmt: skip


def _named(recordings: list[Path]) -> dict[str, Path]:
    """Recordings by the name printed for them: the file's stem, or its path where stems repeat."""
    unique = list(dict.fromkeys(recordings))
    stems = [p.stem for p in unique]
    return {(p.stem if stems.count(p.stem) == 1 else str(p)): p for p in unique}


@app.command("embed")
def embed_command(
    recordings: Annotated[list[Path], typer.Argument(help="Recordings to embed.")],
    checkpoint: Checkpoint,
    cache: Cache = Path("emoclip_cache"),
    faces: Faces = FaceMode.auto,
    tracks: TracksDir = None,
    detector: Detector = "builtin",
    clip_len: ClipLen = 32,
    downsample: Downsample = 4,
    stride: Stride = None,
    margin: Margin = 1.4,
    occlusion: Occlusion = True,
    device: Device = "cpu",
    workers: Workers = 1,
) -> None:
    """Cut recordings into clips, find the patient's face, and cache clip embeddings."""
    from emoclip_clinic.cli.console import RichProgress, stdout
    from emoclip_clinic.scoring.pipeline import embed_cohort, load_encoder

    encoder = load_encoder(checkpoint, device)
    with RichProgress() as progress:
        done, failed = embed_cohort(_named(recordings), encoder,
                                    _embed_settings(clip_len, downsample, occlusion, stride,
                                                    margin),
                                    _faces(faces, tracks, detector), cache, progress,
                                    workers)  # fmt: skip
    for name, entry in done.items():
        occluded = f", {int(entry.occluded.sum())} occluded" if entry.occluded.any() else ""
        stdout.print(f"{name}: {int(entry.usable.sum())}/{len(entry.usable)} clips usable "
                     f"({int(entry.no_face.sum())} with too little face{occluded})")  # fmt: skip
    for name, reason in failed.items():
        stdout.print(f"[red]{name}: failed: {reason}[/]")
    if failed:
        raise typer.Exit(1)


@app.command("loocv")
def loocv_command(
    labels: Annotated[Path, typer.Argument(help="Labels CSV.", exists=True, dir_okay=False)],
    checkpoint: Checkpoint,
    scale: Annotated[str, typer.Option(help="panss, cains, or a scale name/file.")] = "panss",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("loocv"),
    cache: Cache = Path("emoclip_cache"),
    faces: Faces = FaceMode.auto,
    tracks: TracksDir = None,
    detector: Detector = "builtin",
    clip_len: ClipLen = 32,
    downsample: Downsample = 4,
    stride: Stride = None,
    margin: Margin = 1.4,
    occlusion: Occlusion = True,
    n_boot: Annotated[int, typer.Option(help="Patient-bootstrap replicates.")] = 2000,
    device: Device = "cpu",
    workers: Workers = 1,
    head_loss: HeadLossOption = HeadLoss.interview,
    head_inputs: HeadInputsOption = HeadInputs.centred,
    head_precision: HeadPrecisionOption = HeadPrecision.fp32,
    patients: Patients = None,
    seed: Annotated[int, typer.Option(help="Seed of head training and bootstrap.")] = 0,
) -> None:
    """Leave-one-patient-out cross-validation of the symptom head, with agreement statistics."""
    from emoclip_clinic.cli.console import RichProgress, stdout
    from emoclip_clinic.cli.tables import agreement_table
    from emoclip_clinic.scoring.jobs import run_loocv

    embed = _embed_settings(clip_len, downsample, occlusion, stride, margin)
    job = _job(labels, _scale_name(scale), checkpoint, cache, embed,
               _faces(faces, tracks, detector), device, seed, workers, head_loss, head_inputs,
               head_precision, patients)  # fmt: skip
    with RichProgress() as progress:
        result = run_loocv(job, out, n_boot=n_boot, seed=seed, progress=progress)
    stdout.print(agreement_table(result))
    names = ("loocv.json", "loocv_agreement.csv", "loocv_predictions.csv")
    stdout.print("results: " + ", ".join(str(out / name) for name in names))


@app.command("train-head")
def train_head_command(
    labels: Annotated[Path, typer.Argument(help="Labels CSV.", exists=True, dir_okay=False)],
    checkpoint: Checkpoint,
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle folder to write.")],
    scale: Annotated[str, typer.Option(help="panss, cains, or a scale name/file.")] = "panss",
    cache: Cache = Path("emoclip_cache"),
    faces: Faces = FaceMode.auto,
    tracks: TracksDir = None,
    detector: Detector = "builtin",
    clip_len: ClipLen = 32,
    downsample: Downsample = 4,
    stride: Stride = None,
    margin: Margin = 1.4,
    occlusion: Occlusion = True,
    device: Device = "cpu",
    workers: Workers = 1,
    head_loss: HeadLossOption = HeadLoss.interview,
    head_inputs: HeadInputsOption = HeadInputs.centred,
    head_precision: HeadPrecisionOption = HeadPrecision.fp32,
    patients: Patients = None,
    seed: Annotated[int, typer.Option(help="Seed of head training.")] = 0,
) -> None:
    """Fit the symptom head on the whole cohort and save it as a bundle for `score`."""
    from emoclip_clinic.cli.console import RichProgress, stdout
    from emoclip_clinic.scoring.jobs import run_train_head

    embed = _embed_settings(clip_len, downsample, occlusion, stride, margin)
    job = _job(labels, _scale_name(scale), checkpoint, cache, embed,
               _faces(faces, tracks, detector), device, seed, workers, head_loss, head_inputs,
               head_precision, patients)  # fmt: skip
    with RichProgress() as progress:
        info = run_train_head(job, out, seed=seed, progress=progress)
    stdout.print(f"head bundle: {out} ({info['cohort']['interviews']} interviews)")


@app.command("score")
def score_command(
    recording: Annotated[Path, typer.Argument(help="Interview recording.")],
    head: Annotated[Path, typer.Option(help="Bundle from train-head.", exists=True)],
    checkpoint: Checkpoint,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("scores"),
    scale: Annotated[
        str | None, typer.Option(help="Refuse the head unless it predicts this scale.")
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="Embedding cache folder.")] = None,
    faces: Annotated[
        FaceMode | None,
        typer.Option(
            help="auto: track files if present, else the face detector [default: "
            "whole-frame if the head was trained on whole frames, else auto]."
        ),
    ] = None,
    tracks: TracksDir = None,
    detector: Detector = "builtin",
    occlusion: Annotated[
        bool | None,
        typer.Option(help="Leave out clips with the lower face covered [default: as trained]."),
    ] = None,
    report: Annotated[bool, typer.Option(help="Also write the patient HTML report.")] = False,
    device: Device = "cpu",
) -> None:
    """Score one recording: item scores with 95% intervals and a per-clip timeline."""
    from emoclip_clinic.cli.console import RichProgress, stdout
    from emoclip_clinic.cli.tables import score_table
    from emoclip_clinic.scoring.score import score_recording

    with RichProgress() as progress:
        if faces is None and (tracks is not None or detector != "builtin"):
            faces = FaceMode.auto  # a track folder or a detector was asked for: face crops
        chosen = None if faces is None else _faces(faces, tracks, detector)
        result = score_recording(recording, head, checkpoint, out, chosen,
                                 cache, _scale_name(scale) if scale else None, device,
                                 progress, occlusion)  # fmt: skip
    stdout.print(score_table(result))
    stdout.print(f"results: {out / (recording.stem + '_score.json')}")
    if report:
        from emoclip_clinic.report import render_patient_report

        path = render_patient_report(out / f"{recording.stem}_score.json", out)
        stdout.print(f"report: {path}")


def _scale_name(scale: str) -> str:
    return {"panss": "panss_negative", "cains": "cains_expression"}.get(scale, scale)
