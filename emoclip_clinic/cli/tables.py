"""Rich tables of results for the terminal."""

from __future__ import annotations

from typing import Any

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


def demo_zeroshot_table(rows: list[dict[str, Any]], chance: dict[str, float]) -> Table:
    """Zero-shot UAR/WAR with 95% CIs for every (model, view, text) row, and chance."""
    table = Table("model", "view", "class text", "UAR %", "WAR %", "macro F1 %",
                  title="Zero-shot recognition on synthetic DFEW (unseen faces and style)",
                  caption=f"chance: UAR {_pct(chance.get('uar'))}%, WAR "
                  f"{_pct(chance.get('war_majority'))}% (always the majority class)")  # fmt: skip
    for row in rows:
        uar = f"{_pct(row['uar'])} [{_pct(row['uar_ci'][0])}, {_pct(row['uar_ci'][1])}]"
        war = f"{_pct(row['war'])} [{_pct(row['war_ci'][0])}, {_pct(row['war_ci'][1])}]"
        table.add_row(row["model"], row["view"], row["text"], uar, war, _pct(row["macro_f1"]))
    return table


def demo_loocv_table(loocv: dict[str, list[dict[str, Any]]]) -> Table:
    """Per scale and item: LOOCV PCC and MAE beside the oracle ceiling."""
    table = Table("scale", "item", "PCC [95% CI]", "MAE", "oracle PCC", "share of ceiling",
                  title="Leave-one-patient-out agreement with the synthetic ratings",
                  caption=RESEARCH_NOTE)  # fmt: skip
    for scale, rows in loocv.items():
        for row in rows:
            pcc = f"{_num(row['pcc'])} [{_num(row['pcc_ci_low'])}, {_num(row['pcc_ci_high'])}]"
            table.add_row(scale, row["item"], pcc, _num(row["mae"]), _num(row.get("oracle_pcc")),
                          _num(row.get("share_of_ceiling")))  # fmt: skip
    return table
