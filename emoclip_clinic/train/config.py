"""Settings of a contrastive pretraining run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from emoclip_clinic.errors import ConfigError

# Training-clip augmentations by name (train/pretrain.py defines them): the paper's flip,
# rotation and crop; a horizontal flip alone; none; flip and crop with appearance changes.
AUGMENTATIONS = ("paper", "flip", "none", "style")

# Fields that may differ when a run is resumed (a longer schedule, another worker count).
RESUMABLE_CHANGES = {"epochs", "workers", "out_dir"}


@dataclass
class PretrainConfig:
    """Everything that defines a pretraining run; saved in the run folder as ``run.json``."""

    data_root: Path  # MAFW-layout data set (real or `emoclip-clinic synth mafw`)
    out_dir: Path  # run folder: config, metrics, checkpoints
    model: str = "emoclip-tiny"  # registered model config name or JSON path
    pretrained: str | None = None  # open_clip tag or local CLIP weight file; None = random
    init: Path | None = None  # EmoCLIP checkpoint folder whose weights the run starts from
    freeze_backbone: bool = False  # train only the temporal module and the temperature
    freeze_text: bool = False  # keep the text encoder fixed but its projection (pretrained text)
    pooling: str | None = None  # override the video pooling: "mean" trains the CLIP baseline
    fold: int = 1  # MAFW fold whose test split is held out (1-5)
    label_type: str = "single"  # "single" or "compound" annotation files
    num_frames: int = 16  # T, frames per clip after downsampling
    downsample: int = 4  # temporal downsampling factor (paper: 4)
    batch_size: int = 32  # clips per process and step
    accumulate: int = 1  # micro-batches per optimiser step
    epochs: int = 10  # passes over the training split
    lr: float = 1e-3  # temporal module and temperature (paper)
    backbone_lr: float = 1e-6  # CLIP towers when fine-tuned (paper)
    text_lr: float | None = None  # text tower's own LR (e.g. pretrained text, random image)
    optimizer: str = "sgd"  # "sgd" (paper) or "adamw" (for randomly initialised backbones)
    momentum: float = 0.9  # SGD momentum (paper)
    weight_decay: float = 5e-4  # SGD weight decay (paper)
    warmup_steps: int = 0  # linear learning-rate warm-up over the first optimiser steps
    lr_step: int = 0  # epochs between learning-rate decays; 0 keeps it constant
    lr_gamma: float = 0.1  # decay factor of the step schedule
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    val_fraction: float = 0.1  # share of training identities held out to pick the best epoch
    workers: int = 2  # data-loader worker processes
    seed: int = 0  # seed of initialisation, splits, sampling and augmentation
    device: str = "auto"  # "auto", "cpu" or "cuda"
    max_steps_per_epoch: int | None = None  # cap steps per epoch (quick runs); None = all
    augment: str = "paper"  # "paper" (flip, rotation, crop), "flip", "none" or "style"

    def __post_init__(self) -> None:
        self.data_root, self.out_dir = Path(self.data_root), Path(self.out_dir)
        self.init = None if self.init is None else Path(self.init)
        checks = {
            "fold must be 1-5": self.fold in range(1, 6),
            "num_frames must be >= 1": self.num_frames >= 1,
            "downsample must be >= 1": self.downsample >= 1,
            "batch_size must be >= 2 (contrastive learning needs negatives)": self.batch_size >= 2,
            "accumulate must be >= 1": self.accumulate >= 1,
            "epochs must be >= 1": self.epochs >= 1,
            "val_fraction must be in [0, 0.5]": 0 <= self.val_fraction <= 0.5,
            "label_type must be 'single' or 'compound'": self.label_type in ("single", "compound"),
            "optimizer must be 'sgd' or 'adamw'": self.optimizer in ("sgd", "adamw"),
            "pooling must be 'transformer' or 'mean'": self.pooling
            in (None, "transformer", "mean"),
            "augment must be 'paper', 'flip', 'none' or 'style'": self.augment in AUGMENTATIONS,
            "init and pretrained exclude each other": self.init is None or self.pretrained is None,
        }
        failed = [message for message, ok in checks.items() if not ok]
        if failed:
            raise ConfigError("; ".join(failed))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (paths as strings)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown pretraining settings: {', '.join(sorted(unknown))}")
        return cls(**data)
