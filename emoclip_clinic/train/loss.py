"""The contrastive objective of EmoCLIP (paper, Sec. III-A): symmetric cross-entropy over the
in-batch matrix of scaled cosine similarities between clip and caption embeddings.

Under DDP every process gathers the embeddings of all processes and computes the loss over
the whole global batch, so every process's clips count as negatives everywhere. The gathered
copies of other processes' embeddings are constants; only the local shard carries gradients.
Each process therefore holds the exact gradient of the global loss with respect to its own
shard; DDP sums them (and divides by the world size, which :func:`backward_scale` undoes), so
an update equals one process training on the whole global batch. The temperature is the
exception: it scales the whole matrix, so every process already holds its full gradient, and
the loss passes it on divided by the world size.

Processes may hold batches of different sizes (a clip that fails to decode is left out of its
process's batch): the gather pads every shard to the longest and cuts the padding off again,
so the global batch is exactly the clips that decoded, and the argument above holds unchanged.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from emoclip_clinic.train.distributed import all_counts


def world_size() -> int:
    """Number of processes in the default process group (1 without one)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def backward_scale() -> float:
    """Factor to multiply the loss by before ``backward`` so that DDP's gradient mean becomes
    the gradient of the global-batch loss (see the module docstring)."""
    return float(world_size())


def gather_with_local_grad(x: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
    """Concatenate ``x`` from every process in rank order; only the local part keeps its grad.

    Processes may hold different numbers of rows: ``sizes`` (every process's, in rank order)
    when known, else gathered first. Without an initialised process group this returns ``x``.
    """
    if world_size() == 1:
        return x
    sizes = sizes or all_counts(x.shape[0], x.device)
    if max(sizes) == 0:  # nothing to gather on any process: every process skips the collective
        return x
    padded = x.detach()
    if x.shape[0] < max(sizes):  # all_gather needs one shape on every process
        padded = torch.cat([padded, padded.new_zeros(max(sizes) - x.shape[0], *x.shape[1:])])
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    parts = [part[:size] for part, size in zip(parts, sizes, strict=True)]
    parts[dist.get_rank()] = x
    return torch.cat(parts, dim=0)


def contrastive_loss(
    video_embeddings: torch.Tensor,
    text_embeddings: torch.Tensor,
    logit_scale: torch.Tensor,
    sizes: list[int] | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE over the global batch.

    Args:
        video_embeddings: (B, D) L2-normalised clip embeddings of this process.
        text_embeddings: (B, D) L2-normalised caption embeddings; row i describes clip i.
        logit_scale: the temperature (already exponentiated).
        sizes: every process's B in rank order, if the caller has them (saves a gather).

    Returns:
        The mean of the clip-to-caption and caption-to-clip cross-entropies over the global
        batch: the same value on every process, and the same as one process would compute.
    """
    if world_size() > 1 and sizes is None:
        sizes = all_counts(video_embeddings.shape[0], video_embeddings.device)
    all_video = gather_with_local_grad(video_embeddings, sizes)
    all_text = gather_with_local_grad(text_embeddings, sizes)
    if world_size() > 1:  # every process holds the whole gradient of the shared temperature
        # (it multiplies the whole N x N matrix), not a shard's: undo backward_scale for it
        logit_scale = logit_scale.detach() + (logit_scale - logit_scale.detach()) / world_size()
    logits = logit_scale * all_video @ all_text.T  # (N, N), N = global batch
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
