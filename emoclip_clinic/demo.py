"""``emoclip-clinic demo``: the whole chain on the embedded synthetic world.

1. Make a small synthetic world (captioned MAFW-layout clips, DFEW-layout clips in another
   style, an interview cohort with PANSS/CAINS ratings and true face tracks).
2. Pretrain ``emoclip-tiny-minilm`` contrastively on the captions, and a frame-ensemble CLIP
   baseline with the same data and settings.
3. Zero-shot recognition on the synthetic DFEW clips (never seen in training, other faces and
   style) against the baselines.
4. Embed the interviews with the frozen encoder and run leave-one-patient-out for both scales.
5. Render the cohort report and a patient report.

Everything is seeded: the same seed gives the same files and numbers on the same machine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emoclip_clinic.progress import NO_PROGRESS, ProgressHook

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoPlan:
    """How much the demo does (the full demo, or ``--quick``)."""

    epochs: int = 7  # pretraining epochs of each model
    world_scale: float = 1.0  # fraction of the demo world's sizes
    bootstrap: int = 1000  # bootstrap replicates of every interval
    head_steps: int = 150  # symptom-head optimisation steps

    @classmethod
    def quick(cls) -> DemoPlan:
        """A smaller world and fewer epochs (94 s on 2 quiet cores; docs/benchmarks.md)."""
        return cls(epochs=2, world_scale=0.3, bootstrap=200, head_steps=100)


@dataclass
class DemoResult:
    """Where everything went, and the headline numbers."""

    out: Path
    zeroshot: list[dict[str, Any]] = field(default_factory=list)  # table rows
    chance: dict[str, float] = field(default_factory=dict)
    loocv: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # scale -> agreement
    reports: list[Path] = field(default_factory=list)


def _world(out: Path, plan: DemoPlan, seed: int, progress: ProgressHook):
    from emoclip_clinic.synth.world import DEMO_SIZES, DemoSizes, make_world

    sizes = DEMO_SIZES
    if plan.world_scale != 1.0:
        k = plan.world_scale
        sizes = DemoSizes(
            mafw=replace(sizes.mafw, n_identities=max(10, round(sizes.mafw.n_identities * k))),
            dfew=replace(sizes.dfew, n_identities=max(10, round(sizes.dfew.n_identities * k))),
            interviews=replace(sizes.interviews,
                               n_patients=max(8, round(sizes.interviews.n_patients * k))),
        )  # fmt: skip
    root = out / "world"
    if (root / "interviews" / "labels_panss.csv").is_file():
        logger.info("reusing the synthetic world in %s", root)
        return root
    make_world(root, sizes, seed=seed, workers=2, overwrite=True, progress=progress)
    return root


def _pretrain(world: Path, out: Path, plan: DemoPlan, seed: int, pooling: str | None, progress):
    from emoclip_clinic.train.config import PretrainConfig
    from emoclip_clinic.train.pretrain import pretrain

    run = out / ("pretrain_" + (pooling or "emoclip"))
    config = PretrainConfig(
        data_root=world / "mafw", out_dir=run, model="emoclip-tiny-minilm", pooling=pooling,
        num_frames=8, downsample=1, batch_size=32, epochs=plan.epochs, optimizer="adamw",
        lr=1e-3, backbone_lr=1e-3, freeze_text=True, warmup_steps=50, augment="flip",
        val_fraction=0.15, workers=2, seed=seed,
    )  # fmt: skip
    if (run / "final.json").is_file():
        return run / "best"
    pretrain(config, resume=(run / "run.json").is_file(), progress=progress)
    return run / "best"


def _zeroshot(world: Path, out: Path, checkpoint: Path, baseline: Path, plan: DemoPlan,
              seed: int, progress, result: DemoResult) -> None:  # fmt: skip
    from emoclip_clinic.data.registry import read_dataset
    from emoclip_clinic.zeroshot.outputs import write_outputs
    from emoclip_clinic.zeroshot.run import ZeroShotConfig, chance_levels, zeroshot

    # Zero-shot never trains on DFEW, so every clip (the union of the five test folds) is used.
    samples = []
    for fold in range(1, 6):
        samples += read_dataset("dfew", world / "dfew", fold, "test")[0]
    config = ZeroShotConfig(checkpoint=checkpoint, baseline_checkpoint=baseline,
                            descriptions=["basic7", "basic7_unseen"], num_frames=8, downsample=1,
                            n_boot=plan.bootstrap, seed=seed)  # fmt: skip
    evaluation = zeroshot(config, samples, progress=progress)
    result.chance = chance_levels(samples, evaluation.classes)
    write_outputs(evaluation, out / "zeroshot", "dfew_all_folds",
                  {"chance": result.chance, "dataset": "synthetic DFEW (all clips)"})  # fmt: skip
    result.zeroshot = evaluation.rows


def _loocv(world: Path, out: Path, checkpoint: Path, plan: DemoPlan, seed: int, progress,
           result: DemoResult) -> None:  # fmt: skip
    from emoclip_clinic.scoring.embed import EmbedSettings
    from emoclip_clinic.scoring.head import HeadSettings
    from emoclip_clinic.scoring.jobs import CohortJob, run_loocv, run_train_head
    from emoclip_clinic.scoring.pipeline import FaceOptions
    from emoclip_clinic.scoring.score import score_recording

    interviews = world / "interviews"
    settings = EmbedSettings(downsample=1, clip_len=8)
    faces = FaceOptions("tracks", interviews / "tracks")
    head = HeadSettings(steps=plan.head_steps, seed=seed)
    for scale, labels in (("panss_negative", "labels_panss.csv"),
                          ("cains_expression", "labels_cains.csv")):  # fmt: skip
        job = CohortJob(interviews / labels, scale, checkpoint, out / "cache", settings, faces,
                        head)  # fmt: skip
        loocv = run_loocv(job, out / "loocv" / scale, n_boot=plan.bootstrap, seed=seed,
                          progress=progress)  # fmt: skip
        result.loocv[scale] = loocv["agreement"]
    job = CohortJob(interviews / "labels_panss.csv", "panss_negative", checkpoint, out / "cache",
                    settings, faces, head)  # fmt: skip
    run_train_head(job, out / "head_panss", seed=seed, progress=progress)
    first = sorted((interviews / "recordings").glob("*.mp4"))[0]
    score_recording(first, out / "head_panss", checkpoint, out / "scores", faces, out / "cache",
                    progress=progress)  # fmt: skip
    _reports(out, first.stem, result)


def _reports(out: Path, stem: str, result: DemoResult) -> None:
    """Cohort report per scale and the scored interview's patient report."""
    from emoclip_clinic.report import render_cohort_report, render_patient_report

    for scale in result.loocv:
        result.reports.append(
            render_cohort_report(out / "loocv" / scale / "loocv.json", out / "reports" / scale)
        )
    result.reports.append(render_patient_report(out / "scores" / f"{stem}_score.json",
                                                out / "reports"))  # fmt: skip


def run_demo(
    out: Path, quick: bool = False, seed: int = 0, progress: ProgressHook = NO_PROGRESS
) -> DemoResult:
    """Run the demo (see the module docstring); a rerun resumes from finished stages.

    Args:
        out: output folder (created); stages already complete there are reused.
        quick: a smaller world and fewer epochs (see :meth:`DemoPlan.quick`).
        seed: seed of everything.
        progress: progress hook.
    """
    plan = DemoPlan.quick() if quick else DemoPlan()
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out)
    world = _world(out, plan, seed, progress)
    checkpoint = _pretrain(world, out, plan, seed, None, progress)
    baseline = _pretrain(world, out, plan, seed, "mean", progress)
    _zeroshot(world, out, checkpoint, baseline, plan, seed, progress, result)
    _loocv(world, out, checkpoint, plan, seed, progress, result)
    return result
