"""The cohort report: a ``loocv`` output as agreement tables and plots a clinician can read."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from emoclip_clinic.fileio import write_text_atomic
from emoclip_clinic.report import plots
from emoclip_clinic.report.render import load_output, render_report

# Interviews with a smaller share of usable clips are listed as flagged.
FLAG_USABLE_SHARE = 0.8
# Statistics of the agreement tables: JSON key -> column label.
CORRELATION_STATS = {"pcc": "Pearson r", "ccc": "CCC", "icc_a1": "ICC(2,1)", "icc_c1": "ICC(3,1)"}
ERROR_STATS = {"mae": "MAE", "rmse": "RMSE", "bias": "Mean difference"}
STATISTICS = (*CORRELATION_STATS, *ERROR_STATS)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _number(value: Any) -> float:
    """A JSON number as float; NaN for null."""
    return float(value) if isinstance(value, int | float) else math.nan


def _interval_kind(agreement: list[dict[str, Any]]) -> str:
    """``boot`` (patient bootstrap) where the run made one, else ``ci`` (analytic)."""
    return "boot" if any(_finite(row.get("pcc_boot_low")) for row in agreement) else "ci"


def _statistic(row: dict[str, Any], key: str, kind: str) -> dict[str, Any]:
    return {"value": row.get(key), "low": row.get(f"{key}_{kind}_low"),
            "high": row.get(f"{key}_{kind}_high")}  # fmt: skip


def figure_text(figure: dict[str, Any]) -> str:
    """A published inter-rater figure in words, honest about what was not verified."""
    statistic = str(figure.get("statistic", "agreement"))
    value, reported = figure.get("value"), figure.get("reported_range")
    if _finite(value):
        return f"{statistic} {value:.2f}"
    if isinstance(reported, list | tuple) and len(reported) == 2:
        return (f"{statistic}: {reported[0]:.2f}-{reported[1]:.2f} across items "
                "(this item's value not verified)")  # fmt: skip
    return f"{statistic}: figure not verified"


class _Sources:
    """Numbers each distinct source once, collecting the item notes that cite it."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def cite(self, figure: dict[str, Any], item: str) -> dict[str, Any]:
        text = str(figure["source"])
        known = [entry["text"] for entry in self.entries]
        if text not in known:
            self.entries.append({"text": text, "notes": []})
            known.append(text)
        number = known.index(text) + 1
        entry = self.entries[number - 1]
        if figure.get("note"):
            entry["notes"].append({"item": item, "text": str(figure["note"])})
        return {"text": figure_text(figure), "ref": number}


def _item_rows(data: dict[str, Any], sources: _Sources, kind: str) -> list[dict[str, Any]]:
    agreement = {row["item"]: row for row in data["agreement"]}
    rows = []
    for index, item in enumerate(data["items"]):
        row = agreement.get(item["id"])
        if row is None:
            continue
        rated = [_number(p[f"rated_{item['id']}"]) for p in data["predictions"]]
        predicted = [_number(p[f"predicted_{item['id']}"]) for p in data["predictions"]]
        value_range = (float(item["min"]), float(item["max"]))
        rows.append({
            "id": item["id"], "name": item["name"], "observable": item["observable"],
            "signal": item["signal"], "definition": item["definition"],
            "n_interviews": row["n_interviews"], "n_patients": row["n_patients"],
            "stats": {key: _statistic(row, key, kind) for key in STATISTICS},
            "loa_low": row.get("loa_low"), "loa_high": row.get("loa_high"),
            "oracle_pcc": row.get("oracle_pcc"), "share_of_ceiling": row.get("share_of_ceiling"),
            "notes": row.get("notes") or "",
            "human": [sources.cite(f, item["id"]) for f in item.get("inter_rater") or ()],
            "plot": plots.agreement_plots(index, rated, predicted, value_range, row.get("bias"),
                                          (row.get("loa_low"), row.get("loa_high"))),
        })  # fmt: skip
    return rows


def _flags(data: dict[str, Any]) -> dict[str, Any]:
    flagged = [{"id": q["interview_id"], "clips": q["clips"], "usable": q["usable"],
                "occluded": q.get("occluded", 0),
                "share": q["usable"] / q["clips"] if q["clips"] else 0.0,
                "face_time_share": q.get("face_time_share")}
               for q in data["quality"]]  # fmt: skip
    return {
        "failed": sorted(data["failed_recordings"].items()),
        "left_out": sorted((data["cohort"].get("left_out") or {}).items()),
        "flagged": sorted((q for q in flagged if q["share"] < FLAG_USABLE_SHARE),
                          key=lambda q: q["share"]),
        "threshold": FLAG_USABLE_SHARE,
    }  # fmt: skip


def _interviews(data: dict[str, Any], total_id: str) -> list[dict[str, Any]]:
    rows = []
    for p in data["predictions"]:
        rated, predicted = _number(p[f"rated_{total_id}"]), _number(p[f"predicted_{total_id}"])
        rows.append({"id": p["interview_id"], "patient": p["patient_id"], "rated": rated,
                     "predicted": predicted, "difference": predicted - rated})  # fmt: skip
    return rows


def cohort_context(data: dict[str, Any], source: Path) -> dict[str, Any]:
    """Everything the cohort template shows, from a ``loocv`` output.

    Args:
        data: the parsed ``loocv.json``.
        source: its path (named in the report).
    """
    sources = _Sources()
    kind = _interval_kind(data["agreement"])
    rows = _item_rows(data, sources, kind)
    scale_meta = data["scale"].get("meta") or {}
    scale_figures = [sources.cite(f, "whole scale") for f in scale_meta.get("inter_rater") or ()]
    total_id = data["items"][-1]["id"]  # `loocv` lists the items, then the total
    return {
        "title": "Cohort report", "source_name": source.name,
        "scale": {"name": data["scale"]["name"], "title": data["scale"]["title"],
                  "version": scale_meta.get("version"), "citation": scale_meta.get("citation"),
                  "figures": scale_figures},
        "rows": rows, "sources": sources.entries, "interval_kind": kind,
        "correlation_stats": CORRELATION_STATS, "error_stats": ERROR_STATS,
        "show_ceiling": any(_finite(row["oracle_pcc"]) for row in rows),
        "cohort": data["cohort"], "flags": _flags(data),
        "interviews": _interviews(data, total_id), "total_id": total_id,
        "encoder": data["encoder"], "labels": data.get("labels") or {},
        "settings": data.get("settings") or {}, "n_boot": data.get("n_boot"),
        "seed": data.get("seed"), "versions": data["versions"],
    }  # fmt: skip


def render_cohort_report(loocv_json: Path, out_dir: Path) -> Path:
    """Render the cohort report of one ``loocv`` output.

    Args:
        loocv_json: ``loocv.json`` written by ``loocv``.
        out_dir: folder for ``<stem>_report.html`` (created if needed).

    Returns:
        The path of the HTML file.

    Raises:
        DataError: the JSON is missing, not a ``loocv`` output, or malformed.
    """
    loocv_json = Path(loocv_json)
    data = load_output(loocv_json, "loocv")
    html = render_report("cohort.html.j2", cohort_context, data, loocv_json)
    return write_text_atomic(Path(out_dir) / f"{loocv_json.stem}_report.html", html)
