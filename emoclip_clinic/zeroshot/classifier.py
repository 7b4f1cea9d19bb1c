"""Text-side class embeddings and zero-shot scores (paper, Sec. III-C).

A class embedding is the normalised mean of the normalised embeddings of its sentences. A
compound emotion gets the mean of its components' pre-normalised class embeddings, added to
the set of classes (the paper's proposal), or, as the baseline, the embedding of the
components' descriptions concatenated into one text. Such a text is usually longer than the
text encoder's context (77 tokens in CLIP) and is cut there, as in the paper's baseline; a
warning says how many were cut.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from emoclip_clinic.models.build import Tokenizer, texts_longer_than_context
from emoclip_clinic.models.emoclip import EmoCLIP
from emoclip_clinic.zeroshot.descriptions import ClassDescriptions, PromptTemplates

COMPOUND_MODES = ("average", "concatenate")
logger = logging.getLogger(__name__)


@torch.no_grad()
def encode_texts(
    model: EmoCLIP, tokenizer: Tokenizer, texts: Sequence[str], batch_size: int = 64
) -> torch.Tensor:
    """Normalised text embeddings (N, D) on the CPU, in float32."""
    device = next(model.parameters()).device
    model.eval()
    out = [
        model.encode_text(tokenizer(list(texts[i : i + batch_size])).to(device), normalize=True)
        for i in range(0, len(texts), batch_size)
    ]
    return torch.cat(out).float().cpu()


def _mean_direction(embeddings: torch.Tensor) -> torch.Tensor:
    return F.normalize(embeddings.mean(dim=0), dim=-1)


def description_embeddings(
    model: EmoCLIP,
    tokenizer: Tokenizer,
    descriptions: ClassDescriptions,
    classes: Sequence[str],
    compound: str = "average",
) -> torch.Tensor:
    """Class embeddings (C, D) from descriptions, compound classes included.

    Args:
        model: the model whose text encoder embeds the sentences.
        tokenizer: its tokenizer.
        descriptions: sentences of the base classes.
        classes: class labels in score order; ``a_b`` is the compound of ``a`` and ``b``.
        compound: "average" (mean of the components' embeddings) or "concatenate" (one text).

    Raises:
        ConfigError: a class or component has no description.
        ValueError: unknown compound mode.
    """
    if compound not in COMPOUND_MODES:
        raise ValueError(f"compound mode must be one of {COMPOUND_MODES}")
    base = sorted({part for label in classes for part in descriptions.components(label)})
    sentences = [(c, s) for c in base for s in descriptions.classes[c]]
    encoded = encode_texts(model, tokenizer, [s for _, s in sentences])
    per_class = {
        c: _mean_direction(encoded[[i for i, (k, _) in enumerate(sentences) if k == c]])
        for c in base
    }
    rows, concatenated = [], {}
    for label in classes:
        parts = descriptions.components(label)
        if len(parts) == 1 or compound == "average":
            rows.append(_mean_direction(torch.stack([per_class[p] for p in parts])))
        else:
            concatenated[len(rows)] = " ".join(s for p in parts for s in descriptions.classes[p])
            rows.append(None)
    if concatenated:
        texts = list(concatenated.values())
        _warn_if_cut(tokenizer, texts)
        for row, embedding in zip(concatenated, encode_texts(model, tokenizer, texts), strict=True):
            rows[row] = embedding
    return torch.stack(rows)


def _warn_if_cut(tokenizer: Tokenizer, texts: list[str]) -> None:
    cut = texts_longer_than_context(tokenizer, texts)
    if cut:
        logger.warning(
            "%d of %d concatenated compound descriptions are longer than the text encoder's "
            "%d-token context and are cut there", cut, len(texts), tokenizer.context_length,
        )  # fmt: skip


def template_embeddings(
    model: EmoCLIP, tokenizer: Tokenizer, templates: PromptTemplates, classes: Sequence[str]
) -> torch.Tensor:
    """Class embeddings (C, D) of the prompt-template ensemble (names the emotions)."""
    prompts = [templates.prompts(label) for label in classes]
    flat = encode_texts(model, tokenizer, [p for group in prompts for p in group])
    per = len(templates.templates)
    return torch.stack(
        [_mean_direction(flat[i * per : (i + 1) * per]) for i in range(len(classes))]
    )


def zero_shot_scores(video: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Cosine similarities (N, C) between normalised clip and class embeddings."""
    return F.normalize(video.float(), dim=-1) @ classes.float().T
