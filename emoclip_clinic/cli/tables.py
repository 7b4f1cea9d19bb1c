"""Rich tables of results for the terminal."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

RESEARCH_NOTE = "For research use only; not a diagnosis."


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def agreement_table(result: dict[str, Any]) -> Table:
    """Per item: MAE, RMSE, PCC [CI], CCC, ICC(2,1), ICC(3,1), oracle ceiling share."""
    table = Table("item", "MAE", "RMSE", "PCC [95% CI]", "CCC", "ICC(2,1)", "ICC(3,1)",
                  "ceiling", title=f"Leave-one-patient-out agreement ({result['scale']['title']})",
                  caption=RESEARCH_NOTE)  # fmt: skip
    for row in result["agreement"]:
        pcc = f"{_num(row['pcc'])} [{_num(row['pcc_ci_low'])}, {_num(row['pcc_ci_high'])}]"
        table.add_row(row["item"], _num(row["mae"]), _num(row["rmse"]), pcc, _num(row["ccc"]),
                      _num(row["icc_a1"]), _num(row["icc_c1"]),
                      _num(row.get("oracle_pcc")))  # fmt: skip
    return table


def score_table(result: dict[str, Any]) -> Table:
    """Predicted score and 95% prediction interval per item."""
    table = Table("item", "predicted", "95% interval", "range", caption=RESEARCH_NOTE)
    for row in result["scores"]:
        table.add_row(row["item"], _num(row["predicted"], 1),
                      f"{_num(row['interval_low'], 1)} - {_num(row['interval_high'], 1)}",
                      f"{row['min']:g}-{row['max']:g}")  # fmt: skip
    return table


def _pct(value: Any) -> str:
    return "-" if value is None or value != value else f"{100 * value:.1f}"


def _pct_ci(value: Any, ci: Any) -> str:
    """``18.1 [12-29]``: a percentage and its 95% interval, narrow enough for 80 columns."""
    low, high = ci if ci is not None else (None, None)
    if low is None or low != low:
        return _pct(value)
    return f"{_pct(value)} [{100 * low:.0f}-{100 * high:.0f}]"


_VIEWS = {"frame_ensemble": "frame mean", "middle_frame": "middle frame"}


def _compact(*headers: str, **kwargs: Any) -> Table:
    """A table whose numeric columns never wrap (headers after the first three are numeric)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, **kwargs)
    for k, header in enumerate(headers):
        table.add_column(header, no_wrap=k >= 3)
    return table


def demo_zeroshot_table(rows: list[dict[str, Any]], chance: dict[str, float]) -> Table:
    """Zero-shot UAR/WAR with 95% CIs for every (model, view, text) row, and chance."""
    table = _compact("model", "view", "class text", "UAR %", "WAR %", "F1 %",
                     title="Zero-shot recognition on synthetic DFEW (unseen faces and style)",
                     caption=f"95% CIs in brackets; F1 macro. Chance: UAR "
                     f"{_pct(chance.get('uar_majority'))}%, WAR "
                     f"{_pct(chance.get('war_majority'))}% "
                     f"(always the majority class)")  # fmt: skip
    for row in rows:
        model = "image CLIP" if row["model"].startswith("CLIP") else row["model"]
        text = "templates" if row["text"].startswith("prompt") else row["text"]
        table.add_row(model, _VIEWS.get(row["view"], row["view"]), text,
                      _pct_ci(row["uar"], row.get("uar_ci")),
                      _pct_ci(row["war"], row.get("war_ci")), _pct(row["macro_f1"]))  # fmt: skip
    return table


def demo_loocv_tables(loocv: dict[str, list[dict[str, Any]]]) -> list[Table]:
    """Per scale, per item: LOOCV PCC and MAE beside the oracle ceiling."""
    tables = []
    for scale, rows in loocv.items():
        table = _compact("item", "PCC", "(95% CI)", "MAE", "oracle PCC", "share",
                         title=f"Leave-one-patient-out agreement, {scale}",
                         caption=f"share: of the oracle ceiling. {RESEARCH_NOTE}")  # fmt: skip
        for row in rows:
            ci = f"({_num(row['pcc_ci_low'])}, {_num(row['pcc_ci_high'])})"
            table.add_row(row["item"], _num(row["pcc"]), ci, _num(row["mae"]),
                          _num(row.get("oracle_pcc")),
                          _num(row.get("share_of_ceiling")))  # fmt: skip
        tables.append(table)
    return tables
