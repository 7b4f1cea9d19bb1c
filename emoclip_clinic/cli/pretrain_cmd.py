"""``emoclip-clinic pretrain``: contrastive video-text pretraining."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from emoclip_clinic.cli import app
from emoclip_clinic.devices import DEVICE_HELP


class LabelType(StrEnum):
    """MAFW annotation set."""

    single = "single"
    compound = "compound"


class Pooling(StrEnum):
    """How frame embeddings become a video embedding."""

    transformer = "transformer"
    mean = "mean"


class Optimizer(StrEnum):
    """Optimiser of the run."""

    sgd = "sgd"
    adamw = "adamw"


class Augment(StrEnum):
    """Augmentation of training clips."""

    paper = "paper"
    flip = "flip"
    none = "none"
    style = "style"


@app.command("pretrain")
def pretrain_command(
    data: Annotated[Path, typer.Argument(help="MAFW-layout data set (real or synthetic).")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Run folder: new or empty, or an earlier run with --resume."
        ),
    ],
    model: Annotated[str, typer.Option(help="Model config name or JSON file.")] = "emoclip-tiny",
    pretrained: Annotated[
        str | None,
        typer.Option(help="open_clip tag (e.g. laion400m_e32; downloads) or local weight file."),
    ] = None,
    init: Annotated[
        Path | None,
        typer.Option(
            help="Start from this EmoCLIP checkpoint folder (e.g. RUN/best; same --model); "
            "a new run with a new optimiser, unlike --resume.",
            metavar="<dir>",
        ),
    ] = None,
    freeze_backbone: Annotated[
        bool, typer.Option(help="Train only the temporal module and temperature.")
    ] = False,
    freeze_text: Annotated[
        bool, typer.Option(help="Keep the text encoder fixed; train its projection only.")
    ] = False,
    pooling: Annotated[
        Pooling | None,
        typer.Option(
            help="Override video pooling; 'mean' trains the CLIP frame-ensemble baseline."
        ),
    ] = None,
    fold: Annotated[int, typer.Option(help="Held-out test fold (1-5).")] = 1,
    label_type: Annotated[LabelType, typer.Option(help="Annotation set.")] = LabelType.single,
    frames: Annotated[
        int,
        typer.Option("--frames", "--clip-len", min=1, help="Frames per clip after downsampling."),
    ] = 16,
    downsample: Annotated[int, typer.Option(min=1, help="Temporal downsampling factor.")] = 4,
    batch_size: Annotated[int, typer.Option(help="Clips per process and step.")] = 32,
    accumulate: Annotated[
        int,
        typer.Option(
            help="Micro-batches per optimiser step (negatives stay within a micro-batch; a "
            "group left incomplete at an epoch's end is dropped)."
        ),
    ] = 1,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 10,
    optimizer: Annotated[Optimizer, typer.Option(help="sgd (paper) or adamw.")] = Optimizer.sgd,
    lr: Annotated[float, typer.Option(help="LR of the temporal module.")] = 1e-3,
    backbone_lr: Annotated[float, typer.Option(help="LR of the CLIP towers.")] = 1e-6,
    text_lr: Annotated[
        float | None, typer.Option(help="Separate LR of the text tower (default: backbone LR).")
    ] = None,
    lr_step: Annotated[int, typer.Option(help="Epochs between LR decays (0: none).")] = 0,
    warmup: Annotated[int, typer.Option(help="Linear LR warm-up over the first steps.")] = 0,
    grad_clip: Annotated[float, typer.Option(help="Max gradient norm (0: off).")] = 1.0,
    val_fraction: Annotated[float, typer.Option(help="Training identities for validation.")] = 0.1,
    workers: Annotated[
        int, typer.Option(min=0, help="Data-loader processes that decode clips (0: in this one).")
    ] = 2,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    augment: Annotated[
        Augment,
        typer.Option(
            help="Clip augmentation: paper (flip, rotation, crop), flip, none, style (flip, "
            "crop, zoom-out, colour, light, blur, noise, JPEG: for encoders trained from scratch)."
        ),
    ] = Augment.paper,
    max_steps: Annotated[
        int | None, typer.Option(help="Cap optimiser steps per epoch (quick runs).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of everything random.")] = 0,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out from its last complete epoch.")
    ] = False,
) -> None:
    """Train EmoCLIP on clips with sample-level captions (symmetric contrastive loss).

    Runs as one process, or on several GPUs/nodes under torchrun, e.g.
    `torchrun --nproc_per_node=4 -m emoclip_clinic pretrain DATA --out RUN`.
    """
    from emoclip_clinic.cli.console import RichProgress, stdout
    from emoclip_clinic.train.config import PretrainConfig
    from emoclip_clinic.train.distributed import setup_distributed
    from emoclip_clinic.train.pretrain import pretrain

    config = PretrainConfig(
        data_root=data, out_dir=out, model=model, pretrained=pretrained, init=init,
        freeze_backbone=freeze_backbone, freeze_text=freeze_text,
        pooling=pooling.value if pooling else None,
        fold=fold, label_type=label_type.value,
        num_frames=frames, downsample=downsample, batch_size=batch_size, accumulate=accumulate,
        epochs=epochs, optimizer=optimizer.value, lr=lr, backbone_lr=backbone_lr, text_lr=text_lr,
        lr_step=lr_step, warmup_steps=warmup, grad_clip=grad_clip, val_fraction=val_fraction,
        workers=workers,
        seed=seed, device=device, max_steps_per_epoch=max_steps, augment=augment.value,
    )  # fmt: skip
    main_process = setup_distributed(device).is_main
    with RichProgress(disable=not main_process) as progress:
        result = pretrain(config, resume=resume, progress=progress)
    if main_process:
        stdout.print(f"best epoch {result.best_epoch}; checkpoint: {Path(result.run_dir) / 'best'}")
        stdout.print_json(json.dumps({"validation": result.val, "test": result.test}))
