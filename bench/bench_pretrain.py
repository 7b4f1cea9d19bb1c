"""Pretraining on the synthetic MAFW: retrieval on held-out identities, throughput, data wait.

Run from the repository root::

    .venv/bin/python bench/bench_pretrain.py --minutes 10                 # emoclip-tiny, CPU
    .venv/bin/python bench/bench_pretrain.py --model emoclip-vit-b-32 --device cuda --minutes 10

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
            "lr": 5e-4, "backbone_lr": 5e-4, "warmup_steps": 50, "val_fraction": 0.1}  # fmt: skip


def _data(folder: Path, identities: int) -> Path:
    from emoclip_clinic.synth.expression_sets import make_mafw

    if not (folder / "identities.txt").is_file():
        make_mafw(folder, n_identities=identities, clips_per_identity=10, size=64, fps=8.0,
                  seconds=(1.6, 2.4), compound_fraction=0.0, workers=2, overwrite=True)  # fmt: skip
    return folder


def _run(data: Path, out: Path, model: str, device: str, epochs: int) -> dict:
    from emoclip_clinic.train.config import PretrainConfig
    from emoclip_clinic.train.pretrain import pretrain

    config = PretrainConfig(data_root=data, out_dir=out, model=model, device=device,
                            epochs=epochs, workers=2, **SETTINGS)  # fmt: skip
    return pretrain(config).__dict__


def _steps(run: Path) -> list[dict]:
    lines = (run / "metrics" / "steps.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def main() -> None:
    """Train, evaluate, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", default="emoclip-tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--identities", type=int, default=120)
    parser.add_argument("--data", type=Path, default=Path("/tmp/emoclip_bench_mafw"))
    args = parser.parse_args()
    data = _data(args.data, args.identities)
    stamp = int(time.time())
    probe = _run(data, args.data.parent / f"bench_probe_{stamp}", args.model, args.device, 1)
    epoch_s = sum(s["step_s"] for s in _steps(Path(probe["run_dir"])))
    epochs = max(1, int(args.minutes * 60 / max(epoch_s * 1.15, 1e-3)))
    start = time.perf_counter()
    result = _run(data, args.data.parent / f"bench_run_{stamp}", args.model, args.device, epochs)
    wall = time.perf_counter() - start
    steps = _steps(Path(result["run_dir"]))
    waits = sum(s["data_wait_s"] for s in steps) / sum(s["step_s"] for s in steps)
    test = result["test"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"device {args.device}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| model | epochs | wall min | clips/s (median step) | data wait share | test R@1 "
          "t2v | chance | best epoch |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.model} | {epochs} | {wall / 60:.1f} | "
          f"{statistics.median(s['clips_per_s'] for s in steps):.1f} | {waits:.2f} | "
          f"{test['t2v_r1']:.3f} | {test['chance_r1']:.3f} | {result['best_epoch']} |")  # fmt: skip


if __name__ == "__main__":
    main()
