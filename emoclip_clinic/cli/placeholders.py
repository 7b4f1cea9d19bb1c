"""Commands whose features have not landed yet: each exits 2 with one line saying so."""

from __future__ import annotations

import typer

from emoclip_clinic.cli import app, not_available

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def _placeholder(name: str, summary: str, issue: str) -> None:
    def command(ctx: typer.Context) -> None:
        not_available(name, issue)

    command.__doc__ = f"{summary}\n\nNot available yet ({issue})."
    app.command(name, context_settings=_PASS_THROUGH)(command)


# name -> (one-line summary, the issue that brings it); entries leave as features land.
PLACEHOLDERS: dict[str, tuple[str, str]] = {
    name: (summary, issue)
    for name, summary, issue in (
        ("demo", "Run the whole chain on the embedded synthetic world.", "demo issue"),
    )
}
for _name, (_summary, _issue) in PLACEHOLDERS.items():
    _placeholder(_name, _summary, _issue)
