"""The tables a synthetic cohort is delivered with: labels, truth and the oracle ceiling.

- ``labels_panss.csv`` / ``labels_cains.csv``: ``patient_id, interview_id, recording`` (relative
  to the CSV), one integer column per item id of the shipped scale, ``total``; they pass
  :func:`emoclip_clinic.scoring.labels.read_labels`.
- ``truth.csv``: per interview the shared factor, each domain severity (``domain_<name>``), each
  item's true severity (``true_<item>``, unit variance), the behaviour parameters and what the
  rendered scene realised (``seen_*``).
- ``ceiling.json``: ``pcc`` (item id -> oracle PCC, both scales; totals are under ``by_scale``
  because both scales call theirs ``total``), ``by_scale`` (scale -> item or total -> PCC),
  ``rater_bound`` (PCC of the rating with the true severity), ``observable``, and how it was
  computed; ``ceiling.csv`` holds the same per scale and item.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from emoclip_clinic.scoring.scales import load_scale
from emoclip_clinic.synth.cohort import SCALES, Ceiling, Cohort, LatentModel, oracle_ceiling
from emoclip_clinic.synth.writing import write_json, write_text

LABEL_FILES = {"panss_negative": "labels_panss.csv", "cains_expression": "labels_cains.csv"}


def _csv_text(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _number(value: float) -> str:
    return f"{float(value):.4f}"


def write_labels(root: Path, cohort: Cohort) -> list[Path]:
    """Write one labels CSV per scale; returns their paths."""
    paths = []
    for scale_name in SCALES:
        scale = load_scale(scale_name)
        rated = cohort.population.rated
        rows = []
        for row, (pid, iid) in enumerate(
            zip(cohort.patient_ids, cohort.interview_ids, strict=True)
        ):
            items = [int(rated[i][row]) for i in scale.item_ids]
            rows.append([pid, iid, f"recordings/{iid}.mp4", *items, sum(items)])
        header = ["patient_id", "interview_id", "recording", *scale.item_ids, scale.total.id]
        paths.append(write_text(root / LABEL_FILES[scale_name], _csv_text(header, rows)))
    return paths


def write_truth(root: Path, cohort: Cohort, model: LatentModel, realised: list[dict]) -> Path:
    """Write ``truth.csv``: latent values, behaviour and the realised scene per interview."""
    pop = cohort.population
    seen = sorted({k for r in realised for k in r if k != "frames"})
    header = ["interview_id", "patient_id", "factor", *(f"domain_{d}" for d in model.domains)]
    header += [*(f"true_{i}" for i in pop.true), *pop.behaviour, *(f"seen_{k}" for k in seen)]
    rows = []
    for row, iid in enumerate(cohort.interview_ids):
        rows.append([
            iid, cohort.patient_ids[row], _number(pop.factor[row]),
            *(_number(v) for v in pop.domains[row]),
            *(_number(pop.true[i][row]) for i in pop.true),
            *(_number(pop.behaviour[b][row]) for b in pop.behaviour),
            *(_number(realised[row][k]) for k in seen),
        ])  # fmt: skip
    return write_text(root / "truth.csv", _csv_text(header, rows))


def _observable(ceiling: Ceiling, scale: str, item: str) -> str:
    if item not in ceiling.observable[scale]:
        return "partly"  # a total mixes observable and unobservable items
    return "yes" if ceiling.observable[scale][item] else "no"


def write_ceiling(root: Path, ceiling: Ceiling) -> list[Path]:
    """Write ``ceiling.json`` and ``ceiling.csv``."""
    flat = {i: v for scale in ceiling.oracle.values() for i, v in scale.items() if i != "total"}
    data = {
        "description": "Pearson correlation an oracle reaches between the rated score and the "
        "best linear predictor from the true behaviour parameters (link scale), on a simulated "
        "population; rater_bound: correlation of the rating with the true severity.",
        "pcc": flat, "by_scale": ceiling.oracle, "rater_bound": ceiling.rater_bound,
        "observable": ceiling.observable, "n_simulated": ceiling.n_simulated,
        "seed": ceiling.seed,
    }  # fmt: skip
    rows = [
        [scale, item, _number(pcc), _number(ceiling.rater_bound[scale][item]),
         _observable(ceiling, scale, item)]
        for scale, items in ceiling.oracle.items()
        for item, pcc in items.items()
    ]  # fmt: skip
    header = ["scale", "item", "oracle_pcc", "rater_bound_pcc", "observable"]
    return [
        write_json(root / "ceiling.json", data),
        write_text(root / "ceiling.csv", _csv_text(header, rows)),
    ]


def write_cohort_tables(
    root: Path, cohort: Cohort, model: LatentModel, realised: list[dict]
) -> Ceiling:
    """Write labels, truth and ceiling files of a cohort; return the ceiling."""
    write_labels(root, cohort)
    write_truth(root, cohort, model, realised)
    ceiling = oracle_ceiling(model)
    write_ceiling(root, ceiling)
    return ceiling
