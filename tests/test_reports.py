"""Clinician HTML reports: the numbers they show, escaping, self-containment and a real browser.

The sample outputs in ``tests/data/report_samples/`` were written by ``loocv`` and ``score`` on
a toy synthetic cohort; the tests render them (and edited copies) and read the numbers back
from the HTML, cell by cell, at the precision the report displays.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from emoclip_clinic.errors import DataError
from emoclip_clinic.report import render_cohort_report, render_patient_report

SAMPLES = Path(__file__).parent / "data" / "report_samples"
HOSTILE = "<script>alert(1)</script>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
MAX_BYTES = 2 * 1024 * 1024


# --- reading the HTML back -------------------------------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(
                    child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()
                ):
                    found.append(child)
                found.extend(child.find_all(tag, **attrs))
        return found

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.tags.append((tag, node.attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.tags.append((tag, node.attrs))
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(path: Path) -> _TreeBuilder:
    builder = _TreeBuilder()
    builder.feed(path.read_text(encoding="utf-8"))
    builder.close()
    return builder


def number(text: str) -> str:
    return text.replace("\u2013", "-").strip()


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def score_data() -> dict:
    return json.loads((SAMPLES / "P00_I0_score.json").read_text())


@pytest.fixture
def loocv_data() -> dict:
    return json.loads((SAMPLES / "loocv.json").read_text())


def write(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def with_unusable_clips(score: dict, clips: tuple[int, ...], flag: str | None = None) -> dict:
    """A copy of a score output in which some clips had no usable face (``flag``: why)."""
    edited = copy.deepcopy(score)
    for index in clips:
        row = edited["timeline"][index]
        row["usable"] = False
        if flag is not None:
            row["flag"] = flag
        for key in row:
            if key.startswith("predicted_") or key == "expressivity":
                row[key] = None
    edited["quality"]["usable_clips"] = len(edited["timeline"]) - len(clips)
    return edited


# --- patient report --------------------------------------------------------------------------


def test_patient_report_shows_the_scores_and_intervals_of_the_json(tmp_path, score_data):
    path = render_patient_report(SAMPLES / "P00_I0_score.json", tmp_path)
    assert path == tmp_path / "P00_I0_report.html"
    root = parse(path).root
    for score in score_data["scores"]:
        row = root.find(data_item=score["item"])
        assert row.find(data_field="predicted").text() == f"{score['predicted']:.1f}"
        low, high = score["interval_low"], score["interval_high"]
        assert number(row.find(data_field="interval").text()) == f"{low:.1f} - {high:.1f}"
        assert row.find_all("svg", **{"class": "range-bar"}), "each item has its range bar"
    item_rows = [r.attrs["data-item"] for r in root.find_all("tr") if "data-item" in r.attrs]
    assert item_rows == [s["item"] for s in score_data["scores"] if s["item"] != "total"]
    text = root.text()
    assert "Blunted affect" in text and "PANSS negative subscale" in text
    assert "For research use only" in text and "does not replace clinical assessment" in text
    assert "How to read this report" in text


def test_patient_report_shows_recording_quality_and_versions(tmp_path, score_data):
    root = parse(render_patient_report(SAMPLES / "P00_I0_score.json", tmp_path)).root
    quality = score_data["quality"]
    usable = quality["usable_clips"] / quality["clips"]
    assert root.find(data_field="usable_share").text() == f"{100 * usable:.0f}%"
    assert (
        root.find(data_field="face_time_share").text() == f"{100 * quality['face_time_share']:.0f}%"
    )
    facts = root.find("section", id="recording").text()
    recording = score_data["recording"]
    assert "P00_I0.mp4" in facts and recording["sha256"][:16] in facts
    assert f"{recording['width']} × {recording['height']} pixels" in facts
    assert f"{recording['fps']:.1f} frames per second" in facts
    versions = root.find("section", id="versions").text()
    assert score_data["bundle_meta"]["encoder"]["sha256"][:12] in versions
    assert score_data["bundle"] in versions
    assert all(v in versions for v in score_data["versions"].values())
    assert "No stretches were flagged" in root.text()


def test_timeline_caption_says_how_the_head_reads_a_clip(tmp_path, score_data):
    # A head with centred inputs judges each clip by how it differs from its recording; the
    # caption says so, and says nothing of it for a head on the clips themselves.
    caption = "read against the rest of its recording"
    for inputs, told in (("centred", True), ("clip", False)):
        score_data["bundle_meta"]["head_settings"] = {"inputs": inputs}
        folder = tmp_path / inputs
        folder.mkdir()
        root = parse(render_patient_report(write(folder, "P00_I0_score.json", score_data),
                                           folder)).root  # fmt: skip
        assert (caption in root.find("figcaption").text()) is told


def test_unusable_clips_are_merged_into_flagged_stretches(tmp_path, score_data):
    edited = with_unusable_clips(score_data, (2, 3, 5))
    root = parse(render_patient_report(write(tmp_path, "X_score.json", edited), tmp_path)).root
    rows = root.find("table", **{"class": "stretches"}).find_all("tr")[1:]
    cells = [[td.text() for td in row.find_all("td")] for row in rows]
    # Clips 2-3 (1.6-3.2 s) are one stretch, clip 5 (4.0-4.8 s) another.
    assert cells == [
        ["0:02", "0:03", "1.6 s", "2", "no face"],
        ["0:04", "0:05", "0.8 s", "1", "no face"],
    ]
    assert root.find(data_field="usable_share").text() == "50%"
    timeline = root.find("section", id="timeline").find("svg")
    assert "no usable face" in timeline.text()


def test_clips_left_out_as_occluded_are_told_apart_from_clips_without_a_face(tmp_path, score_data):
    edited = with_unusable_clips(with_unusable_clips(score_data, (2, 3), "occluded"), (5,))
    edited["quality"].update(usable_clips=len(edited["timeline"]) - 3, occluded_clips=2)
    root = parse(render_patient_report(write(tmp_path, "X_score.json", edited), tmp_path)).root
    rows = root.find("table", **{"class": "stretches"}).find_all("tr")[1:]
    assert [row.find_all("td")[-1].text() for row in rows] == ["face covered", "no face"]
    assert "2 left out with the face covered" in root.find("section", id="face-quality").text()


def test_long_recording_has_a_minutes_axis_and_stays_small(tmp_path, score_data):
    edited = copy.deepcopy(score_data)
    template = edited["timeline"][0]
    edited["timeline"] = [
        dict(template, clip=k, start_s=4.0 * k, end_s=4.0 * (k + 1), usable=k % 97 > 5)
        for k in range(900)
    ]  # one hour in 4-second clips
    path = render_patient_report(write(tmp_path, "long_score.json", edited), tmp_path)
    assert path.stat().st_size < MAX_BYTES
    timeline = parse(path).root.find("section", id="timeline").find("svg").text()
    assert "minutes" in timeline and "30:00" in timeline


# --- cohort report ---------------------------------------------------------------------------


def _cells(row: Node) -> dict[str, str]:
    """Displayed statistics of a table row, by their ``data-stat`` name."""
    return {node.attrs["data-stat"]: node.text() for node in row.find_all()
            if "data-stat" in node.attrs}  # fmt: skip


def test_cohort_report_agreement_tables_match_the_json(tmp_path, loocv_data):
    path = render_cohort_report(SAMPLES / "loocv.json", tmp_path)
    assert path == tmp_path / "loocv_report.html"
    root = parse(path).root
    correlation = root.find("table", **{"class": "agreement"})
    errors = root.find("table", **{"class": "errors"})
    for stats in loocv_data["agreement"]:
        shown = _cells(correlation.find("tr", data_item=stats["item"]))
        shown |= _cells(errors.find("tr", data_item=stats["item"]))
        for key in ("pcc", "ccc", "icc_a1", "icc_c1", "mae", "rmse", "bias"):
            assert shown[key] == f"{stats[key]:.2f}", key
            # The sample repeats patients, so the intervals shown are the patient bootstrap's.
            low, high = stats[f"{key}_boot_low"], stats[f"{key}_boot_high"]
            assert shown[f"{key}_ci"] == f"[{low:.2f}, {high:.2f}]", key
        assert shown["loa"] == f"{stats['loa_low']:.2f} to {stats['loa_high']:.2f}"
        assert shown["n"] == f"{stats['n_interviews']} ({stats['n_patients']})"
    cohort = loocv_data["cohort"]
    for key in ("interviews", "patients", "clips"):
        assert root.find(data_field=key).text() == str(cohort[key])
    assert "Ceiling r" not in root.text(), "no ceiling columns for a cohort without one"


def test_cohort_report_lists_every_interview_and_a_plot_per_item(tmp_path, loocv_data):
    root = parse(render_cohort_report(SAMPLES / "loocv.json", tmp_path)).root
    for prediction in loocv_data["predictions"]:
        cells = [td.text() for td in root.find("tr", data_interview=prediction["interview_id"])
                 .find_all("td")]  # fmt: skip
        rated, predicted = prediction["rated_total"], prediction["predicted_total"]
        assert cells == [prediction["interview_id"], prediction["patient_id"], f"{rated:.0f}",
                         f"{predicted:.1f}", f"{predicted - rated:.1f}"]  # fmt: skip
    n = len(loocv_data["predictions"])
    for index, item in enumerate(loocv_data["items"]):
        card = root.find("figure", data_item=item["id"])
        for name in ("scatter-points", "bland-altman-points"):
            points = card.find("g", id=f"{name}-{index}").find_all("use")
            assert len(points) == n, f"{item['id']}: one marker per interview"


def test_human_inter_rater_figures_are_shown_honestly(tmp_path):
    root = parse(render_cohort_report(SAMPLES / "loocv.json", tmp_path)).root
    table = root.find("table", **{"class": "agreement"})

    def human(item: str) -> str:
        return table.find("tr", data_item=item).find_all("td")[-1].text()

    assert human("N6") == "ICC 0.45 [1]"  # a verified value
    assert "0.45-0.76 across items (this item's value not verified)" in human("N1")
    assert human("N2") == "none on file"
    assert "figure not verified" in human("total")
    sources = root.find("ol", **{"class": "sources"}).text()
    assert "Nordic Journal of Psychiatry" in sources and "Kay SR, Opler LA" in sources
    assert "not visible on video" in root.find("figure", data_item="N4").text()


def test_ceiling_columns_appear_only_with_a_ceiling(tmp_path, loocv_data):
    for k, row in enumerate(loocv_data["agreement"]):
        row["oracle_pcc"] = 0.9 - 0.01 * k
        row["share_of_ceiling"] = row["pcc"] / row["oracle_pcc"]
    root = parse(render_cohort_report(write(tmp_path, "synth.json", loocv_data), tmp_path)).root
    assert "Ceiling r" in root.text()
    for row in loocv_data["agreement"]:
        shown = _cells(
            root.find("table", **{"class": "agreement"}).find("tr", data_item=row["item"])
        )
        assert shown["oracle_pcc"] == f"{row['oracle_pcc']:.2f}"
        assert shown["share_of_ceiling"] == f"{100 * row['share_of_ceiling']:.0f}%"


def test_failed_left_out_and_flagged_interviews_are_listed(tmp_path, loocv_data):
    loocv_data["failed_recordings"] = {"P09_I0": "cannot decode P09_I0.mp4"}
    loocv_data["cohort"]["left_out"] = {"P10_I0": "no clip with a usable face"}
    loocv_data["quality"][3].update(usable=2, face_time_share=0.4)
    root = parse(render_cohort_report(write(tmp_path, "loocv.json", loocv_data), tmp_path)).root
    flags = root.find("section", id="flags")

    def rows(table: str) -> list[list[str]]:
        body = flags.find("table", **{"class": table}).find_all("tr")[1:]
        return [[td.text() for td in row.find_all("td")] for row in body]

    assert rows("failed") == [["P09_I0", "cannot decode P09_I0.mp4"]]
    assert rows("left-out") == [["P10_I0", "no clip with a usable face"]]
    assert rows("flagged") == [["P02_I0", "2 of 6", "33%", "40%", "0"]]
    assert root.find(data_field="failed").text() == "1"


# --- safety and self-containment -------------------------------------------------------------


def _hostile_outputs(tmp_path: Path, score: dict, loocv: dict) -> list[Path]:
    score["recording"]["path"] = f"/data/{HOSTILE}.mp4"
    score["face_source"] = HOSTILE
    score["versions"]["torch"] = '"><img src=x onerror=alert(1)>'
    for key in ("predictions", "quality"):
        loocv[key][0]["interview_id"] = HOSTILE
    loocv["predictions"][0]["patient_id"] = HOSTILE
    loocv["failed_recordings"] = {HOSTILE: "<img src=x onerror=alert(1)>"}
    loocv["items"][0]["name"] = f"Blunted {HOSTILE}"
    loocv["labels"]["path"] = f"/x/{HOSTILE}.csv"
    return [
        render_patient_report(write(tmp_path, "hostile_score.json", score), tmp_path),
        render_cohort_report(write(tmp_path, "hostile.json", loocv), tmp_path),
    ]


def test_untrusted_text_is_shown_as_text(tmp_path, score_data, loocv_data):
    for path in _hostile_outputs(tmp_path, score_data, loocv_data):
        html = path.read_text(encoding="utf-8")
        parsed = parse(path)
        tags = {tag for tag, _ in parsed.tags}
        assert "script" not in tags and "img" not in tags, path.name
        assert "<script" not in html.lower()
        assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
        assert HOSTILE in parsed.root.text(), "the id is shown, as text"


def test_reports_are_self_contained_and_small(tmp_path):
    for path in (render_patient_report(SAMPLES / "P00_I0_score.json", tmp_path),
                 render_cohort_report(SAMPLES / "loocv.json", tmp_path)):  # fmt: skip
        html = path.read_text(encoding="utf-8")
        assert "http://" not in html and "https://" not in html
        assert "@import" not in html
        references = re.findall(r"url\(\s*['\"]?([^)'\"]*)", html)
        assert all(ref.startswith("#") for ref in references), "only clip paths inside the SVG"
        parsed = parse(path)
        for tag, attrs in parsed.tags:
            assert tag not in {"script", "link", "iframe", "object", "embed", "img"}
            for name in ("src", "href", "xlink:href"):
                assert attrs.get(name, "#").startswith(("#", "data:")), (tag, attrs)
        assert "Content-Security-Policy" in html and "default-src 'none'" in html
        assert path.stat().st_size < MAX_BYTES


def test_large_cohort_stays_under_the_size_limit(tmp_path, loocv_data):
    base = loocv_data["predictions"]
    loocv_data["predictions"] = [
        dict(base[k % len(base)], interview_id=f"I{k:03d}", patient_id=f"P{k // 2:03d}")
        for k in range(300)
    ]
    path = render_cohort_report(write(tmp_path, "big.json", loocv_data), tmp_path)
    assert path.stat().st_size < MAX_BYTES


# --- bad inputs and the command line ---------------------------------------------------------


def test_bad_inputs_raise_one_clear_data_error(tmp_path, score_data):
    with pytest.raises(DataError, match="file not found"):
        render_patient_report(tmp_path / "missing_score.json", tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot read it as JSON"):
        render_cohort_report(tmp_path / "broken.json", tmp_path)
    with pytest.raises(DataError, match=r"expected the output of 'loocv'.*'score' output"):
        render_cohort_report(SAMPLES / "P00_I0_score.json", tmp_path)
    del score_data["timeline"]
    with pytest.raises(DataError, match="missing timeline"):
        render_patient_report(write(tmp_path, "a_score.json", score_data), tmp_path)
    score_data["timeline"] = []
    del score_data["scores"][0]["predicted"]
    with pytest.raises(DataError, match=r"malformed 'score' output.*predicted"):
        render_patient_report(write(tmp_path, "b_score.json", score_data), tmp_path)
    score_data["scores"][0]["predicted"] = 2.0
    del score_data["bundle_meta"]["cohort"]["patients"]  # only the template needs it
    with pytest.raises(DataError, match=r"b_score.json: malformed 'score' output.*patients"):
        render_patient_report(write(tmp_path, "b_score.json", score_data), tmp_path)
    assert not list(tmp_path.glob("*.html")), "no report is written for a bad input"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emoclip_clinic", *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_report_command_renders_either_kind(tmp_path):
    for name, expected in (("P00_I0_score.json", "P00_I0_report.html"),
                           ("loocv.json", "loocv_report.html")):  # fmt: skip
        result = run_cli("report", str(SAMPLES / name), "--out", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(tmp_path / expected)
        assert (tmp_path / expected).is_file()
    (tmp_path / "other.json").write_text(json.dumps({"kind": "zeroshot"}))
    result = run_cli("report", str(tmp_path / "other.json"))
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        f"error: {tmp_path / 'other.json'}: a 'zeroshot' output has no report "
        "(expected score or loocv)"
    ]


def test_report_help_imports_neither_torch_nor_matplotlib():
    code = (
        "import sys; sys.argv = ['emoclip-clinic', 'report', '--help']\n"
        "from emoclip_clinic.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().endswith("[]"), result.stdout + result.stderr
    assert "score JSON" in result.stdout


# --- a real browser --------------------------------------------------------------------------

# Chromium logs every console message, CSP violations included, as "...:CONSOLE(:N)] ...".
CONSOLE_LINE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)?\]|Uncaught|Content Security Policy")


def _chromium() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


def screenshot(html: Path, png: Path, profile: Path) -> list[str]:
    """Open a page in headless Chromium, save a screenshot; return its console lines."""
    result = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         f"--screenshot={png}", "--window-size=1200,1600", html.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return [line for line in result.stderr.splitlines() if CONSOLE_LINE.search(line)]


@pytest.mark.browser
def test_reports_open_in_headless_chromium_without_console_errors(tmp_path):
    if _chromium() is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    # The detector must see a console error when there is one, or the test proves nothing.
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom')</script>")
    assert screenshot(control, tmp_path / "control.png", tmp_path / "profile0")
    for k, path in enumerate((render_patient_report(SAMPLES / "P00_I0_score.json", tmp_path),
                              render_cohort_report(SAMPLES / "loocv.json", tmp_path))):  # fmt: skip
        png = tmp_path / f"{path.stem}.png"
        console = screenshot(path, png, tmp_path / f"profile{k + 1}")
        assert console == [], f"{path.name}: {console}"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 20_000, "a blank page would be a tiny PNG"
