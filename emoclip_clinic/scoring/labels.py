"""Read and validate a labels CSV: one row per rated interview.

Columns: ``patient_id``, ``interview_id``, ``recording`` (path of the video, relative to the CSV's
folder unless absolute), then one column per item id of the scale (e.g. ``N1`` ... ``N7``). The
total column (e.g. ``total``) is optional: where given it must equal the sum of the items, where
absent or empty it is computed. Other columns are kept as they are.

Every problem is reported as ``<file> line <n>: <problem>``, with line 1 the header and n the
line a row starts on, so a user can open the file there; blank lines are skipped but counted.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emoclip_clinic.errors import DataError
from emoclip_clinic.scoring.scales import Scale, load_scale

ID_COLUMNS = ("patient_id", "interview_id", "recording")
# Sums of ratings are compared with this tolerance so that "24.0" equals 24.
_TOTAL_TOLERANCE = 1e-6
# At most this many problems are listed in one error message.
_SHOWN = 5

__all__ = ["ID_COLUMNS", "Labels", "read_labels"]


@dataclass(frozen=True)
class Labels:
    """Validated clinician ratings of interviews."""

    path: Path  # the CSV file they were read from
    scale: Scale  # the rating scale of the item columns
    table: pd.DataFrame  # a row per interview: line, ids, recording (absolute), items, total

    def __len__(self) -> int:
        return len(self.table)

    @property
    def patient_ids(self) -> np.ndarray:
        """Patient of each interview, as strings (the bootstrap clusters)."""
        return self.table["patient_id"].to_numpy(dtype=str)

    @property
    def recordings(self) -> list[Path]:
        """Absolute path of each interview's recording."""
        return [Path(value) for value in self.table["recording"]]

    def scores(self, with_total: bool = True) -> pd.DataFrame:
        """Ratings only: one float column per item (and the total), indexed by interview id."""
        columns = list(self.scale.item_ids) + ([self.scale.total.id] if with_total else [])
        return self.table.set_index("interview_id")[columns]


class _Problems:
    """Collects problems with their line numbers and raises them as one DataError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.found: list[tuple[int, str]] = []

    def add(self, line: int, problem: str) -> None:
        self.found.append((line, problem))

    def raise_if_any(self) -> None:
        if not self.found:
            return
        self.found.sort(key=lambda found: found[0])
        if len(self.found) == 1:
            line, problem = self.found[0]
            raise DataError(f"{self.path} line {line}: {problem}")
        shown = "; ".join(f"line {line}: {problem}" for line, problem in self.found[:_SHOWN])
        more = f" (first {_SHOWN} shown)" if len(self.found) > _SHOWN else ""
        message = f"{self.path}: {len(self.found)} problems{more}: {shown}"
        raise DataError(message)


def _records(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, non-blank records and the line each record starts on (csv handles quoting)."""
    rows, lines = [], []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise DataError(f"{path}: the labels file is empty (expected a header line)")
        names = [cell.strip() for cell in header]
        start = reader.line_num + 1
        for record in reader:
            if any(cell.strip() for cell in record):
                if len(record) > len(names):
                    raise DataError(
                        f"{path} line {start}: {len(record)} fields but the header has "
                        f"{len(names)} (a comma inside a value needs quotes)"
                    )
                rows.append([cell.strip() for cell in record] + [""] * (len(names) - len(record)))
                lines.append(start)
            start = reader.line_num + 1
    return names, rows, lines


def _read_table(path: Path) -> pd.DataFrame:
    """Read every cell as stripped text, with the line number each row starts on."""
    if not path.is_file():
        raise DataError(f"{path}: labels file not found")
    try:
        names, rows, lines = _records(path)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read the labels file ({error})") from None
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path} line 1: duplicate column(s) {', '.join(duplicates)}")
    if "line" in names:
        raise DataError(f"{path} line 1: 'line' is a reserved column name")
    table = pd.DataFrame(rows, columns=names, dtype=str)
    table.insert(0, "line", np.asarray(lines, dtype=int))
    return table


def _check_columns(table: pd.DataFrame, scale: Scale, path: Path) -> None:
    required = [*ID_COLUMNS, *scale.item_ids]
    missing = [name for name in required if name not in table.columns]
    if missing:
        header = [name for name in table.columns if name != "line"]
        other = next((sep for sep in (";", "\t") if len(header) == 1 and sep in header[0]), None)
        hint = (f"; the header is one field with {other!r} in it: labels files are "
                f"comma-separated" if other else "")  # fmt: skip
        raise DataError(
            f"{path} line 1: missing column(s) {', '.join(missing)}; a labels file for scale "
            f"'{scale.name}' needs {', '.join(required)} (and optionally {scale.total.id})"
            f"{hint}"
        )
    if table.empty:
        raise DataError(f"{path}: no interviews (the file has only a header)")


def _parse_ratings(table: pd.DataFrame, scale: Scale, problems: _Problems) -> pd.DataFrame:
    """Convert item cells to floats, recording missing, non-numeric and out-of-range values."""
    ratings = pd.DataFrame(index=table.index)
    for item in scale.items:
        text = table[item.id]
        values = pd.to_numeric(text, errors="coerce").astype(float)
        for row in np.flatnonzero(text.to_numpy() == ""):
            problems.add(int(table["line"].iloc[row]), f"{item.id} is empty")
        for row in np.flatnonzero(values.isna().to_numpy() & (text.to_numpy() != "")):
            problems.add(
                int(table["line"].iloc[row]), f"{item.id} = {text.iloc[row]!r} is not a number"
            )
        outside = values.notna() & ((values < item.min) | (values > item.max))
        for row in np.flatnonzero(outside.to_numpy()):
            problems.add(
                int(table["line"].iloc[row]),
                f"{item.id} = {text.iloc[row]} is outside the range {item.min:g}-{item.max:g} "
                f"of {item.name}",
            )
        ratings[item.id] = values
    return ratings


def _check_total(table: pd.DataFrame, ratings: pd.DataFrame, scale: Scale, problems: _Problems):
    """Fill the total from the items; a given total must match their sum."""
    computed = ratings[list(scale.item_ids)].sum(axis=1, min_count=len(scale.items))
    total_id = scale.total.id
    if total_id in table.columns:
        text = table[total_id]
        given = pd.to_numeric(text, errors="coerce").astype(float)
        for row in np.flatnonzero(given.isna().to_numpy() & (text.to_numpy() != "")):
            problems.add(
                int(table["line"].iloc[row]), f"{total_id} = {text.iloc[row]!r} is not a number"
            )
        differs = given.notna() & computed.notna() & ((given - computed).abs() > _TOTAL_TOLERANCE)
        for row in np.flatnonzero(differs.to_numpy()):
            problems.add(
                int(table["line"].iloc[row]),
                f"{total_id} = {text.iloc[row]} but the items sum to {computed.iloc[row]:g}",
            )
    return computed


def _check_ids(
    table: pd.DataFrame, problems: _Problems, known_patients: Iterable[str] | None
) -> None:
    for column in ID_COLUMNS:
        for row in np.flatnonzero(table[column].to_numpy() == ""):
            problems.add(int(table["line"].iloc[row]), f"{column} is empty")
    first_line: dict[str, int] = {}
    for interview, line in zip(table["interview_id"], table["line"], strict=True):
        if interview and interview in first_line:
            problems.add(
                int(line),
                f"duplicate interview_id '{interview}' (first on line {first_line[interview]})",
            )
        first_line.setdefault(interview, int(line))
    if known_patients is not None:
        known = {str(patient) for patient in known_patients}
        for patient, line in zip(table["patient_id"], table["line"], strict=True):
            if patient and patient not in known:
                problems.add(int(line), f"unknown patient_id '{patient}'")


def _resolve_recordings(
    table: pd.DataFrame, folder: Path, problems: _Problems, check: bool
) -> list[str]:
    resolved, first_line = [], {}
    for value, line in zip(table["recording"], table["line"], strict=True):
        path = Path(value).expanduser()
        path = path if path.is_absolute() else folder / path
        if check and value and not path.is_file():
            problems.add(int(line), f"recording not found: {path}")
        real = os.path.realpath(path)
        if value and real in first_line:  # the same video in two folds would leak
            where = f"already listed on line {first_line[real]}"
            problems.add(int(line), f"recording {value} is {where}; each interview needs its own")
        first_line.setdefault(real, int(line))
        resolved.append(str(path))
    return resolved


def read_patient_list(path: str | Path) -> list[str]:
    """The patient ids of a study's enrolment list (``--patients`` of ``loocv`` and
    ``train-head``; the ``known_patients`` of :func:`read_labels`).

    A patient id mistyped in the labels (``P07`` for ``P7``) would make one patient two, and
    leave-one-patient-out would then test on interviews of a patient it trained on; checking
    the labels against this list stops that.

    Args:
        path: A CSV whose header has a ``patient_id`` column (other columns are ignored), or a
            text file with one id per line. Blank lines and lines starting with ``#`` are
            skipped in both.

    Returns:
        The ids in file order.

    Raises:
        DataError: missing or unreadable file, a table without a ``patient_id`` column (a line
            with several fields, or with a semicolon or tab), or no id at all.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: patient list not found")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = [[cell.strip() for cell in row] for row in csv.reader(handle)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read the patient list ({error})") from None
    rows = [row for row in rows if any(row) and not row[0].startswith("#")]
    if rows and "patient_id" in rows[0]:
        column = rows[0].index("patient_id")
        ids = [row[column] for row in rows[1:] if len(row) > column and row[column]]
    else:
        if any(sum(map(bool, row)) > 1 or ";" in row[0] or "\t" in row[0] for row in rows):
            raise DataError(f"{path}: a table without a patient_id column (first line: "
                            f"{','.join(rows[0])!r}); name the column patient_id, or list one "
                            "id per line")  # fmt: skip
        ids = [row[0] for row in rows]
    if not ids:
        raise DataError(f"{path}: the patient list holds no patient id")
    return ids


def read_labels(
    path: str | Path,
    scale: Scale | str | Path,
    *,
    known_patients: Iterable[str] | None = None,
    check_recordings: bool = False,
) -> Labels:
    """Read a labels CSV and check it against a rating scale.

    Args:
        path: The CSV file (UTF-8, comma-separated, header on line 1).
        scale: A :class:`Scale`, a registered scale name or a scale file path.
        known_patients: If given, every patient_id must be one of these.
        check_recordings: Also check that every recording file exists.

    Returns:
        The validated labels; item and total columns are floats, ``recording`` is absolute.

    Raises:
        DataError: Naming the file, the line and the problem (missing column or value, value not
            a number or out of range, total not the sum, duplicate interview id, unknown
            patient, missing recording, a recording listed twice, empty file).
        ConfigError: If ``scale`` is an unknown name or an invalid file.
    """
    csv_path = Path(path).expanduser()
    scale = scale if isinstance(scale, Scale) else load_scale(scale)
    table = _read_table(csv_path)
    _check_columns(table, scale, csv_path)
    problems = _Problems(csv_path)
    _check_ids(table, problems, known_patients)
    ratings = _parse_ratings(table, scale, problems)
    total = _check_total(table, ratings, scale, problems)
    recordings = _resolve_recordings(table, csv_path.parent, problems, check_recordings)
    problems.raise_if_any()
    extra = [c for c in table.columns if c not in {"line", *ID_COLUMNS, *scale.item_ids}]
    extra = [c for c in extra if c != scale.total.id]
    result = table[["line", "patient_id", "interview_id"]].copy()
    result["recording"] = recordings
    result[list(scale.item_ids)] = ratings
    result[scale.total.id] = total
    result[extra] = table[extra]
    return Labels(path=csv_path, scale=scale, table=result)
