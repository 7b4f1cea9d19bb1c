"""Zero-shot FER on the synthetic world: EmoCLIP beside its baselines, with chance levels.

Run from the repository root::

    .venv/bin/python bench/bench_zeroshot.py --minutes 10
    .venv/bin/python bench/bench_zeroshot.py --minutes 10 --then-epochs 6   # + style epochs
    python bench/bench_zeroshot.py --device cuda --workers 12 --epochs 20 --then-epochs 20 \
        --no-minilm                                                          # on a GPU

1. Makes (once, under ``--work``, shared with bench_pretrain.py) a synthetic MAFW for
   pretraining, a synthetic DFEW (identities and a style never seen in pretraining) and a
   compound set (MAFW layout, compound labels, unseen identities).
2. Pretrains three models on the same captions: ``emoclip-tiny`` (temporal transformer) for at
   most ``--minutes`` (bench_pretrain.py sizes its epochs), then for as many epochs the
   frame-ensemble CLIP baseline (the same model with mean pooling) and ``emoclip-tiny-minilm``
   (its pretrained MiniLM text encoder kept fixed, its projection trained: ``--freeze-text``).
   Existing runs in ``--work`` are reused.
3. Evaluates zero-shot on the DFEW test fold (7 basic classes; views: video, frame ensemble,
   middle frame; class descriptions and the prompt-template ensemble; the linear probe as the
   supervised reference), with the independently worded descriptions beside the originals for
   ``emoclip-tiny-minilm``; and compound classes by averaging versus concatenated descriptions.
   With ``--then-epochs N`` each of the three runs goes on for N epochs from its best
   checkpoint with the ``--then`` augmentation (default ``style``; ``pretrain --init``), and
   the continued runs are the ones evaluated (a curriculum; docs/benchmarks.md).
4. Prints markdown tables (UAR and WAR with 95% bootstrap intervals over identities) and the
   chance levels; writes them to ``--work/zeroshot_tables.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pretrain import SETTINGS, device_name, make_data, run_name, timed_run

FRAMES = {"num_frames": SETTINGS["num_frames"], "downsample": SETTINGS["downsample"]}


def _sets(work: Path, workers: int) -> dict[str, Path]:
    from emoclip_clinic.synth.expression_sets import make_dfew, make_mafw

    sets = {"mafw": make_data(work / "mafw", 500, workers), "dfew": work / "dfew",
            "compound": work / "cmp"}  # fmt: skip
    clip = {"size": 64, "fps": 8.0, "seconds": (1.6, 2.4), "workers": workers, "overwrite": True}
    if not (sets["dfew"] / "synth_meta.json").is_file():
        make_dfew(sets["dfew"], n_identities=100, clips_per_identity=5, seed=1, **clip)
    if not (sets["compound"] / "synth_meta.json").is_file():
        make_mafw(sets["compound"], n_identities=60, clips_per_identity=5, seed=2,
                  compound_fraction=1.0, **clip)  # fmt: skip
    return sets


def _table(title: str, result, chance: dict[str, float]) -> str:
    lines = [f"**{title}** (chance, uniform guess / always the majority class: UAR "
             f"{chance['uar_uniform']:.3f} / {chance['uar_majority']:.3f}, WAR "
             f"{chance['war_uniform']:.3f} / {chance['war_majority']:.3f})", "",
             "| model | view | text | UAR [95% CI] | WAR [95% CI] | macro F1 | AUC |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in result.rows:
        lines.append(
            f"| {row['model']} | {row['view']} | {row['text']} | {row['uar']:.3f} "
            f"[{row['uar_ci'][0]:.3f}, {row['uar_ci'][1]:.3f}] | {row['war']:.3f} "
            f"[{row['war_ci'][0]:.3f}, {row['war_ci'][1]:.3f}] | {row['macro_f1']:.3f} | "
            f"{row['macro_auc']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Make the data, pretrain, evaluate, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/emoclip_bench_pretrain"))
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--augment", default=SETTINGS["augment"], help="flip, paper or style")
    parser.add_argument("--then", default="style", help="augmentation of the continued runs")
    parser.add_argument(
        "--then-epochs", type=int, default=0, help="continue each run for this many epochs"
    )
    parser.add_argument("--epochs", type=int, default=0,
                        help="first-phase epochs (default 0: sized from --minutes)")  # fmt: skip
    parser.add_argument("--device", default="cpu", help="cpu or cuda (training; names the runs)")
    parser.add_argument("--eval-device", help="device of the evaluation (default: --device)")
    parser.add_argument("--workers", type=int, default=2, help="data-loader processes")
    parser.add_argument("--no-minilm", action="store_true",
                        help="skip emoclip-tiny-minilm (it needs the minilm extra)")  # fmt: skip
    args = parser.parse_args()
    aug = args.augment

    from emoclip_clinic.data.registry import candidate_classes, read_dataset
    from emoclip_clinic.zeroshot.run import ZeroShotConfig, chance_levels, zeroshot

    sets = _sets(args.work, max(2, args.workers))
    dev, epochs = args.device, args.epochs or None
    train = {"device": dev, "workers": args.workers}
    runs = {
        # the same folder as bench_pretrain.py's run, which is reused when present
        "tiny": timed_run(
            sets["mafw"], args.work / run_name("emoclip-tiny", dev, aug), "emoclip-tiny",
            args.minutes, epochs, augment=aug, **train,
        ),
    }  # fmt: skip
    # The others get the same number of epochs as emoclip-tiny: the same data seen as often.
    epochs = len((runs["tiny"] / "metrics" / "epochs.jsonl").read_text().splitlines())
    others = [("mean", "emoclip-tiny-mean", "emoclip-tiny", {"pooling": "mean"})]
    if not args.no_minilm:
        others.append(("minilm", "emoclip-tiny-minilm", "emoclip-tiny-minilm",
                       {"freeze_text": True}))  # fmt: skip
    for key, label, model, extra in others:
        runs[key] = timed_run(
            sets["mafw"], args.work / run_name(label, dev, aug), model, args.minutes, epochs,
            augment=aug, **extra, **train,
        )  # fmt: skip
    if args.then_epochs:
        # Curriculum: each run goes on from its best checkpoint with another augmentation.
        then = f"{aug}+{args.then}{args.then_epochs}"
        for key, label, model, extra in [("tiny", "emoclip-tiny", "emoclip-tiny", {}), *others]:
            runs[key] = timed_run(
                sets["mafw"], args.work / run_name(label, dev, then), model, args.minutes,
                args.then_epochs, init=runs[key] / "best", augment=args.then, **extra, **train,
            )  # fmt: skip
        aug = then
    test, _ = read_dataset("dfew", sets["dfew"], 1, "test")
    train, _ = read_dataset("dfew", sets["dfew"], 1, "train")
    compound, _ = read_dataset("mafw", sets["compound"], 1, "test", "compound")
    machine = platform.processor() or platform.machine()
    out = [f"machine: {machine}, {os.cpu_count()} cores, load average "
           f"{os.getloadavg()[0]:.1f}; trained on {device_name(dev)}, evaluated on "
           f"{device_name(args.eval_device or dev)}; pretraining "
           f"{f'{args.epochs} epochs' if args.epochs else f'<= {args.minutes} min'} each, "
           f"augmentation {aug}"]  # fmt: skip
    common = {"n_boot": args.n_boot, "workers": args.workers, "device": args.eval_device or dev,
              **FRAMES}  # fmt: skip
    dfew = zeroshot(
        ZeroShotConfig(
            runs["tiny"] / "best", ["basic7"], runs["mean"] / "best", linear_probe=True, **common
        ),
        test,
        train,
    )
    chance = chance_levels(test, dfew.classes)
    out.append(_table("Synthetic DFEW, fold 1 test, emoclip-tiny", dfew, chance))
    if "minilm" in runs:
        minilm = zeroshot(
            ZeroShotConfig(
                runs["minilm"] / "best", ["basic7", "basic7_unseen"], templates=None, **common
            ),
            test,
        )
        out.append(_table("Synthetic DFEW, emoclip-tiny-minilm, both description sets", minilm,
                          chance))  # fmt: skip
    comp = zeroshot(
        ZeroShotConfig(runs["tiny"] / "best", ["mafw11"], templates=None, **common),
        compound,
        classes=candidate_classes("mafw", sets["compound"], "compound"),
    )
    out.append(_table("Synthetic compound set (unseen identities), emoclip-tiny", comp,
                      chance_levels(compound, comp.classes)))  # fmt: skip
    text = "\n\n".join(out)
    print(text)
    suffix = ("" if dev == "cpu" else f"_{dev}") + ("" if aug == SETTINGS["augment"] else f"_{aug}")
    (args.work / f"zeroshot_tables{suffix}.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
