"""Does a second wording of the class descriptions land near the first, in the text space alone?

Zero-shot recognition from independently worded descriptions can only work if the text encoder
places each new description near what the model learnt for its class. This measures that on the
text side, before any video is involved: for each class of a second set, the class of the
nearest description of the first set (cosine).

Spaces measured:
- ``--checkpoint RUN/best``: the model's joint embedding space and, for an open_clip HF text
  tower (``emoclip-tiny-minilm``), the pretrained encoder's own pooled space before the trained
  projection;
- ``--sentence-model DIR`` (repeatable): a sentence-transformers model folder on disk, as is, to
  ask whether a larger pretrained sentence encoder would carry the wording better. ``minilm``
  names the folder shipped in the ``minilm`` extra.

Usage: python bench/bench_wording.py [--checkpoint RUN/best] [--sentence-model DIR ...]
       [--first basic7] [--second basic7_unseen --second basic7_unseen_plain] [--per-class]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

Encoder = Callable[[list[str]], dict[str, torch.Tensor]]


def checkpoint_spaces(path: str) -> Encoder:
    """The joint space of a checkpoint and, where it has one, its text tower's pooled space."""
    from emoclip_clinic.models.build import get_tokenizer
    from emoclip_clinic.models.checkpoints import load_checkpoint
    from emoclip_clinic.zeroshot.classifier import encode_texts

    model, _ = load_checkpoint(path)
    tokenizer = get_tokenizer(model.config)
    pooled: list[torch.Tensor] = []  # the projection's inputs, when there is one
    projection = getattr(getattr(model.clip, "text", None), "proj", None)
    if isinstance(projection, torch.nn.Linear):
        projection.register_forward_hook(lambda _m, inputs, _o: pooled.append(inputs[0]))

    def embed(texts: list[str]) -> dict[str, torch.Tensor]:
        pooled.clear()
        spaces = {"model (after projection)": encode_texts(model, tokenizer, texts)}
        if pooled:
            raw = torch.cat(pooled).float()
            spaces["its text encoder (before projection)"] = torch.nn.functional.normalize(
                raw, dim=-1
            )
        return spaces

    return embed


def sentence_model(folder: str) -> Encoder:
    """A sentence-transformers model loaded from a folder, never from the network."""
    from pathlib import Path

    from sentence_transformers import SentenceTransformer

    if folder == "minilm":  # the text tower of emoclip-tiny-minilm, as its config finds it
        from emoclip_clinic.models.build import open_clip_config
        from emoclip_clinic.models.config import get_model_config

        config = open_clip_config(get_model_config("emoclip-tiny-minilm"))
        folder = config["text_cfg"]["hf_model_name"]
    model = SentenceTransformer(folder, device="cpu", local_files_only=True)
    name = Path(folder).name if Path(folder).name != "model" else Path(folder).parent.name

    def embed(texts: list[str]) -> dict[str, torch.Tensor]:
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_tensor=True)
        return {f"sentence model {name}": vectors.float().cpu()}

    return embed


def main() -> None:
    """Print, per space and second set, how many classes land nearest their own class."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--sentence-model", action="append", default=[])
    parser.add_argument("--first", default="basic7")
    parser.add_argument("--second", action="append")
    parser.add_argument("--per-class", action="store_true")
    args = parser.parse_args()
    from emoclip_clinic.zeroshot.descriptions import load_descriptions

    encoders = [checkpoint_spaces(args.checkpoint)] if args.checkpoint else []
    encoders += [sentence_model(folder) for folder in args.sentence_model]
    if not encoders:
        parser.error("give --checkpoint or --sentence-model")
    first = load_descriptions(args.first)
    for second_name in args.second or ["basic7_unseen"]:
        second = load_descriptions(second_name)
        classes = sorted(set(first.classes) & set(second.classes))
        for encoder in encoders:
            # the first sentence of each class
            a = encoder([first.classes[c][0] for c in classes])
            b = encoder([second.classes[c][0] for c in classes])
            for space, x in a.items():
                sim = b[space] @ x.T
                nearest = sim.argmax(dim=1)
                hits = int((nearest == torch.arange(len(classes))).sum())
                print(f"{space}: {second_name} nearest its own class in {args.first}: "
                      f"{hits}/{len(classes)}")  # fmt: skip
                if args.per_class:
                    for i, name in enumerate(classes):
                        print(f"  {name:12s} -> {classes[nearest[i]]:12s} "
                              f"own {sim[i, i]:.2f} nearest {sim[i].max():.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
