"""Render the patient and cohort reports: JSON outputs -> one self-contained HTML file each.

The jinja2 environment escapes every value (``autoescape`` for ``.j2`` and ``.html``) and fails
on a missing variable (``StrictUndefined``) rather than printing an empty cell. The only markup
inserted unescaped is SVG that :mod:`emoclip_clinic.report.plots` draws from numbers; text from
the JSON (ids, file names, notes, sources) always goes through the escaping.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emoclip_clinic.errors import DataError

if TYPE_CHECKING:
    from jinja2 import Environment

ContextBuilder = Callable[[dict[str, Any], Path], dict[str, Any]]

# Top-level keys each kind of output must have for its report.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "score": ("recording", "scores", "bundle", "bundle_meta", "quality", "timeline", "versions"),
    "loocv": ("scale", "items", "agreement", "predictions", "cohort", "failed_recordings",
              "quality", "encoder", "versions"),
}  # fmt: skip
DASH = "-"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The jinja2 environment of the report templates (built once per process)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    from emoclip_clinic.resources import templates_dir

    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=format_number, ci=format_interval, pct=format_percent,
                       rating=format_rating, clock=format_clock, duration=format_duration,
                       short=short_hash)  # fmt: skip
    return env


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def format_number(value: Any, digits: int = 2) -> str:
    """A number at fixed precision; a dash for a missing or undefined value."""
    return f"{value:.{digits}f}" if _finite(value) else DASH


def format_rating(value: Any) -> str:
    """A clinician rating: whole points without decimals, half points (averaged raters) with."""
    if not _finite(value):
        return DASH
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def format_interval(low: Any, high: Any, digits: int = 2) -> str:
    """``[low, high]``, or an empty string when either bound is undefined."""
    if not (_finite(low) and _finite(high)):
        return ""
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def format_percent(value: Any, digits: int = 0) -> str:
    """A share (0-1) as a percentage."""
    return f"{100 * value:.{digits}f}%" if _finite(value) else DASH


def format_clock(seconds: Any) -> str:
    """Seconds as ``m:ss`` (whole seconds), as on the timeline."""
    if not _finite(seconds):
        return DASH
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def format_duration(seconds: Any) -> str:
    """A length of time in words: ``4.8 s``, ``12 min 05 s`` or ``1 h 02 min``."""
    if not _finite(seconds):
        return DASH
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def short_hash(value: Any, length: int = 12) -> str:
    """The first characters of a hex digest, enough to tell files apart."""
    return f"{value[:length]}..." if isinstance(value, str) and len(value) > length else str(value)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: cannot read it as JSON ({error})") from None


def output_kind(path: Path) -> str:
    """The ``kind`` of an output JSON (``score``, ``loocv``, ...).

    Raises:
        DataError: the file is missing, not JSON or has no ``kind``.
    """
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise DataError(f"{path}: not an emoclip-clinic output (no 'kind')")
    return data["kind"]


def load_output(path: Path, kind: str) -> dict[str, Any]:
    """Read a ``score`` or ``loocv`` JSON and check that it is the expected kind.

    Raises:
        DataError: the file is missing, not JSON, another kind of output, or lacks a key.
    """
    data = _read_json(path)
    found = data.get("kind") if isinstance(data, dict) else None
    if found != kind:
        what = f"a '{found}' output" if isinstance(found, str) else "not an emoclip-clinic output"
        raise DataError(f"{path}: expected the output of '{kind}', but the file is {what}")
    missing = [key for key in REQUIRED_KEYS[kind] if key not in data]
    if missing:
        raise DataError(f"{path}: not a complete '{kind}' output; missing {', '.join(missing)}")
    return data


def render_report(
    template: str, builder: ContextBuilder, data: dict[str, Any], source: Path
) -> str:
    """Build a report's context from an output and render its template.

    Raises:
        DataError: a field the report needs is missing or malformed, naming the file.
    """
    from jinja2 import UndefinedError

    page = {"generated": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()}
    try:
        context = builder(data, source)
        return environment().get_template(template).render(**page, **context)
    except DataError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, UndefinedError) as error:
        raise DataError(
            f"{source}: malformed '{data.get('kind')}' output (missing or bad field {error!r})"
        ) from None
