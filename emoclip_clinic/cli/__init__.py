"""The ``emoclip-clinic`` command-line interface (Typer).

Commands import the library lazily, inside their bodies, so that ``emoclip-clinic --help``
stays fast and never imports torch. Errors of the package's own types become one red line and
a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from emoclip_clinic.errors import EmoClipError

app = typer.Typer(
    name="emoclip-clinic",
    help="EmoCLIP video-text models for facial expression recognition and research-grade "
    "symptom scoring of clinical interviews. For research use, not for diagnosis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help: rendering help with rich costs ~0.4 s of imports on every --help.
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("emoclip-clinic")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from an odd checkout
        return "unknown"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"emoclip-clinic {_version()}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-v, -vv).")
    ] = 0,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Set up logging for every command."""
    from emoclip_clinic.cli.console import setup_logging

    setup_logging(verbose)


def main() -> None:
    """Entry point of the console script."""
    from emoclip_clinic.cli import commands  # noqa: F401  (registers the commands)

    try:
        app()
    except EmoClipError as err:
        from emoclip_clinic.cli.console import error_line

        error_line(str(err))
        sys.exit(err.exit_code)
    except OSError as err:  # the file system refused: an output path that is a file, no space
        from emoclip_clinic.cli.console import error_line

        where = f"{err.filename}: " if err.filename else ""
        error_line(f"{where}{err.strerror or err}")
        sys.exit(1)
    except KeyboardInterrupt:
        from emoclip_clinic.cli.console import error_line

        error_line("interrupted; outputs written so far are complete and a rerun resumes")
        sys.exit(130)
