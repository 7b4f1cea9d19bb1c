"""``report``: render the clinician HTML report of a ``score`` or ``loocv`` output."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emoclip_clinic.cli import app


@app.command("report")
def report_command(
    output: Annotated[
        Path,
        typer.Argument(help="A score JSON (<name>_score.json) or loocv.json.", dir_okay=False),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for the HTML file [default: beside the JSON]."),
    ] = None,
) -> None:
    """Render a self-contained HTML report: patient (score output) or cohort (loocv output)."""
    from emoclip_clinic.cli.console import stdout
    from emoclip_clinic.errors import DataError
    from emoclip_clinic.report import render_cohort_report, render_patient_report
    from emoclip_clinic.report.render import output_kind

    renderers = {"score": render_patient_report, "loocv": render_cohort_report}
    kind = output_kind(output)
    if kind not in renderers:
        raise DataError(f"{output}: a '{kind}' output has no report (expected score or loocv)")
    path = renderers[kind](output, out if out is not None else output.parent)
    stdout.print(str(path), highlight=False, soft_wrap=True)
