"""Files written by ``emoclip-clinic zeroshot``: a JSON, a CSV table, confusion matrices."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from emoclip_clinic.fileio import atomic_path, write_json_atomic
from emoclip_clinic.provenance import package_versions
from emoclip_clinic.zeroshot.run import ZeroShotResult

TABLE_COLUMNS = ("model", "view", "text", "n_samples", "uar", "uar_ci", "war", "war_ci",
                 "macro_f1", "macro_auc")  # fmt: skip


def table(result: ZeroShotResult) -> pd.DataFrame:
    """One row per (model, view, text) with the headline metrics and their intervals."""
    records = []
    for row in result.rows:
        record = {k: row[k] for k in ("model", "view", "text", "n_samples")}
        for metric in ("uar", "war"):
            low, high = row[f"{metric}_ci"]
            record |= {metric: row[metric], f"{metric}_ci_low": low, f"{metric}_ci_high": high}
        record |= {"macro_f1": row["macro_f1"], "macro_auc": row["macro_auc"]}
        records.append(record)
    return pd.DataFrame.from_records(records)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_outputs(
    result: ZeroShotResult, out_dir: Path, name: str, context: dict[str, Any]
) -> list[Path]:
    """Write ``<name>.json``, ``<name>.csv``, ``<name>_predictions.csv`` and confusion CSVs.

    Args:
        result: the evaluation.
        out_dir: output folder (created).
        name: file stem, e.g. "dfew_fold1_test".
        context: config, chance levels and input description recorded in the JSON.

    Returns:
        The files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        write_json_atomic(
            out_dir / f"{name}.json",
            {"classes": result.classes, "rows": result.rows, "failed": result.failed,
             "versions": package_versions(), **context},
        )
    ]  # fmt: skip
    for suffix, frame in (("", table(result)), ("_predictions", pd.DataFrame(result.predictions))):
        with atomic_path(out_dir / f"{name}{suffix}.csv") as tmp:
            frame.to_csv(tmp, index=False)
        written.append(out_dir / f"{name}{suffix}.csv")
    for row in result.rows:
        stem = _slug(f"{row['model']}-{row['view']}-{row['text']}")
        frame = pd.DataFrame(row["confusion"], index=result.classes, columns=result.classes)
        path = out_dir / "confusion" / f"{name}_{stem}.csv"
        path.parent.mkdir(exist_ok=True)
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index_label="true \\ predicted")
        written.append(path)
    return written
