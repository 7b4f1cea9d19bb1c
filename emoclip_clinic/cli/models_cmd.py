"""``emoclip-clinic models``: list and show the registered model configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from emoclip_clinic.cli import app


@app.command("models")
def models(
    name: Annotated[
        str | None, typer.Argument(help="Show the full JSON config of this model.")
    ] = None,
    model_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--model-dir", exists=True, file_okay=False, help="Extra folder of model configs."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the EmoCLIP model configs (shipped ones, $EMOCLIP_CLINIC_MODEL_DIRS, --model-dir)."""
    from rich.table import Table

    from emoclip_clinic.cli.console import stdout
    from emoclip_clinic.models.config import add_model_dir, get_model_config, list_models

    for folder in model_dir or []:
        add_model_dir(folder)
    if name is not None:
        typer.echo(json.dumps(get_model_config(name).to_dict(), indent=2))
        return
    configs = [get_model_config(n) for n in list_models()]
    if as_json:
        typer.echo(json.dumps({c.name: c.to_dict() for c in configs}, indent=2))
        return
    table = Table("model", "backbone", "temporal", "pretrained tag", "summary")
    table.columns[0].no_wrap = True
    for cfg in configs:
        backbone = cfg.backbone.open_clip_model or _inline_summary(cfg.backbone.open_clip_config)
        t = cfg.temporal
        temporal = f"{t.depth} layers, {t.heads}x{t.dim_head} heads, mlp {t.mlp_dim}"
        tag = cfg.backbone.recommended_pretrained or "-"
        table.add_row(
            cfg.name, backbone, temporal, tag, str(cfg.meta.get("summary", cfg.description))
        )
    stdout.print(table)


def _inline_summary(cfg: dict | None) -> str:
    cfg = cfg or {}
    text = cfg.get("text_cfg", {})
    text_kind = "HF text" if "hf_model_name" in text else "CLIP text"
    return f"inline (embed {cfg.get('embed_dim')}, {text_kind})"
