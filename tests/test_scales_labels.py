"""Rating-scale files, the scale registry and labels CSV validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emoclip_clinic.errors import ConfigError, DataError
from emoclip_clinic.resources import protocols_dir
from emoclip_clinic.scoring import scales
from emoclip_clinic.scoring.labels import read_labels
from emoclip_clinic.scoring.scales import add_scale_path, list_scales, load_scale

HEADER = "patient_id,interview_id,recording,N1,N2,N3,N4,N5,N6,N7"


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch):
    """User scale paths added by one test must not leak into another."""
    monkeypatch.setattr(scales, "_extra_paths", [])
    monkeypatch.delenv(scales.SCALE_DIRS_ENV, raising=False)


def test_shipped_scales_have_the_published_structure():
    assert {"panss_negative", "cains_expression"} <= set(list_scales())
    panss = load_scale("panss_negative")
    assert panss.item_ids == ("N1", "N2", "N3", "N4", "N5", "N6", "N7")
    assert panss.item("N1").name == "Blunted affect"
    assert panss.item_range == (1, 7)
    assert (panss.total.id, panss.total.min, panss.total.max) == ("total", 7, 49)
    assert "Schizophrenia Bulletin 13(2):261-276" in panss.meta["citation"]
    assert "MHS" in panss.meta["licence"] or "Multi-Health" in panss.meta["licence"]
    cains = load_scale("cains_expression")
    assert cains.item_ids == (
        "facial_expression",
        "vocal_expression",
        "expressive_gestures",
        "quantity_of_speech",
    )
    assert cains.item_range == (0, 4)
    assert (cains.total.min, cains.total.max) == (0, 16)
    assert "170(2):165-172" in cains.meta["citation"]


@pytest.mark.parametrize("name", ["panss_negative", "cains_expression"])
def test_every_reliability_figure_is_sourced_and_plausible(name):
    scale = load_scale(name)
    figures = [f for item in scale.items for f in item.inter_rater] + list(scale.total.inter_rater)
    assert figures, "each shipped scale cites at least one inter-rater study"
    for figure in figures:
        assert figure.source and figure.note
        if figure.value is not None:
            assert 0 < figure.value <= 1
        if figure.reported_range is not None:
            assert 0 < figure.reported_range[0] <= figure.reported_range[1] <= 1


def test_items_not_visible_on_video_say_so():
    panss = load_scale("panss_negative")
    for item_id in ("N4", "N5", "N7"):
        signal = panss.item(item_id).video_signal
        assert signal.observable == "no"
        assert "not observable from video" in signal.signal
    assert panss.item("N1").video_signal.observable == "yes"
    vocal = load_scale("cains_expression").item("vocal_expression").video_signal
    assert vocal.observable == "no" and "audio" in vocal.signal


def test_total_rescaling_round_trips():
    panss = load_scale("panss_negative")
    assert panss.total_to_item_range(7) == pytest.approx(1)
    assert panss.total_to_item_range(49) == pytest.approx(7)
    assert panss.total_to_item_range(28) == pytest.approx(4)
    totals = np.array([7.0, 20.0, 35.5, 49.0])
    back = panss.item_range_to_total(panss.total_to_item_range(totals))
    np.testing.assert_allclose(back, totals)
    cains = load_scale("cains_expression")
    assert cains.total_to_item_range(8) == pytest.approx(2)
    assert cains.item_range_to_total(1) == pytest.approx(4)


def _scale_dict(**total_overrides):
    data = json.loads((protocols_dir() / "scales" / "cains_expression.json").read_text("utf-8"))
    data["_meta"]["name"] = "Custom scale"
    data["total"].update(total_overrides)
    return data


def test_user_folder_adds_and_overrides_scales(tmp_path):
    (tmp_path / "my_scale.json").write_text(json.dumps(_scale_dict()), encoding="utf-8")
    (tmp_path / "panss_negative.json").write_text(json.dumps(_scale_dict()), encoding="utf-8")
    add_scale_path(tmp_path)
    assert "my_scale" in list_scales()
    assert load_scale("my_scale").title == "Custom scale"
    assert load_scale("panss_negative").title == "Custom scale"  # user over shipped
    assert load_scale(tmp_path / "my_scale.json").name == "my_scale"


def test_unknown_scale_lists_known_ones():
    with pytest.raises(ConfigError, match="panss_negative"):
        load_scale("sans")
    with pytest.raises(ConfigError, match="not found"):
        add_scale_path("/no/such/folder")
    with pytest.raises(ConfigError, match=r"^scale file not found: /no/such/sans\.json$"):
        load_scale("/no/such/sans.json")  # a path, not a scale name to look up


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["total"]["range"].update(max=20), "not the sum of the item ranges"),
        (lambda d: d["items"][1].update(id=d["items"][0]["id"]), "duplicate item ids"),
        (lambda d: d["items"][0].update(id="recording"), "reserved"),
        (lambda d: d["items"][0]["range"].update(min=5), "must be below"),
        (lambda d: d["items"][0].pop("definition"), "definition"),
        (lambda d: d["total"].update(computation="mean"), "only 'sum'"),
        (lambda d: d["total"]["inter_rater"][0].update(value=7), "not a number in"),
        (lambda d: d["total"]["inter_rater"][0].update(source=""), "needs a source"),
    ],
)
def test_invalid_scale_files_name_the_file(tmp_path, edit, message):
    data = _scale_dict()
    edit(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as error:
        load_scale(path)
    assert str(path) in str(error.value)


def test_unreadable_scale_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read scale file"):
        load_scale(path)


def _write_csv(folder: Path, *rows: str, header: str = HEADER, name: str = "labels.csv") -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_valid_labels_are_read_with_computed_total(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "p1_a.mp4").write_bytes(b"")
    (tmp_path / "videos" / "p1_b.mp4").write_bytes(b"")
    path = _write_csv(
        tmp_path,
        "P1,I1,videos/p1_a.mp4,1,2,3,4,5,6,7,site A",
        "",
        "P1,I2,videos/p1_b.mp4,2,2,2,2,2,2,2.5,site B",
        header=HEADER + ",site",
    )
    labels = read_labels(path, "panss_negative", known_patients=["P1"], check_recordings=True)
    assert len(labels) == 2
    assert labels.table["line"].tolist() == [2, 4]  # the blank line is skipped but counted
    assert labels.table["total"].tolist() == [28.0, 14.5]
    assert labels.recordings[0] == tmp_path / "videos" / "p1_a.mp4"
    assert labels.table["site"].tolist() == ["site A", "site B"]
    assert labels.scores().loc["I2", "N7"] == 2.5
    assert labels.patient_ids.tolist() == ["P1", "P1"]


def test_given_total_is_checked_against_the_items(tmp_path):
    path = _write_csv(
        tmp_path,
        "P1,I1,a.mp4,1,1,1,1,1,1,1,7",
        "P2,I2,b.mp4,2,2,2,2,2,2,2,15",
        header=HEADER + ",total",
    )
    with pytest.raises(DataError, match=r"line 3: total = 15 but the items sum to 14"):
        read_labels(path, "panss_negative")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["P1,I1,a.mp4,1,2,3,4,5,6,9"], r"line 2: N7 = 9 is outside the range 1-7"),
        (
            ["P1,I1,a.mp4,1,2,3,4,5,6,7", "P1,I2,b.mp4,1,two,3,4,5,6,7"],
            r"line 3: N2 = 'two' is not a number",
        ),
        (["P1,I1,a.mp4,1,2,3,4,5,,7"], r"line 2: N6 is empty"),
        (
            ["P1,I1,a.mp4,1,1,1,1,1,1,1", "P2,I1,b.mp4,1,1,1,1,1,1,1"],
            r"line 3: duplicate interview_id 'I1' \(first on line 2\)",
        ),
        (
            ["P1,I1,a.mp4,1,1,1,1,1,1,1", "P2,I2,sub/../a.mp4,1,1,1,1,1,1,1"],
            r"line 3: recording sub/../a.mp4 is already listed on line 2; each interview needs",
        ),
        (
            ["P1,I1,a.mp4,1,1,1,1,1,1,1", "P9,I2,b.mp4,1,1,1,1,1,1,1"],
            r"line 3: unknown patient_id 'P9'",
        ),
        (["P1,I1,a.mp4,1,1,1,1,1,1,1,extra"], r"line 2: 11 fields but the header has 10"),
        ([",I1,a.mp4,1,1,1,1,1,1,1"], r"line 2: patient_id is empty"),
    ],
)
def test_bad_rows_are_reported_with_file_and_line(tmp_path, rows, message):
    path = _write_csv(tmp_path, *rows)
    with pytest.raises(DataError, match=message) as error:
        read_labels(path, "panss_negative", known_patients=["P1", "P2"])
    assert str(path) in str(error.value)


def test_several_problems_are_reported_together(tmp_path):
    path = _write_csv(tmp_path, "P1,I1,a.mp4,0,1,1,1,1,1,1", "P1,I2,b.mp4,1,1,1,1,1,1,8")
    with pytest.raises(DataError, match=r"2 problems: line 2: N1 = 0 .*; line 3: N7 = 8"):
        read_labels(path, "panss_negative")


def test_missing_recording_is_reported_when_checked(tmp_path):
    path = _write_csv(tmp_path, "P1,I1,missing.mp4,1,1,1,1,1,1,1")
    assert len(read_labels(path, "panss_negative")) == 1  # not checked by default
    with pytest.raises(DataError, match=r"line 2: recording not found: .*missing.mp4"):
        read_labels(path, "panss_negative", check_recordings=True)


def test_missing_item_column_names_the_column(tmp_path):
    path = _write_csv(tmp_path, "P1,I1,a.mp4,1,1,1,1,1,1", header=HEADER.removesuffix(",N7"))
    with pytest.raises(DataError, match=r"line 1: missing column\(s\) N7") as error:
        read_labels(path, "panss_negative")
    assert "comma-separated" not in str(error.value)
    semicolons = tmp_path / "semicolons.csv"  # as spreadsheets save CSV in many locales
    semicolons.write_text(f"{HEADER}\nP1,I1,a.mp4,1,1,1,1,1,1,1\n".replace(",", ";"))
    with pytest.raises(DataError, match=r"the header is one field with ';' in it: labels files "
                                        r"are comma-separated"):  # fmt: skip
        read_labels(semicolons, "panss_negative")


def test_empty_and_header_only_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        read_labels(empty, "panss_negative")
    with pytest.raises(DataError, match="only a header"):
        read_labels(_write_csv(tmp_path), "panss_negative")
    with pytest.raises(DataError, match="not found"):
        read_labels(tmp_path / "absent.csv", "panss_negative")


def test_line_numbers_follow_quoted_multiline_fields(tmp_path):
    path = _write_csv(
        tmp_path,
        'P1,I1,a.mp4,1,1,1,1,1,1,1,"a note\nover two lines"',
        "P1,I2,a.mp4,1,1,1,1,1,1,99,",
        header=HEADER + ",note",
    )
    with pytest.raises(DataError, match=r"line 4: N7 = 99"):
        read_labels(path, "panss_negative")


def test_labels_for_the_cains_scale(tmp_path):
    header = "patient_id,interview_id,recording," + ",".join(
        load_scale("cains_expression").item_ids
    )
    path = _write_csv(tmp_path, "P1,I1,a.mp4,0,4,2,1", "P2,I2,b.mp4,5,0,0,0", header=header)
    with pytest.raises(DataError, match=r"line 3: facial_expression = 5 is outside the range 0-4"):
        read_labels(path, "cains_expression")


def test_a_patient_list_is_read_from_a_csv_column_or_one_id_per_line(tmp_path):
    from emoclip_clinic.scoring.labels import read_patient_list

    roster = tmp_path / "enrolled.csv"
    roster.write_text("site,patient_id,enrolled\nA,P1,2024-01\n\nB,P2,2024-02\n")
    assert read_patient_list(roster) == ["P1", "P2"]
    plain = tmp_path / "patients.txt"
    plain.write_text("# cohort 2024\nP1\n\n  P2  \n")
    assert read_patient_list(plain) == ["P1", "P2"]
    (tmp_path / "empty.txt").write_text("# nobody yet\n")
    with pytest.raises(DataError, match=r"empty\.txt: the patient list holds no patient id"):
        read_patient_list(tmp_path / "empty.txt")
    with pytest.raises(DataError, match=r"missing\.txt: patient list not found"):
        read_patient_list(tmp_path / "missing.txt")
    bom = tmp_path / "excel.csv"  # a spreadsheet's UTF-8 export starts with a byte-order mark
    bom.write_bytes("\ufeffpatient_id,site\r\nP1,A\r\n".encode())
    assert read_patient_list(bom) == ["P1"]
    for name, text in (("subjects.csv", "subject,site\nP1,A\n"),
                       ("semicolons.csv", "patient;site\nP1;A\n")):  # fmt: skip
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=rf"{name}: a table without a patient_id column"):
            read_patient_list(tmp_path / name)
