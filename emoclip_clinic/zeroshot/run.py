"""``emoclip-clinic zeroshot``: zero-shot FER of an EmoCLIP checkpoint beside its baselines.

For every model given (the EmoCLIP checkpoint and, optionally, a frame-ensemble CLIP trained on
the same data with ``pretrain --pooling mean``) and every view (video embedding, frame
ensemble, middle frame), scores against each text set (class descriptions, compound classes by
averaging or concatenation, the prompt-template ensemble) give one row of UAR, WAR, macro F1
and AUC with bootstrap intervals; a linear probe (2-layer MLP on the frozen video embeddings
of the training split) is the supervised reference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emoclip_clinic.data.dataset import ClipSampling
from emoclip_clinic.data.samples import VideoSample
from emoclip_clinic.data.transforms import ClipTransform
from emoclip_clinic.errors import DataError
from emoclip_clinic.heads import HeadConfig, fit_head
from emoclip_clinic.models.build import get_preprocess_cfg, get_tokenizer
from emoclip_clinic.models.checkpoints import load_checkpoint
from emoclip_clinic.models.emoclip import EmoCLIP
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.stats.classification import classification_metrics
from emoclip_clinic.zeroshot.classifier import (
    description_embeddings,
    template_embeddings,
    zero_shot_scores,
)
from emoclip_clinic.zeroshot.descriptions import (
    ClassDescriptions,
    load_descriptions,
    load_templates,
)
from emoclip_clinic.zeroshot.embedding import WindowedClips, embed_views

logger = logging.getLogger(__name__)


@dataclass
class ZeroShotConfig:
    """Settings of a zero-shot evaluation."""

    checkpoint: Path  # EmoCLIP checkpoint folder (package format)
    descriptions: list[str]  # description sets (names or paths); the first defines the classes
    baseline_checkpoint: Path | None = None  # frame-ensemble CLIP trained on the same data
    templates: str | None = "clip_templates"  # prompt-template ensemble; None to skip
    num_frames: int = 16  # frames per window
    downsample: int = 4  # temporal downsampling
    num_windows: int = 1  # windows averaged per video (multi-clip evaluation)
    linear_probe: bool = False  # also fit the supervised 2-layer MLP on the training split
    n_boot: int = 1000  # bootstrap replicates of the UAR/WAR intervals
    seed: int = 0  # seed of the bootstrap and the probe
    workers: int = 0  # data-loader workers
    device: str = "cpu"  # torch device


@dataclass
class ZeroShotResult:
    """Rows of the comparison table and per-video predictions."""

    classes: list[str]
    rows: list[dict[str, Any]]  # one per (model, view, text), metrics included
    predictions: list[dict[str, Any]] = field(default_factory=list)  # per video
    failed: list[tuple[str, str]] = field(default_factory=list)  # (clip path, reason)


def class_list(
    samples: list[VideoSample],
    descriptions: ClassDescriptions,
    candidates: list[str] | None = None,
) -> list[str]:
    """Classes to score.

    ``candidates`` when given (for MAFW's compound task, the 43 compounds of
    :func:`~emoclip_clinic.data.registry.candidate_classes`: the same label space for every
    fold); otherwise the taxonomy's classes for single labels, and for compound labels the
    ones present in ``samples``, which changes with the fold.

    Raises:
        DataError: a label is not in the taxonomy or not among the candidates.
        ConfigError: a class or a compound's component has no description.
    """
    labels = sorted({s.label for s in samples})
    if candidates is None and any(len(s.labels) > 1 for s in samples):
        candidates = labels  # compound labels without a fixed set: the ones present
    if candidates is not None:
        classes = list(dict.fromkeys(candidates))
        for label in classes:
            descriptions.components(label)
        missing = [lab for lab in labels if lab not in classes]
        if missing:
            raise DataError(f"labels {missing} are not among the {len(classes)} candidate classes")
        return classes
    unknown = [lab for lab in labels if lab not in descriptions.classes]
    if unknown:
        raise DataError(
            f"labels {unknown} are not classes of the descriptions '{descriptions.name}'"
        )
    return list(descriptions.classes)


def _text_sets(model: EmoCLIP, config: ZeroShotConfig, classes: list[str], compound: bool):
    tokenizer = get_tokenizer(model.config)
    sets = {}
    for name in config.descriptions:
        descriptions = load_descriptions(name)
        sets[descriptions.name] = description_embeddings(model, tokenizer, descriptions, classes)
        if compound:
            sets[f"{descriptions.name} (concatenated)"] = description_embeddings(
                model, tokenizer, descriptions, classes, compound="concatenate"
            )
    if config.templates:
        templates = load_templates(config.templates)
        sets[f"prompt ensemble ({templates.name})"] = template_embeddings(
            model, tokenizer, templates, classes
        )
    return sets


def _dataset(model: EmoCLIP, samples: list[VideoSample], config: ZeroShotConfig) -> WindowedClips:
    transform = ClipTransform(get_preprocess_cfg(model))
    sampling = ClipSampling(config.num_frames, config.downsample)
    return WindowedClips(samples, transform, sampling, config.num_windows)


def _metrics_row(truth, scores: torch.Tensor, classes, groups, config) -> dict[str, Any]:
    metrics = classification_metrics(
        truth, scores=scores.numpy(), classes=classes, groups=groups,
        n_boot=config.n_boot, seed=config.seed,
    )  # fmt: skip
    return metrics.to_dict()


def _probe_row(model, views, train_samples, test_samples, classes, config, progress):
    train_views = embed_views(model, _dataset(model, train_samples, config), config.workers,
                              progress, "embed training split (probe)")  # fmt: skip
    train_labels = [train_samples[i].label for i in train_views.indices]
    index = {c: k for k, c in enumerate(classes)}
    known = [k for k, lab in enumerate(train_labels) if lab in index]
    x = train_views.embeddings["video"][known]
    y = torch.tensor([index[train_labels[k]] for k in known])
    head = fit_head(x, y, "classification", HeadConfig(seed=config.seed), n_outputs=len(classes))
    with torch.no_grad():
        scores = torch.softmax(head(views.embeddings["video"]), dim=1)
    return scores


def _model_rows(name, path, test, train, classes, config, progress, result):
    model, _ = load_checkpoint(path, config.device)
    views = embed_views(model, _dataset(model, test, config), config.workers, progress,
                        f"embed ({name})")  # fmt: skip
    result.failed.extend((str(test[i].path), reason) for i, reason in views.failed)
    if not views.indices:
        raise DataError("no test clip could be read")
    truth = [test[i].label for i in views.indices]
    groups = [test[i].group or test[i].sample_id for i in views.indices]
    compound = any(len(s.labels) > 1 for s in test)
    text_sets = _text_sets(model, config, classes, compound)
    view_names = ["video", "frame_ensemble", "middle_frame"]
    if model.temporal is None:  # a mean-pooled model's video view is its frame ensemble
        view_names.remove("video")
    for view in view_names:
        for text_name, class_embeddings in text_sets.items():
            scores = zero_shot_scores(views.embeddings[view], class_embeddings)
            row = {"model": name, "view": view, "text": text_name}
            result.rows.append(row | _metrics_row(truth, scores, classes, groups, config))
            if not result.predictions:
                result.predictions = _predictions(test, views.indices, scores, classes)
    if config.linear_probe and train and model.temporal is not None:
        scores = _probe_row(model, views, train, test, classes, config, progress)
        row = {"model": name, "view": "video", "text": "linear probe (supervised)"}
        result.rows.append(row | _metrics_row(truth, scores, classes, groups, config))


def _predictions(samples, indices, scores, classes) -> list[dict[str, Any]]:
    best = scores.argmax(dim=1).tolist()
    return [
        {"sample_id": samples[i].sample_id, "true": samples[i].label, "predicted": classes[b]}
        for i, b in zip(indices, best, strict=True)
    ]


def chance_levels(samples: list[VideoSample], classes: list[str]) -> dict[str, float]:
    """UAR and WAR of two guessers: uniform over the candidate ``classes`` (1/C for both),
    and always the majority class (UAR 1/classes present, WAR the majority's share)."""
    labels = [s.label for s in samples]
    present = sorted(set(labels))
    counts = np.array([labels.count(c) for c in present])
    return {
        "uar_uniform": 1.0 / len(classes),
        "uar_majority": 1.0 / len(present),
        "war_uniform": 1.0 / len(classes),
        "war_majority": float(counts.max() / counts.sum()),
    }


def zeroshot(
    config: ZeroShotConfig,
    test_samples: list[VideoSample],
    train_samples: list[VideoSample] | None = None,
    progress: ProgressHook = NO_PROGRESS,
    classes: list[str] | None = None,
) -> ZeroShotResult:
    """Evaluate zero-shot recognition on ``test_samples``; see the module docstring.

    Args:
        config: checkpoints, text sets and sampling.
        test_samples: the labelled clips to classify.
        train_samples: the training split, for the linear probe (optional).
        progress: progress hook.
        classes: the candidate classes (see :func:`class_list`); pass them for compound labels.

    Raises:
        ConfigError: unknown description or template files.
        DataError: labels outside the taxonomy, or no readable clip.
    """
    if not test_samples:
        raise DataError("no test samples to evaluate")
    torch.manual_seed(config.seed)
    classes = class_list(test_samples, load_descriptions(config.descriptions[0]), classes)
    result = ZeroShotResult(classes, [])
    models = [("EmoCLIP", config.checkpoint)]
    if config.baseline_checkpoint is not None:
        models.append(("CLIP frame-ensemble", config.baseline_checkpoint))
    for name, path in models:
        _model_rows(name, path, test_samples, train_samples, classes, config, progress, result)
    return result
