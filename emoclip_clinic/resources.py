"""Locate the data files that ship with emoclip-clinic.

``protocols/`` and ``reports/templates/`` sit at the top of a source checkout and are copied
into the wheel under ``emoclip_clinic/_data/`` (see ``pyproject.toml``), so the same code finds
them in an editable install, a checkout and an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

from emoclip_clinic.errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(installed: str, checkout: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_data" / installed, _PACKAGE_DIR.parent / checkout):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"cannot find the '{checkout}' folder of emoclip-clinic (looked in "
        f"{_PACKAGE_DIR / '_data' / installed} and {_PACKAGE_DIR.parent / checkout}); "
        "reinstall the package"
    )


def protocols_dir() -> Path:
    """Return the folder of shipped protocol files (model configs, scales, descriptions)."""
    return _data_dir("protocols", "protocols")


def templates_dir() -> Path:
    """Return the folder of shipped jinja2 report templates."""
    return _data_dir("templates", "reports/templates")
