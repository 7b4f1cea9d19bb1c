"""Pretraining on the synthetic MAFW: retrieval on held-out identities, throughput, data wait.

Run from the repository root::

    .venv/bin/python bench/bench_pretrain.py --minutes 10                 # emoclip-tiny, CPU
    .venv/bin/python bench/bench_pretrain.py --model emoclip-vit-b-32 --device cuda --minutes 10 \
        --workers 12

Makes (once, in ``--data``) a synthetic MAFW set, then trains for at most ``--minutes`` of
wall time (epochs are sized from a first timed epoch) and reports: text-to-video R@1 of the
untrained model and of the best checkpoint on the test fold (held-out identities) beside
chance (1/N), and from ``metrics/steps.jsonl`` the median clips/s of a training step and the
share of step time spent waiting for data. Prints a markdown table with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

SETTINGS = {"num_frames": 8, "downsample": 1, "batch_size": 32, "optimizer": "adamw",
            "lr": 1e-3, "backbone_lr": 1e-3, "warmup_steps": 100, "val_fraction": 0.1,
            "augment": "flip", "workers": 2}  # fmt: skip
SEED = 0


def make_data(folder: Path, identities: int, workers: int = 2) -> Path:
    """A synthetic MAFW of ``identities`` x 10 clips (made once; reused when present).

    The files do not depend on ``workers`` (rendering processes).
    """
    from emoclip_clinic.synth.expression_sets import make_mafw

    if not (folder / "synth_meta.json").is_file():
        make_mafw(folder, n_identities=identities, clips_per_identity=10, size=64, fps=8.0,
                  seconds=(1.6, 2.4), compound_fraction=0.0, workers=workers,
                  overwrite=True)  # fmt: skip
    return folder


def run_name(model: str, device: str, augment: str) -> str:
    """Run folder name; the default augmentation keeps the first runs' names."""
    suffix = "" if augment == SETTINGS["augment"] else f"_{augment}"
    return f"run_{model}_{device}{suffix}"


def _config(data: Path, out: Path, model: str, epochs: int, **overrides):
    from emoclip_clinic.train.config import PretrainConfig

    settings = {"device": "cpu", "seed": SEED, **SETTINGS, **overrides}
    return PretrainConfig(data_root=data, out_dir=out, model=model, epochs=epochs, **settings)


def steps(run: Path) -> list[dict]:
    """The per-step records of a run."""
    lines = (run / "metrics" / "steps.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def timed_run(
    data: Path, out: Path, model: str, minutes: float, epochs: int | None = None, **overrides
) -> Path:
    """Pretrain for at most ``minutes`` of wall time (or ``epochs``); reuse a finished run and
    continue an interrupted one.

    The epochs are sized from a 20-step probe run (its seconds per step, plus the time of one
    validation pass), with 15% to spare.
    """
    from emoclip_clinic.data.mafw import read_mafw
    from emoclip_clinic.train.pretrain import pretrain

    if (out / "final.json").is_file():
        return out
    if epochs is not None:
        pretrain(_config(data, out, model, epochs, **overrides), resume=_started(out))
        return out
    probe = out.with_name(out.name + "_probe")
    if not (probe / "final.json").is_file():
        pretrain(_config(data, probe, model, 1, max_steps_per_epoch=20, **overrides))
    epochs_jsonl = (probe / "metrics" / "epochs.jsonl").read_text().splitlines()
    step_s = statistics.median(s["step_s"] for s in steps(probe)[2:])
    n_train = len(read_mafw(data, 1, "train", "single")[0]) * (1 - SETTINGS["val_fraction"])
    per_epoch = n_train / SETTINGS["batch_size"] * step_s + json.loads(epochs_jsonl[-1])["val_s"]
    epochs = max(1, int(minutes * 60 / (per_epoch * 1.15)))
    pretrain(_config(data, out, model, epochs, **overrides), resume=_started(out))
    return out


def _started(out: Path) -> bool:
    return (out / "run.json").is_file()


def device_name(device: str) -> str:
    """The device in words (the GPU's name on CUDA)."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(device)}, torch {torch.__version__})"
    return device


def untrained_test(data: Path, model: str, device: str = "cpu", workers: int = 2) -> dict:
    """Test-fold retrieval of the randomly initialised model (the starting point)."""
    import torch

    from emoclip_clinic.data.dataset import ClipDataset, ClipSampling
    from emoclip_clinic.data.mafw import read_mafw
    from emoclip_clinic.data.transforms import ClipTransform
    from emoclip_clinic.models import create_emoclip, get_preprocess_cfg, get_tokenizer
    from emoclip_clinic.train.evaluate import embed_dataset, retrieval_metrics

    torch.manual_seed(SEED)
    net = create_emoclip(model)
    test, _ = read_mafw(data, 1, "test", "single")
    sampling = ClipSampling(SETTINGS["num_frames"], SETTINGS["downsample"])
    dataset = ClipDataset(test, ClipTransform(get_preprocess_cfg(net)), sampling, False)
    embedded = embed_dataset(net.to(device), dataset, get_tokenizer(model), workers=workers)
    return retrieval_metrics(embedded.video, embedded.text)


def main() -> None:
    """Train, evaluate, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", default="emoclip-tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--identities", type=int, default=500)
    parser.add_argument("--work", type=Path, default=Path("/tmp/emoclip_bench_pretrain"))
    parser.add_argument("--augment", default=SETTINGS["augment"], help="flip, paper or style")
    parser.add_argument("--workers", type=int, default=SETTINGS["workers"],
                        help="data-loader and rendering processes")  # fmt: skip
    args = parser.parse_args()
    data = make_data(args.work / "mafw", args.identities, max(2, args.workers))
    before = untrained_test(data, args.model, args.device, args.workers)
    run = args.work / run_name(args.model, args.device, args.augment)
    start = time.perf_counter()
    timed_run(data, run, args.model, args.minutes, device=args.device, augment=args.augment,
              workers=args.workers)  # fmt: skip
    wall = time.perf_counter() - start
    result = json.loads((run / "final.json").read_text())
    records = steps(run)
    waits = sum(s["data_wait_s"] for s in records) / sum(s["step_s"] for s in records)
    epochs = len((run / "metrics" / "epochs.jsonl").read_text().splitlines())
    test = result["test"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"device {device_name(args.device)}, {args.workers} loader workers, load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"test fold: {test['n']} clips of held-out identities; chance R@1 "
          f"{test['chance_r1']:.4f}, R@10 {min(1, 10 * test['chance_r1']):.4f}, median rank "
          f"{(test['n'] + 1) / 2:.0f}")  # fmt: skip
    print("| model | epochs | wall min (incl. probe) | clips/s (median step) | data-wait share "
          "| t2v R@1 | t2v R@10 | t2v median rank | v2t R@1 | untrained t2v R@1 / median rank "
          "| best epoch |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.model} ({args.augment}) | {epochs} | {wall / 60:.1f} | "
          f"{statistics.median(s['clips_per_s'] for s in records):.1f} | {waits:.2f} | "
          f"{test['t2v_r1']:.4f} | {test['t2v_r10']:.3f} | {test['t2v_median_rank']:.0f} | "
          f"{test['v2t_r1']:.4f} | {before['t2v_r1']:.4f} / {before['t2v_median_rank']:.0f} | "
          f"{result['best_epoch']} |")  # fmt: skip


if __name__ == "__main__":
    main()
