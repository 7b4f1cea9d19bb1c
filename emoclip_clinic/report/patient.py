"""The patient report: one recording's ``score`` output as a page a clinician can read."""

from __future__ import annotations

import math
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.fileio import write_text_atomic
from emoclip_clinic.report import plots
from emoclip_clinic.report.render import load_output, render_report
from emoclip_clinic.scoring.scales import load_scale

OBSERVABLE_LABELS = {"yes": "yes", "partly": "partly", "no": "no"}


def _number(value: Any) -> float:
    """A JSON number as float; NaN for null (unusable clips have no prediction)."""
    return float(value) if isinstance(value, int | float) else math.nan


def _scale_info(name: str) -> dict[str, Any]:
    """Item names, definitions and anchors from the scale registry, if the scale is known."""
    try:
        scale = load_scale(name)
    except ConfigError:
        return {"title": name, "version": None, "anchors": {}, "items": {}}
    items = {
        item.id: {"name": item.name, "definition": item.definition,
                  "observable": item.video_signal.observable}
        for item in scale.items
    }  # fmt: skip
    items[scale.total.id] = {"name": scale.total.name, "definition": scale.total.description,
                             "observable": None}  # fmt: skip
    anchors = scale.meta.get("rating_anchors", {})
    return {"title": scale.title, "version": scale.meta.get("version"), "items": items,
            "anchors": dict(anchors) if isinstance(anchors, dict) else {}}  # fmt: skip


def _score_rows(scores: list[dict[str, Any]], info: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for score in scores:
        item = info["items"].get(score["item"], {})
        value_range = (float(score["min"]), float(score["max"]))
        interval = (_number(score["interval_low"]), _number(score["interval_high"]))
        rows.append({
            "id": score["item"], "name": item.get("name", score["item"]),
            "definition": item.get("definition", ""),
            "observable": OBSERVABLE_LABELS.get(item.get("observable") or "", ""),
            "predicted": score["predicted"], "low": interval[0], "high": interval[1],
            "min": value_range[0], "max": value_range[1],
            "bar": plots.range_bar(_number(score["predicted"]), interval, value_range),
        })  # fmt: skip
    return rows


def _why(timeline: list[dict[str, Any]], start: float, end: float) -> str:
    """Why the unusable clips of a stretch were left out (outputs before the flag: no face)."""
    flags = {row.get("flag", "no_face") for row in timeline
             if not row["usable"] and start <= _number(row["start_s"]) < end}  # fmt: skip
    reasons = [text for flag, text in (("no_face", "no face"), ("occluded", "face covered"))
               if flag in flags]  # fmt: skip
    return ", ".join(reasons)


def _quality(data: dict[str, Any]) -> dict[str, Any]:
    timeline = data["timeline"]
    starts = [_number(row["start_s"]) for row in timeline]
    ends = [_number(row["end_s"]) for row in timeline]
    spans = plots.unusable_spans(starts, ends, [bool(row["usable"]) for row in timeline])
    quality = data["quality"]
    clips = int(quality["clips"])
    return {
        "clips": clips, "usable_clips": int(quality["usable_clips"]),
        "occluded_clips": int(quality.get("occluded_clips", 0)),
        "usable_share": quality["usable_clips"] / clips if clips else math.nan,
        "face_time_share": quality["face_time_share"],
        "unusable_seconds": sum(end - start for start, end, _ in spans),
        "stretches": [{"start": start, "end": end, "clips": count, "seconds": end - start,
                       "why": _why(timeline, start, end)}
                      for start, end, count in spans],
    }  # fmt: skip


def _timeline_svg(data: dict[str, Any], total: dict[str, Any]) -> str:
    timeline = data["timeline"]
    if not timeline:
        return ""
    column = f"predicted_{total['id']}"
    return plots.timeline_plot(
        [_number(row["start_s"]) for row in timeline],
        [_number(row["end_s"]) for row in timeline],
        [bool(row["usable"]) for row in timeline],
        [_number(row.get(column)) for row in timeline],
        [_number(row.get("expressivity")) for row in timeline],
        (total["min"], total["max"]),
        _number(total["predicted"]),
    )


def _file_name(path: str) -> str:
    """The last part of a path written on any system."""
    return PureWindowsPath(path).name if "\\" in path else PurePath(path).name


def patient_context(data: dict[str, Any], source: Path) -> dict[str, Any]:
    """Everything the patient template shows, from a ``score`` output.

    Args:
        data: the parsed ``<stem>_score.json``.
        source: its path (named in the report).
    """
    meta = data["bundle_meta"]
    info = _scale_info(meta["scale"]["name"])
    total_id = meta["scale"].get("total", "total")
    rows = _score_rows(data["scores"], info)
    totals = [row for row in rows if row["id"] == total_id]
    if len(totals) != 1:
        raise ValueError(f"scores hold no single row for the total '{total_id}'")
    recording = data["recording"]
    path = str(recording["path"])
    return {
        "title": "Patient report", "source_name": source.name,
        "interview_id": PurePath(_file_name(path)).stem,
        "scale": {"name": meta["scale"]["name"], "title": info["title"],
                  "version": info["version"], "anchors": info["anchors"]},
        "items": [row for row in rows if row["id"] != total_id], "total": totals[0],
        "timeline_svg": _timeline_svg(data, totals[0]), "quality": _quality(data),
        "timeline_smoothed": plots.smoothing_window(
            [row["start_s"] for row in data["timeline"]],
            [row["end_s"] for row in data["timeline"]]) >= 3,
        "recording": {"file_name": _file_name(path), "path": path,
                      "sha256": recording.get("sha256"), "duration_s": recording.get("duration_s"),
                      "fps": recording.get("fps"), "width": recording.get("width"),
                      "height": recording.get("height"), "face_source": data.get("face_source")},
        "encoder": meta["encoder"], "bundle": data["bundle"], "cohort": meta["cohort"],
        "versions": data["versions"],
        "clips_centred": meta.get("head_settings", {}).get("inputs", "clip") != "clip",
    }  # fmt: skip


def render_patient_report(score_json: Path, out_dir: Path) -> Path:
    """Render the patient report of one ``score`` output.

    Args:
        score_json: ``<stem>_score.json`` written by ``score``.
        out_dir: folder for ``<stem>_report.html`` (created if needed).

    Returns:
        The path of the HTML file.

    Raises:
        DataError: the JSON is missing, not a ``score`` output, or malformed.
    """
    score_json = Path(score_json)
    data = load_output(score_json, "score")
    html = render_report("patient.html.j2", patient_context, data, score_json)
    stem = score_json.stem.removesuffix("_score")
    return write_text_atomic(Path(out_dir) / f"{stem}_report.html", html)
