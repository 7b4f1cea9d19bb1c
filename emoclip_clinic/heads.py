"""Small supervised heads on frozen embeddings: the paper's 2-layer MLP.

Used as the linear probe of zero-shot evaluation (classification, cross-entropy) and as the
symptom-score model of interview scoring (multi-output regression, MSE). Training is
full-batch AdamW on the CPU: the inputs are a few thousand embeddings at most, so this takes
seconds and is exactly reproducible from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class HeadConfig:
    """Training settings of an MLP head."""

    hidden: int | None = None  # hidden width; None = half the input width (paper: d, d/2, out)
    epochs: int = 300  # full-batch optimisation steps
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-2  # AdamW weight decay
    dropout: float = 0.1  # dropout before the output layer
    seed: int = 0  # initialisation seed


class MLPHead(nn.Module):
    """Linear(d, h) -> ReLU -> Dropout -> Linear(h, out)."""

    def __init__(self, d_in: int, d_out: int, hidden: int | None = None, dropout: float = 0.1):
        super().__init__()
        hidden = hidden or max(1, d_in // 2)
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, d_out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, d_in) embeddings to (N, d_out) outputs."""
        return self.net(x)


def fit_head(
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    config: HeadConfig = HeadConfig(),
    sample_weight: torch.Tensor | None = None,
    n_outputs: int | None = None,
) -> MLPHead:
    """Train an MLP head.

    Args:
        x: (N, d) inputs.
        y: (N,) class indices for ``task="classification"``, (N, k) targets for "regression".
        task: "classification" (cross-entropy) or "regression" (mean squared error).
        config: training settings.
        sample_weight: optional (N,) weights, e.g. 1/(clips of the recording) so that every
            recording counts equally whatever its length.
        n_outputs: output width; default: classes seen in ``y`` or the columns of ``y``.

    Returns:
        The trained head, in eval mode.
    """
    if task not in ("classification", "regression"):
        raise ValueError("task must be 'classification' or 'regression'")
    generator = torch.Generator().manual_seed(config.seed)
    x = x.float()
    d_out = n_outputs or (int(y.max()) + 1 if task == "classification" else y.shape[1])
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        head = MLPHead(x.shape[1], d_out, config.hidden, config.dropout)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    weight = torch.ones(len(x)) if sample_weight is None else sample_weight.float()
    weight = weight / weight.sum()
    head.train()
    for _ in range(config.epochs):
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
            out = head(x)
        if task == "classification":
            losses = nn.functional.cross_entropy(out, y.long(), reduction="none")
        else:
            losses = ((out - y.float()) ** 2).mean(dim=1)
        loss = (losses * weight).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return head.eval()
