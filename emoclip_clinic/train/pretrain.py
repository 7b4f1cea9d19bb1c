"""Contrastive video-text pretraining of EmoCLIP on sample-level captions (paper, Sec. III-IV).

One function, :func:`pretrain`, runs a whole job: read the MAFW-layout data set, hold out a
validation split of the training identities, train with SGD over the symmetric contrastive
loss, evaluate text-video retrieval on the validation split after every epoch, checkpoint every
epoch, keep the best epoch (validation only, never the test fold), and finally report retrieval
on the test fold. It runs as one process or under ``torchrun`` (DDP); there each process
trains on its part of every batch and embeds its part of the validation and test clips.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from emoclip_clinic.data.dataset import ClipDataset, ClipSampling, collate_clips, neutral_captions
from emoclip_clinic.data.mafw import read_mafw
from emoclip_clinic.data.samples import VideoSample
from emoclip_clinic.data.transforms import AppearanceConfig, AugmentConfig, ClipTransform
from emoclip_clinic.errors import ConfigError, DataError
from emoclip_clinic.fileio import write_json_atomic
from emoclip_clinic.models.build import (
    create_emoclip,
    get_preprocess_cfg,
    get_tokenizer,
    resolve_config,
    texts_longer_than_context,
)
from emoclip_clinic.models.checkpoints import load_checkpoint, read_checkpoint_info, save_checkpoint
from emoclip_clinic.models.config import EmoCLIPConfig
from emoclip_clinic.models.emoclip import EmoCLIP
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.provenance import package_versions, sha256_file
from emoclip_clinic.train.config import PretrainConfig
from emoclip_clinic.train.distributed import (
    DistInfo,
    all_counts,
    barrier,
    cleanup_distributed,
    merged_from_all,
    setup_distributed,
)
from emoclip_clinic.train.evaluate import autocast_for, embed_dataset, retrieval_metrics
from emoclip_clinic.train.loss import backward_scale, contrastive_loss
from emoclip_clinic.train.rundir import RunFolder

logger = logging.getLogger(__name__)

# The named clip augmentations of PretrainConfig.augment.
AUGMENTATIONS = {
    "paper": AugmentConfig(),  # flip p=0.5, rotation within 6 degrees, crop of 0.8-1.0
    "flip": AugmentConfig(max_rotation_deg=0.0, crop_scale=(1.0, 1.0)),
    "none": AugmentConfig(flip_p=0.0, max_rotation_deg=0.0, crop_scale=(1.0, 1.0)),
    # flip, a mild crop, and the look of the clip (framing, colour, light, degradation)
    "style": AugmentConfig(
        max_rotation_deg=0.0, crop_scale=(0.85, 1.0), appearance=AppearanceConfig()
    ),
}


@dataclass
class Splits:
    """Training, validation and test samples of one fold."""

    train: list[VideoSample]
    val: list[VideoSample]
    test: list[VideoSample]
    notes: list[str] = field(default_factory=list)  # what the readers could not use


@dataclass
class PretrainResult:
    """What a finished run reports."""

    run_dir: str  # the run folder
    best_epoch: int  # epoch whose checkpoint is in best/
    val: dict[str, float]  # validation retrieval of the best epoch
    test: dict[str, float]  # test-fold retrieval of the best checkpoint
    skipped: int  # clips that could not be decoded


def split_validation(
    samples: list[VideoSample], fraction: float, seed: int
) -> tuple[list[VideoSample], list[VideoSample]]:
    """Hold out ``fraction`` of the groups (identities; samples when unknown) for validation."""
    if fraction <= 0:
        return samples, []
    keys = sorted({s.group or s.sample_id for s in samples})
    rng = np.random.default_rng(seed)
    held = set(rng.permutation(keys)[: max(1, round(len(keys) * fraction))].tolist())
    train = [s for s in samples if (s.group or s.sample_id) not in held]
    val = [s for s in samples if (s.group or s.sample_id) in held]
    return train, val


def load_splits(config: PretrainConfig) -> Splits:
    """Read the fold, keep captioned samples (train and test), and carve the validation split.

    Raises:
        DataError: missing annotation files, or no usable captioned training sample.
    """
    train, train_report = read_mafw(config.data_root, config.fold, "train", config.label_type)
    test, test_report = read_mafw(config.data_root, config.fold, "test", config.label_type)
    notes = [train_report.summary(), test_report.summary()]
    usable = [s for s in train if s.caption or s.labels == ("neutral",)]
    if len(usable) < len(train):
        notes.append(f"{len(train) - len(usable)} training clips have no caption and are not used")
    if len(usable) < 2:
        raise DataError(f"{train_report.source}: fewer than 2 captioned training clips")
    train_part, val = split_validation(usable, config.val_fraction, config.seed)
    described = [s for s in test if s.caption or s.labels == ("neutral",)]
    if len(described) < len(test):  # an empty caption would be every such clip's caption
        notes.append(f"{len(test) - len(described)} test clips have no caption and are not "
                     f"used")  # fmt: skip
    return Splits(train_part, val, described, notes)


def build_optimizer(model: EmoCLIP, config: PretrainConfig) -> torch.optim.Optimizer:
    """SGD (or AdamW) with the temporal module at ``lr``, a fine-tuned backbone at ``backbone_lr``.

    The paper's SGD settings suit a pretrained CLIP backbone; a randomly initialised one (the
    tiny models of the synthetic world) learns far faster with AdamW.
    """
    groups = [{"params": list(model.head_parameters()), "lr": config.lr, "name": "head"}]
    towers = [("backbone", None, config.backbone_lr)]
    if config.text_lr is not None:
        towers = [("image", "image", config.backbone_lr), ("text", "text", config.text_lr)]
    for name, tower, lr in towers:
        params = list(model.backbone_parameters(tower))
        if params:
            groups.append({"params": params, "lr": lr, "name": name})
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    return torch.optim.SGD(groups, momentum=config.momentum, weight_decay=config.weight_decay)


def _as_built(config: EmoCLIPConfig) -> EmoCLIPConfig:
    """``config`` without what ``create_emoclip(pretrained=TAG)`` writes into it.

    A pretrained tag sets the starting temperature (init-only: the weights hold the learned
    one) and may switch the backbone's activation to the tag's (QuickGELU for ``openai``).
    """
    return replace(config, init_logit_scale=0.0, backbone=replace(config.backbone, quick_gelu=None))


def _start_from(config: EmoCLIPConfig, folder: Path, freeze_backbone: bool) -> EmoCLIP:
    """The model of an EmoCLIP checkpoint of this run's architecture, to train on from.

    The checkpoint's own configuration is kept: a run that began from a pretrained tag
    recorded the tag's temperature and activation there.

    Raises:
        ConfigError: the checkpoint is of another model configuration.
        CheckpointError: the checkpoint is missing, damaged or unreadable.
    """
    start, info = load_checkpoint(folder)
    if _as_built(info.config) != _as_built(config):
        raise ConfigError(
            f"--init {folder}: the checkpoint is a '{info.config.name}' model with another "
            f"configuration than this run's '{config.name}'; pass the same --model "
            "(and --pooling) it was trained with"
        )
    start.freeze_backbone(freeze_backbone)
    return start


def _provenance(config: PretrainConfig, dist: DistInfo) -> dict[str, Any]:
    root = config.data_root
    annotations = sorted(p for p in root.rglob("*.txt") if f"set_{config.fold}" in p.parts)
    inputs = {str(p.relative_to(root)): sha256_file(p) for p in annotations}
    if config.init is not None:
        inputs["init"] = read_checkpoint_info(config.init).weights_sha256
    return {
        "versions": package_versions(),
        "world_size": dist.world_size,
        "device": str(dist.device),
        "inputs": inputs,
    }


class _Trainer:
    """State shared by the epochs of one run (kept small; see :func:`pretrain`)."""

    def __init__(self, config: PretrainConfig, dist: DistInfo, progress: ProgressHook) -> None:
        self.config, self.dist, self.progress = config, dist, progress
        self.folder = RunFolder(config.out_dir)
        torch.manual_seed(config.seed)
        model_config = resolve_config(config.model)
        if config.pooling is not None:
            temporal = replace(model_config.temporal, pooling=config.pooling)
            model_config = replace(model_config, temporal=temporal)
        if config.init is not None:
            self.model = _start_from(model_config, config.init, config.freeze_backbone)
        else:
            self.model = create_emoclip(
                model_config, config.pretrained, freeze_backbone=config.freeze_backbone
            )
        self.model.to(dist.device)
        if config.freeze_text:
            self.model.freeze_text_tower()
        if dist.world_size > 1 and dist.device.type == "cuda":
            # BatchNorm statistics over the global batch (the tiny models' conv tower); the
            # converted layers share their parameters and buffers with the originals.
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.tokenizer = get_tokenizer(self.model.config)
        self.optimizer = build_optimizer(self.model, config)
        step = config.lr_step or 10**9
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step, config.lr_gamma)
        self.wrapped: torch.nn.Module = self.model
        if dist.world_size > 1:
            ids = [dist.device.index] if dist.device.type == "cuda" else None
            self.wrapped = DistributedDataParallel(self.model, device_ids=ids)
        self.best_score, self.best_epoch = -math.inf, 0
        self.steps_done = 0  # optimiser steps so far (drives the warm-up)
        self.skipped: dict[str, str] = {}

    def datasets(self, splits: Splits) -> tuple[ClipDataset, ClipDataset, ClipDataset]:
        cfg = self.config
        preprocess = get_preprocess_cfg(self.model)
        sampling = ClipSampling(cfg.num_frames, cfg.downsample)
        pool = neutral_captions()
        train = ClipDataset(
            splits.train,
            ClipTransform(preprocess, AUGMENTATIONS[cfg.augment]),
            sampling,
            True,
            cfg.seed,
            pool,
        )
        evaluation = ClipTransform(preprocess)
        val = ClipDataset(splits.val, evaluation, sampling, False, cfg.seed, pool)
        test = ClipDataset(splits.test, evaluation, sampling, False, cfg.seed, pool)
        return train, val, test

    def loader(self, dataset: ClipDataset, epoch: int) -> DataLoader:
        dataset.set_epoch(epoch)
        sampler = DistributedSampler(
            dataset,
            self.dist.world_size,
            self.dist.rank,
            shuffle=True,
            seed=self.config.seed,
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size,
            sampler=sampler,
            drop_last=True,
            num_workers=self.config.workers,
            collate_fn=collate_clips,
            pin_memory=self.dist.device.type == "cuda",
        )

    def note_failures(self, dataset: ClipDataset, failed: list[tuple[int, str]]) -> None:
        for index, reason in failed:
            path = str(dataset.samples[index].path)
            if path not in self.skipped:
                logger.warning("skipping %s: %s", path, reason)
                self.skipped[path] = reason

    def train_step(self, batch: dict[str, Any], micro: int, sizes: list[int]) -> float:
        """Forward and backward of one micro-batch (``sizes``: every process's number of
        clips in it); returns its loss."""
        cfg, device = self.config, self.dist.device
        tokens = self.tokenizer(batch["caption"]).to(device, non_blocking=True)
        video = batch["video"].to(device, non_blocking=True)
        last = (micro + 1) % cfg.accumulate == 0
        sync = self.wrapped.no_sync() if (not last and self.dist.world_size > 1) else nullcontext()
        with sync, autocast_for(device):
            out = self.wrapped(video, tokens)
            loss = contrastive_loss(
                out.video_embeddings.float(), out.text_embeddings.float(),
                out.logit_scale.float(), sizes,
            )  # fmt: skip
            (loss * backward_scale() / cfg.accumulate).backward()
        if last:
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self._warmed_step()
        return float(loss.detach())

    def _warmed_step(self) -> None:
        """Optimiser step with a linear learning-rate warm-up over the first steps."""
        warmup = self.config.warmup_steps
        factor = min(1.0, (self.steps_done + 1) / warmup) if warmup else 1.0
        scheduled = [group["lr"] for group in self.optimizer.param_groups]
        for group, lr in zip(self.optimizer.param_groups, scheduled, strict=True):
            group["lr"] = lr * factor
        self.optimizer.step()
        for group, lr in zip(self.optimizer.param_groups, scheduled, strict=True):
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        self.steps_done += 1

    def train_epoch(self, dataset: ClipDataset, epoch: int) -> float:
        """One pass over the training split; returns the mean loss."""
        cfg, task = self.config, f"epoch {epoch}/{self.config.epochs}"
        loader = self.loader(dataset, epoch)
        steps = (
            len(loader)
            if cfg.max_steps_per_epoch is None
            else min(len(loader), cfg.max_steps_per_epoch * cfg.accumulate)
        )
        if steps < cfg.accumulate:
            raise ConfigError(f"--accumulate {cfg.accumulate} is more than the {steps} batches "
                              f"of an epoch: no group would be complete, and no optimiser step "
                              f"taken")  # fmt: skip
        self.model.train()
        self.progress.start(task, total=steps, unit="batch")
        losses, tick = [], time.perf_counter()
        for micro, batch in enumerate(loader):
            if micro >= steps:
                break
            loaded = time.perf_counter()
            self.note_failures(dataset, batch["failed"])
            counts = all_counts(len(batch.get("caption", ())), self.dist.device)
            if min(counts) == 0:  # a process with no decodable clip cannot take part in the
                # step's collectives (gather, DDP's all-reduce): every process skips it
                if max(counts) > 0 and self.dist.is_main:
                    empty = ", ".join(str(r) for r, n in enumerate(counts) if n == 0)
                    logger.warning("epoch %d batch %d skipped on every process: process %s had "
                                   "no decodable clip", epoch, micro + 1, empty)  # fmt: skip
                self.progress.advance(task)
                tick = time.perf_counter()
                continue
            loss = self.train_step(batch, len(losses), counts)  # groups count batches trained
            done = time.perf_counter()
            losses.append(loss)
            record = {"epoch": epoch, "step": micro + 1, "loss": loss, "clips": sum(counts),
                      "lr": self.optimizer.param_groups[0]["lr"],
                      "logit_scale": float(self.model.scale().detach()),
                      "clips_per_s": sum(counts) / (done - tick), "data_wait_s": loaded - tick,
                      "step_s": done - tick}  # fmt: skip
            if self.dist.is_main:
                self.folder.append_metrics("steps", record)
            self.progress.advance(task, loss=loss, clips_per_s=record["clips_per_s"])
            tick = time.perf_counter()
        self.progress.end(task)
        if len(losses) < cfg.accumulate and self.dist.is_main:
            logger.warning("epoch %d trained on %d batches, fewer than --accumulate %d: no "
                           "optimiser step was taken (clips failed to decode)", epoch,
                           len(losses), cfg.accumulate)  # fmt: skip
        if len(losses) % cfg.accumulate:  # the epoch ended inside a group: its gradients were
            # never applied; dropped, so that the next epoch (or a resumed run) starts clean
            self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return float(np.mean(losses)) if losses else math.nan

    def evaluate(self, dataset: ClipDataset, task: str) -> dict[str, float]:
        if len(dataset) == 0:
            return {"n": 0}
        embedded = embed_dataset(
            self.model,
            dataset,
            self.tokenizer,
            self.config.batch_size,
            self.config.workers,
            self.dist.device,
            self.progress,
            task,
            shard=(self.dist.rank, self.dist.world_size),  # each process embeds its share
        )
        self.note_failures(dataset, embedded.failed)
        return retrieval_metrics(embedded.video, embedded.text)

    def state(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch, "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
            "best_score": self.best_score, "best_epoch": self.best_epoch,
            "steps_done": self.steps_done,
        }  # fmt: skip

    def restore(self, epoch: int) -> None:
        model, _ = load_checkpoint(self.folder.epoch_dir(epoch), self.dist.device)
        self.model.load_state_dict(model.state_dict())
        state = self.folder.load_state(epoch)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        self.best_score, self.best_epoch = state["best_score"], state["best_epoch"]
        self.steps_done = int(state.get("steps_done", 0))

    def end_epoch(
        self, epoch: int, train_loss: float, val: dict[str, float], seconds: dict[str, float]
    ) -> None:
        score = val.get("mean_recall", -train_loss if not math.isnan(train_loss) else -math.inf)
        improved = score > self.best_score
        if improved:
            self.best_score, self.best_epoch = score, epoch
        if self.dist.is_main:
            self._save_epoch(epoch, train_loss, val, improved, seconds)
        barrier()  # other processes may read these files next

    def _save_epoch(
        self,
        epoch: int,
        train_loss: float,
        val: dict[str, float],
        improved: bool,
        seconds: dict[str, float],
    ) -> None:
        args = self.config.to_dict()
        save_checkpoint(
            self.folder.epoch_dir(epoch), self.model, args, {"epoch": epoch, "val": val}
        )
        if improved:
            save_checkpoint(self.folder.best, self.model, args, {"epoch": epoch, "val": val})
        self.folder.save_state(epoch, self.state(epoch))
        self.folder.append_metrics(
            "epochs",
            {"epoch": epoch, "train_loss": train_loss, "val": val, "best_epoch": self.best_epoch}
            | seconds,
        )


def pretrain(
    config: PretrainConfig, resume: bool = False, progress: ProgressHook = NO_PROGRESS
) -> PretrainResult:
    """Run (or resume) contrastive pretraining; see the module docstring.

    Args:
        config: the run's settings.
        resume: continue the run in ``config.out_dir`` from its last complete epoch.
        progress: receives per-batch progress (the CLI draws bars from it).

    Returns:
        The best epoch, its validation retrieval and the test-fold retrieval.

    Raises:
        ConfigError: bad settings, or an output folder that holds another run.
        DataError: the data set cannot be read.
    """
    dist = setup_distributed(config.device)
    try:
        splits = load_splits(config)
        for note in splits.notes:
            logger.info(note)
        trainer = _Trainer(config, dist, progress)
        if dist.is_main:
            _warn_of_cut_captions(trainer.tokenizer, splits.train)
            trainer.folder.start(config, _provenance(config, dist), resume)
        barrier()  # the main process has checked and prepared the run folder
        done = trainer.folder.last_complete_epoch()
        if done:
            trainer.restore(done)
        train_set, val_set, test_set = trainer.datasets(splits)
        for epoch in range(done + 1, config.epochs + 1):
            start = time.perf_counter()
            loss = trainer.train_epoch(train_set, epoch)
            trained = time.perf_counter()
            val = trainer.evaluate(val_set, f"validate {epoch}")
            seconds = {"train_s": trained - start, "val_s": time.perf_counter() - trained}
            trainer.end_epoch(epoch, loss, val, seconds)
        return _finish(trainer, test_set)
    finally:
        cleanup_distributed()


def _warn_of_cut_captions(tokenizer: Any, samples: list[VideoSample]) -> None:
    captions = [s.caption for s in samples if s.caption]
    cut = texts_longer_than_context(tokenizer, captions)
    if cut:
        logger.warning("%d of %d training captions are longer than the text encoder's context "
                       "of %d tokens and are cut; their ends are never seen in training", cut,
                       len(captions), tokenizer.context_length)  # fmt: skip
    if any(s.labels == ("neutral",) and not s.caption for s in samples):
        pool = neutral_captions()  # uncaptioned neutral clips train on two of these joined
        pairs = [f"{a} {b}" for a in pool for b in pool if a != b]
        cut = texts_longer_than_context(tokenizer, pairs)
        if cut:
            logger.warning("%d of %d pairs of neutral sentences, which uncaptioned neutral "
                           "clips train on, are longer than the %d-token context and are cut",
                           cut, len(pairs), tokenizer.context_length)  # fmt: skip


def _finish(trainer: _Trainer, test_set: ClipDataset) -> PretrainResult:
    folder = trainer.folder
    best, info = load_checkpoint(folder.best, trainer.dist.device)
    trainer.model.load_state_dict(best.state_dict())
    test = trainer.evaluate(test_set, "test")
    skipped = merged_from_all(trainer.skipped)  # each process saw failures of its own clips
    result = PretrainResult(str(folder.root), trainer.best_epoch, info.extra.get("val", {}),
                            test, len(skipped))  # fmt: skip
    if trainer.dist.is_main:
        write_json_atomic(folder.root / "final.json", result.__dict__)
        folder.record_skipped(skipped)
    return result
