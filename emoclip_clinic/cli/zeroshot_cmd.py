"""``emoclip-clinic zeroshot``: zero-shot facial expression recognition."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from emoclip_clinic.cli import app
from emoclip_clinic.cli.pretrain_cmd import LabelType  # MAFW: single or compound
from emoclip_clinic.devices import DEVICE_HELP


class Dataset(StrEnum):
    """Data-set layouts the readers know (the synthetic sets use the MAFW and DFEW ones)."""

    mafw = "mafw"
    dfew = "dfew"
    ferv39k = "ferv39k"
    afew = "afew"


class Split(StrEnum):
    """Splits every reader knows (AFEW's test split is its validation set)."""

    train = "train"
    test = "test"


DEFAULT_DESCRIPTIONS = {"mafw": "mafw11"}


@app.command("zeroshot")
def zeroshot_command(
    data: Annotated[Path, typer.Argument(help="Data-set folder.", exists=True, file_okay=False)],
    checkpoint: Annotated[
        Path, typer.Option(help="EmoCLIP checkpoint folder (e.g. RUN/best).", exists=True)
    ],
    dataset: Annotated[Dataset, typer.Option(help="Layout of DATA.")] = Dataset.mafw,
    fold: Annotated[int | None, typer.Option(help="Fold (MAFW, DFEW: 1-5).")] = None,
    split: Annotated[
        Split, typer.Option(help="Split to evaluate (AFEW: test is its validation set).")
    ] = Split.test,
    label_type: Annotated[
        LabelType, typer.Option(help="Single labels, or MAFW's compound classes.")
    ] = LabelType.single,
    descriptions: Annotated[
        list[str] | None,
        typer.Option(help="Description sets (name or JSON); repeat to compare wordings."),
    ] = None,
    templates: Annotated[
        str, typer.Option(help="Prompt-template ensemble ('none' to skip).")
    ] = "clip_templates",
    baseline: Annotated[
        Path | None, typer.Option(help="Frame-ensemble CLIP checkpoint (pretrain --pooling mean).")
    ] = None,
    frames: Annotated[
        int, typer.Option("--frames", "--clip-len", min=1, help="Frames per window.")
    ] = 16,
    downsample: Annotated[int, typer.Option(min=1, help="Temporal downsampling.")] = 4,
    windows: Annotated[
        int, typer.Option(min=1, help="Windows averaged per video (multi-clip).")
    ] = 1,
    linear_probe: Annotated[
        bool, typer.Option(help="Also fit the supervised MLP probe on the training split.")
    ] = False,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for intervals.")] = 1000,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("zeroshot"),
    workers: Annotated[
        int, typer.Option(min=0, help="Data-loader processes that decode clips (0: in this one).")
    ] = 0,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed of bootstrap and probe.")] = 0,
) -> None:
    """Recognise expressions from class descriptions; print and save the comparison table."""
    from emoclip_clinic.cli.console import RichProgress, console, stdout
    from emoclip_clinic.data.registry import candidate_classes, read_dataset
    from emoclip_clinic.zeroshot.outputs import table, write_outputs
    from emoclip_clinic.zeroshot.run import ZeroShotConfig, chance_levels, zeroshot

    test, report = read_dataset(dataset.value, data, fold, split.value, label_type.value)
    console.print(report.summary(), highlight=False)
    train = None
    if linear_probe:
        train, train_report = read_dataset(dataset.value, data, fold, "train", label_type.value)
        console.print(train_report.summary(), highlight=False)
    config = ZeroShotConfig(
        checkpoint=checkpoint, baseline_checkpoint=baseline,
        descriptions=descriptions or [DEFAULT_DESCRIPTIONS.get(dataset.value, "basic7")],
        templates=None if templates == "none" else templates, num_frames=frames,
        downsample=downsample, num_windows=windows, linear_probe=linear_probe,
        n_boot=n_boot, seed=seed, workers=workers, device=device,
    )  # fmt: skip
    with RichProgress() as progress:
        classes = None  # single labels: the descriptions' classes
        if label_type.value == "compound":  # every compound of the data set, whatever the fold
            classes = candidate_classes(dataset.value, data, label_type.value)
        result = zeroshot(config, test, train, progress, classes)
    chance = chance_levels(test, result.classes)
    name = f"{dataset.value}" + (f"_fold{fold}" if fold else "") + f"_{split.value}"
    context = {"dataset": dataset.value, "data": str(data), "fold": fold, "split": split.value,
               "chance": chance, "config": {k: str(v) for k, v in vars(config).items()},
               "read_report": report.skipped}  # fmt: skip
    files = write_outputs(result, out, name, context)
    _print_table(stdout, table(result), chance)
    stdout.print(f"results: {files[0]} (and {len(files) - 1} more files in {out})")


def _print_table(stdout, frame, chance: dict[str, float]) -> None:
    from rich.table import Table

    def undefined(value: float | None) -> bool:  # NaN, or None from the JSON form
        return value is None or value != value

    def cell(value: float, low: float | None = None, high: float | None = None) -> str:
        if undefined(value):
            return "-"
        text = f"{100 * value:.1f}"
        return text if undefined(low) else f"{text} [{100 * low:.1f}, {100 * high:.1f}]"

    rich_table = Table("model", "view", "text", "UAR % [95% CI]", "WAR % [95% CI]", "F1 %", "AUC")
    for _, r in frame.iterrows():
        rich_table.add_row(
            r["model"], r["view"], r["text"], cell(r["uar"], r["uar_ci_low"], r["uar_ci_high"]),
            cell(r["war"], r["war_ci_low"], r["war_ci_high"]), cell(r["macro_f1"]),
            "-" if undefined(r["macro_auc"]) else f"{r['macro_auc']:.3f}",
        )  # fmt: skip
    stdout.print(rich_table)
    pct = {key: f"{100 * value:.1f}%" for key, value in chance.items()}
    stdout.print(f"chance (uniform guess / always the majority class): UAR "
                 f"{pct['uar_uniform']} / {pct['uar_majority']}, "
                 f"WAR {pct['war_uniform']} / {pct['war_majority']}")  # fmt: skip
