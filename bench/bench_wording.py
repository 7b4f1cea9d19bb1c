"""Does a second wording of the class descriptions land near the first, in the text space alone?

Zero-shot recognition from independently worded descriptions can only work if the text encoder
places each new description near what the model learnt for its class. This measures that on the
text side, before any video is involved: for each class of the second set, the class of the
nearest description of the first set (cosine), in the model's embedding space and, for an
open_clip HF text tower (``emoclip-tiny-minilm``), in the pretrained encoder's own pooled space
before the trained projection.

Usage: python bench/bench_wording.py --checkpoint RUN/best [--first basic7]
       [--second basic7_unseen]
"""

from __future__ import annotations

import argparse

import torch


def main() -> None:
    """Print, per class, the nearest class and the own-class similarity in each space."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--first", default="basic7")
    parser.add_argument("--second", default="basic7_unseen")
    args = parser.parse_args()
    from emoclip_clinic.models.build import get_tokenizer
    from emoclip_clinic.models.checkpoints import load_checkpoint
    from emoclip_clinic.zeroshot.classifier import encode_texts
    from emoclip_clinic.zeroshot.descriptions import load_descriptions

    model, _ = load_checkpoint(args.checkpoint)
    tokenizer = get_tokenizer(model.config)
    first, second = load_descriptions(args.first), load_descriptions(args.second)
    classes = sorted(set(first.classes) & set(second.classes))
    pooled: list[torch.Tensor] = []  # the projection's inputs, when there is one
    projection = getattr(model.clip, "text", None)
    projection = getattr(projection, "proj", None)
    if isinstance(projection, torch.nn.Linear):
        projection.register_forward_hook(lambda _m, inputs, _o: pooled.append(inputs[0]))

    def embed(descriptions) -> dict[str, torch.Tensor]:
        pooled.clear()
        texts = [descriptions.classes[c][0] for c in classes]  # first sentence of each class
        spaces = {"model (after projection)": encode_texts(model, tokenizer, texts)}
        if pooled:
            raw = torch.cat(pooled).float()
            spaces["pretrained text encoder (before projection)"] = torch.nn.functional.normalize(
                raw, dim=-1
            )
        return spaces

    a, b = embed(first), embed(second)
    for space, x in a.items():
        sim = b[space] @ x.T
        nearest = sim.argmax(dim=1)
        hits = int((nearest == torch.arange(len(classes))).sum())
        print(f"{space}: {args.second} nearest its own class in {args.first}: "
              f"{hits}/{len(classes)}")  # fmt: skip
        for i, name in enumerate(classes):
            print(f"  {name:12s} -> {classes[nearest[i]]:12s} own {sim[i, i]:.2f} "
                  f"nearest {sim[i].max():.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
