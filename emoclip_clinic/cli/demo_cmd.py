"""``emoclip-clinic demo``: the whole chain on the embedded synthetic world."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emoclip_clinic.cli import app


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("emoclip_demo"),
    quick: Annotated[bool, typer.Option(help="Smaller world, fewer epochs.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of everything.")] = 0,
) -> None:
    """Make a synthetic world, pretrain, evaluate zero-shot, score interviews, write reports.

    A rerun with the same --out reuses the stages that finished.
    """
    import time

    from emoclip_clinic.cli.console import RichProgress, stdout
    from emoclip_clinic.cli.tables import RESEARCH_NOTE, demo_loocv_tables, demo_zeroshot_table
    from emoclip_clinic.demo import run_demo

    start = time.perf_counter()
    with RichProgress() as progress:
        result = run_demo(out, quick=quick, seed=seed, progress=progress)
    stdout.print(demo_zeroshot_table(result.zeroshot, result.chance))
    for table in demo_loocv_tables(result.loocv):
        stdout.print(table)
    for report in result.reports:
        stdout.print(f"report: {report}")
    stdout.print(f"all outputs in {out} ({time.perf_counter() - start:.0f} s). {RESEARCH_NOTE}")
