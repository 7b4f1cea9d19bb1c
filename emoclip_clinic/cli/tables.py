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
