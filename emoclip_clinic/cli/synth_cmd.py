"""``emoclip-clinic synth``: make the synthetic face world (clip sets and interview cohorts).

Options left unset take the library's defaults (``ClipSetConfig``, ``InterviewConfig``), so the
defaults live in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from emoclip_clinic.cli import app

synth_app = typer.Typer(
    help="Make the synthetic face world: captioned clips and interview cohorts.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(
    synth_app,
    name="synth",
    help="Make the synthetic face world: captioned clips and interview cohorts.",
)

Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created; must be empty).")]
Seed = Annotated[int, typer.Option(help="Seed: same seed, same files.")]
Workers = Annotated[int, typer.Option(help="Rendering processes (output does not depend on it).")]
Overwrite = Annotated[bool, typer.Option(help="Replace an earlier synthetic set in --out.")]
Style = Annotated[str | None, typer.Option(help="Rendering style (mafw, dfew, interview, plain).")]
Fps = Annotated[float | None, typer.Option(help="Frames per second.")]


def _given(**values: Any) -> dict[str, Any]:
    """The options the user set (None means: the library's default)."""
    return {key: value for key, value in values.items() if value is not None}


def _range(names: tuple[str, str], given: tuple[Any, Any], default: tuple[Any, Any]):
    """A (low, high) setting from two options, each defaulting on its own; None if neither."""
    if given == (None, None):
        return None
    low, high = (d if g is None else g for g, d in zip(given, default, strict=True))
    if low > high:
        shown = [f"{name} {value}" + (f" ({name}'s default)" if g is None else "")
                 for name, value, g in zip(names, (low, high), given, strict=True)]  # fmt: skip
        raise typer.BadParameter(f"{shown[0]} is above {shown[1]}")
    return low, high


def _clip_set(kind: str, out: Path, seed: int, workers: int, overwrite: bool, **settings) -> None:
    from emoclip_clinic.cli.console import RichProgress, stdout
    from emoclip_clinic.synth import expression_sets

    make = expression_sets.make_mafw if kind == "mafw" else expression_sets.make_dfew
    defaults = expression_sets.MAFW_DEFAULTS if kind == "mafw" else expression_sets.DFEW_DEFAULTS
    settings["seconds"] = _range(("--min-seconds", "--max-seconds"), settings.pop("seconds"),
                                 defaults.seconds)  # fmt: skip
    with RichProgress() as progress:
        summary = make(out, seed=seed, workers=workers, overwrite=overwrite, progress=progress,
                       **_given(**settings))  # fmt: skip
    counts = ", ".join(f"{label} {n}" for label, n in sorted(summary.label_counts.items()))
    stdout.print(f"{summary.n_clips} clips ({summary.n_frames} frames) in {summary.root}")
    stdout.print(f"labels: {counts}", highlight=False)


@synth_app.command("mafw")
def mafw_command(
    out: Out = Path("synth_mafw"),
    seed: Seed = 0,
    identities: Annotated[int | None, typer.Option(min=5, help="People. [default: 40]")] = None,
    clips_per_identity: Annotated[
        int | None, typer.Option(min=1, help="Clips each. [default: 8]")
    ] = None,
    size: Annotated[int | None, typer.Option(help="Frame size, pixels. [default: 112]")] = None,
    fps: Fps = None,
    min_seconds: Annotated[float | None, typer.Option(help="Shortest clip. [default: 1.5]")] = None,
    max_seconds: Annotated[float | None, typer.Option(help="Longest clip. [default: 3]")] = None,
    compound_fraction: Annotated[
        float | None, typer.Option(help="Share of compound-label clips. [default: 0.25]")
    ] = None,
    style: Style = None,
    workers: Workers = 1,
    overwrite: Overwrite = False,
) -> None:
    """Captioned expression clips in MAFW's layout (11 classes and compounds, 5 folds)."""
    _clip_set(
        "mafw", out, seed, workers, overwrite, n_identities=identities,
        clips_per_identity=clips_per_identity, size=size, fps=fps,
        seconds=(min_seconds, max_seconds), compound_fraction=compound_fraction, style=style,
    )  # fmt: skip


@synth_app.command("dfew")
def dfew_command(
    out: Out = Path("synth_dfew"),
    seed: Seed = 0,
    identities: Annotated[int | None, typer.Option(min=5, help="People. [default: 30]")] = None,
    clips_per_identity: Annotated[
        int | None, typer.Option(min=1, help="Clips each. [default: 8]")
    ] = None,
    size: Annotated[int | None, typer.Option(help="Frame size, pixels. [default: 112]")] = None,
    fps: Fps = None,
    min_seconds: Annotated[float | None, typer.Option(help="Shortest clip. [default: 1.5]")] = None,
    max_seconds: Annotated[float | None, typer.Option(help="Longest clip. [default: 3]")] = None,
    style: Style = None,
    workers: Workers = 1,
    overwrite: Overwrite = False,
) -> None:
    """The seven basic classes in DFEW's layout, with DFEW's class imbalance."""
    _clip_set(
        "dfew", out, seed, workers, overwrite, n_identities=identities,
        clips_per_identity=clips_per_identity, size=size, fps=fps,
        seconds=(min_seconds, max_seconds), style=style,
    )  # fmt: skip


@synth_app.command("interviews")
def interviews_command(
    out: Out = Path("synth_interviews"),
    seed: Seed = 0,
    patients: Annotated[int | None, typer.Option(min=1, help="Patients. [default: 30]")] = None,
    min_interviews: Annotated[
        int | None, typer.Option(min=1, help="Fewest interviews per patient. [default: 1]")
    ] = None,
    max_interviews: Annotated[
        int | None, typer.Option(min=1, help="Most interviews per patient. [default: 3]")
    ] = None,
    minutes: Annotated[float | None, typer.Option(help="Recording length. [default: 3]")] = None,
    width: Annotated[int | None, typer.Option(help="Frame width. [default: 640]")] = None,
    height: Annotated[int | None, typer.Option(help="Frame height. [default: 480]")] = None,
    fps: Fps = None,
    style: Style = None,
    workers: Workers = 1,
    overwrite: Overwrite = False,
) -> None:
    """A patient cohort: recordings, true face tracks, PANSS/CAINS labels, truth and ceiling."""
    from emoclip_clinic.cli.console import RichProgress, stdout
    from emoclip_clinic.synth.interviews import InterviewConfig, make_interviews

    per_patient = _range(("--min-interviews", "--max-interviews"),
                         (min_interviews, max_interviews),
                         InterviewConfig().interviews_per_patient)  # fmt: skip
    settings = _given(n_patients=patients, interviews_per_patient=per_patient, minutes=minutes,
                      width=width, height=height, fps=fps, style=style)  # fmt: skip
    with RichProgress() as progress:
        summary = make_interviews(out, seed=seed, workers=workers, overwrite=overwrite,
                                  progress=progress, **settings)  # fmt: skip
    stdout.print(
        f"{summary.n_interviews} interviews of {summary.n_patients} patients "
        f"({summary.n_frames} frames) in {summary.root}"
    )
    for scale, values in summary.ceiling.items():
        shown = ", ".join(f"{item} {pcc:.2f}" for item, pcc in values.items())
        stdout.print(f"oracle PCC ({scale}): {shown}", highlight=False)


@synth_app.command("world")
def world_command(
    out: Out = Path("synth_world"),
    seed: Seed = 0,
    workers: Workers = 2,
    overwrite: Overwrite = False,
) -> None:
    """All three data sets at the demo's sizes, in OUT/mafw, OUT/dfew and OUT/interviews."""
    from emoclip_clinic.cli.console import RichProgress, stdout
    from emoclip_clinic.synth.world import make_world

    with RichProgress() as progress:
        summary = make_world(out, seed=seed, workers=workers, overwrite=overwrite,
                             progress=progress)  # fmt: skip
    stdout.print(
        f"mafw {summary.mafw.n_clips} clips, dfew {summary.dfew.n_clips} clips, "
        f"{summary.interviews.n_interviews} interviews in {out}"
    )
