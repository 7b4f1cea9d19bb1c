"""Which image tower can a tiny model train from scratch? A supervised probe on unseen faces.

Run from the repository root::

    .venv/bin/python bench/bench_towers.py --epochs 8

Reads fold 1 of a synthetic MAFW (``--data``; made by bench_pretrain.py, or
``emoclip-clinic synth mafw``), decodes every clip once (8 frames, evaluation preprocessing),
and trains each candidate image tower inside the EmoCLIP video encoder (tower, then the
temporal transformer, then a linear layer over the normalised video embedding) with
cross-entropy on the 11 emotion labels: AdamW 1e-3 with a one-cycle schedule, batch 32,
horizontal flips. Test UAR is on the test fold's identities, which training never saw; chance
is 1/11. A linear classifier on 16x16 grey pixels (mean and standard deviation over time) is
the floor any learned tower should clear.

This is a diagnostic of the architecture, not a result of the method: it is what made the tiny
models use the convolutional tower of ``emoclip_clinic/models/conv_tower.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

TOWERS = {
    "open_clip ViT (patch 8, width 64, 2 layers)": None,  # emoclip-tiny without conv_tower
    "conv tower, BatchNorm (emoclip-tiny)": "conv",
}


def _clips(data: Path, split: str) -> tuple[torch.Tensor, list[str]]:
    from emoclip_clinic.data.dataset import ClipDataset, ClipSampling
    from emoclip_clinic.data.mafw import read_mafw
    from emoclip_clinic.data.transforms import ClipTransform
    from emoclip_clinic.models import create_emoclip, get_preprocess_cfg

    samples, _ = read_mafw(data, 1, split, "single")
    preprocess = get_preprocess_cfg(create_emoclip("emoclip-tiny"))
    dataset = ClipDataset(samples, ClipTransform(preprocess), ClipSampling(8, 1), False)
    return torch.stack([dataset[i]["video"] for i in range(len(dataset))]), [
        s.label for s in samples
    ]


def _model_config(tower: str | None, folder: Path) -> Path:
    from emoclip_clinic.resources import protocols_dir

    config = json.loads((protocols_dir() / "models" / "emoclip-tiny.json").read_text())
    if tower is None:
        del config["backbone"]["conv_tower"]
        config["backbone"]["open_clip_config"]["vision_cfg"].update(width=64, layers=2)
    path = folder / f"tower-{tower or 'vit'}.json"
    path.write_text(json.dumps(config))
    return path


def _pixel_floor(train: torch.Tensor, y_train, test: torch.Tensor, y_test) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.preprocessing import StandardScaler

    def features(video: torch.Tensor) -> np.ndarray:
        grey = F.avg_pool2d(video.float().mean(2), 4)  # (N, T, 16, 16)
        return torch.cat([grey.mean(1), grey.std(1)], 1).flatten(1).numpy()

    scaler = StandardScaler().fit(features(train))
    model = LogisticRegression(C=0.05, max_iter=3000)
    model.fit(scaler.transform(features(train)), y_train)
    return balanced_accuracy_score(y_test, model.predict(scaler.transform(features(test))))


def _initial_cosine(clips: torch.Tensor, seed: int) -> tuple[float, float]:
    """Mean pairwise cosine of untrained frame embeddings (training-mode BatchNorm statistics).

    For ``emoclip-tiny``'s conv tower as it is, and without the LayerNorm before its
    projection: near 1 means every image starts with almost the same embedding.
    """
    from emoclip_clinic.models import create_emoclip

    frames = clips[:64].float().flatten(0, 1)

    def cosine(tower: torch.nn.Module) -> float:
        with torch.no_grad():
            embedded = F.normalize(tower.train()(frames), dim=-1)
        return float((embedded @ embedded.T).mean())

    torch.manual_seed(seed)
    tower = create_emoclip("emoclip-tiny").clip.visual
    with_norm = cosine(tower)
    tower.norm = torch.nn.Identity()
    return with_norm, cosine(tower)


def _train(config: Path, data, epochs: int, seed: int) -> list[float]:
    from sklearn.metrics import balanced_accuracy_score

    from emoclip_clinic.models import create_emoclip

    (train, y_train), (test, y_test) = data
    torch.manual_seed(seed)
    model = create_emoclip(config)
    head = torch.nn.Linear(model.embed_dim, int(y_train.max()) + 1)
    params = [*model.clip.visual.parameters(), *model.temporal.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)
    batch, per_epoch = 32, len(y_train) // 32
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 1e-3, epochs * per_epoch, 0.1)
    uars = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y_train))
        for step in range(per_epoch):
            index = order[step * batch : (step + 1) * batch]
            video = train[index].float()
            flip = torch.rand(len(index)) < 0.5
            video[flip] = video[flip].flip(-1)
            logits = head(model.encode_video(video, normalize=True)) * 10
            loss = F.cross_entropy(logits, y_train[index])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            predicted = torch.cat([
                head(model.encode_video(test[i : i + 64].float(), normalize=True)).argmax(1)
                for i in range(0, len(y_test), 64)
            ])  # fmt: skip
        uars.append(balanced_accuracy_score(y_test, predicted))
    return uars


def main() -> None:
    """Decode the clips, train every tower, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/emoclip_bench_towers/mafw"))
    parser.add_argument("--identities", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from bench_pretrain import make_data

    data = make_data(args.data, args.identities)
    (train, train_labels), (test, test_labels) = _clips(data, "train"), _clips(data, "test")
    classes = sorted(set(train_labels))
    y_train = torch.tensor([classes.index(c) for c in train_labels])
    y_test = torch.tensor([classes.index(c) for c in test_labels])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{len(y_train)} training clips, {len(y_test)} test clips of unseen identities; "
          f"chance UAR {1 / len(classes):.3f}")  # fmt: skip
    print(f"pixel floor (logistic regression): UAR "
          f"{_pixel_floor(train, y_train, test, y_test):.3f}")  # fmt: skip
    with_norm, without = _initial_cosine(test, args.seed)
    print(f"untrained conv tower, mean pairwise cosine of frame embeddings: {with_norm:.2f} "
          f"with the LayerNorm, {without:.2f} without")  # fmt: skip
    print(f"| tower | test UAR per epoch (1..{args.epochs}) | best | seconds |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, tower in TOWERS.items():
            start = time.perf_counter()
            config = _model_config(tower, Path(folder))
            uars = _train(config, ((train, y_train), (test, y_test)), args.epochs, args.seed)
            print(f"| {name} | {' '.join(f'{u:.2f}' for u in uars)} | {max(uars):.3f} | "
                  f"{time.perf_counter() - start:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
