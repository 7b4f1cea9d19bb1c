"""Embedding a clip dataset and text-video retrieval metrics."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from emoclip_clinic.data.dataset import collate_clips
from emoclip_clinic.models.build import Tokenizer
from emoclip_clinic.models.emoclip import EmoCLIP
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.train.distributed import all_counts
from emoclip_clinic.train.loss import gather_with_local_grad


@dataclass
class EmbeddedSet:
    """Normalised embeddings of a dataset's clips and captions, row-aligned."""

    video: torch.Tensor  # (N, D)
    text: torch.Tensor  # (N, D)
    indices: list[int]  # dataset indices of the rows (failed clips are absent)
    failed: list[tuple[int, str]]  # (index, reason) of clips that could not be read


def inference_precision(device: torch.device) -> str:
    """The precision :func:`autocast_for` runs a model in on ``device``: bf16 or fp32."""
    return "bf16" if device.type == "cuda" else "fp32"


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CUDA (as in training); full precision on CPU."""
    if inference_precision(device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def embed_dataset(
    model: EmoCLIP,
    dataset: Dataset[dict[str, Any]],
    tokenizer: Tokenizer,
    batch_size: int = 32,
    workers: int = 0,
    device: torch.device | None = None,
    progress: ProgressHook = NO_PROGRESS,
    task: str = "embed",
    shard: tuple[int, int] = (0, 1),
) -> EmbeddedSet:
    """Embed every clip (centred window, no augmentation) and every caption of ``dataset``.

    ``shard=(rank, world_size)`` splits the work between the processes of a process group:
    each embeds every ``world_size``-th clip from ``rank`` on, and the rows of all processes
    are gathered, so every process returns the embeddings of the whole set, ordered by dataset
    index as one process would. ``failed`` lists this process's own failures only.
    """
    device = device or next(model.parameters()).device
    rank, world = shard
    if world > 1:
        dataset = Subset(dataset, range(rank, len(dataset), world))  # type: ignore[arg-type]
    was_training = model.training
    model.eval()
    loader = DataLoader(
        dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_clips
    )
    videos, texts, indices, failed = [], [], [], []
    progress.start(task, total=len(loader), unit="batch")
    for batch in loader:
        failed.extend(batch["failed"])
        if "video" in batch:
            with autocast_for(device):
                videos.append(model.encode_video(batch["video"].to(device), normalize=True).float())
                tokens = tokenizer(batch["caption"]).to(device)
                texts.append(model.encode_text(tokens, normalize=True).float())
            indices.extend(batch["index"].tolist())
        progress.advance(task)
    progress.end(task)
    model.train(was_training)
    dim = model.embed_dim
    video = torch.cat(videos) if videos else torch.empty(0, dim, device=device)
    text = torch.cat(texts) if texts else torch.empty(0, dim, device=device)
    if world == 1:
        return EmbeddedSet(video, text, indices, failed)
    # The processes' shards interleave; gathering and sorting by index gives one order.
    sizes = all_counts(len(indices), device)
    local = torch.tensor(indices, dtype=torch.long, device=device)
    gathered = gather_with_local_grad(local, sizes)
    order = torch.argsort(gathered)
    return EmbeddedSet(
        gather_with_local_grad(video, sizes)[order],
        gather_with_local_grad(text, sizes)[order],
        gathered[order].tolist(),
        failed,
    )


def retrieval_metrics(video: torch.Tensor, text: torch.Tensor) -> dict[str, float]:
    """Recall@K (K = 1, 5, 10) and median rank, text-to-video and video-to-text.

    Row i of ``text`` describes row i of ``video``. Chance R@1 is 1/N. Ties are broken at
    random, in expectation: a true partner that ties with ``t`` other candidates and trails
    ``g`` is within the top K with probability clip((K - g) / (t + 1), 0, 1), and its expected
    rank is 1 + g + t / 2 (the median rank reported is the median of these). Identical captions
    (the neutral clips' pool sentences) tie exactly, and so do the embeddings of a collapsed
    model: counting ties as hits gave such a model R@1 = 1.
    """
    n = video.shape[0]
    if n == 0:
        return {"n": 0}
    similarity = (text @ video.T).cpu().numpy()  # (captions, clips)
    metrics: dict[str, float] = {"n": n, "chance_r1": 1.0 / n}
    for name, sim in (("t2v", similarity), ("v2t", similarity.T)):
        true = np.diag(sim)[:, None]
        ahead = (sim > true).sum(axis=1)
        tied = (sim == true).sum(axis=1) - 1  # other candidates scoring the same
        for k in (1, 5, 10):
            metrics[f"{name}_r{k}"] = float(np.mean(np.clip((k - ahead) / (tied + 1), 0, 1)))
        metrics[f"{name}_median_rank"] = float(np.median(1 + ahead + tied / 2))
    metrics["mean_recall"] = float(
        np.mean([metrics[f"{d}_r{k}"] for d in ("t2v", "v2t") for k in (1, 5, 10)])
    )
    return metrics
