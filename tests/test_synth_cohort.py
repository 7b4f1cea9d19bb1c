"""Synthetic interview cohorts: the latent model, labels, face tracks, recordings, the ceiling."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import decord
import numpy as np
import pytest

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.faces.tracks import read_face_tracks
from emoclip_clinic.scoring.labels import read_labels
from emoclip_clinic.synth.cohort import LatentModel, oracle_ceiling, simulate
from emoclip_clinic.synth.interviews import InterviewConfig, make_interviews
from emoclip_clinic.synth.scenes import SceneSettings

PANSS = [f"N{i}" for i in range(1, 8)]
CAINS = ["facial_expression", "vocal_expression", "expressive_gestures", "quantity_of_speech"]
UNOBSERVABLE = ["N2", "N4", "N5", "N7", "vocal_expression"]
# Every interview shows the interviewer and has stretches without the patient's face.
SMALL = InterviewConfig(
    n_patients=4, interviews_per_patient=(1, 2), minutes=0.2, width=128, height=96, fps=10.0,
    scene=SceneSettings(interviewer_fraction=1.0, absence_fraction=1.0),
)  # fmt: skip


@pytest.fixture(scope="module")
def population():
    return simulate(LatentModel(), np.random.default_rng(1), np.arange(20_000))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cohort")
    make_interviews(root, SMALL, seed=11)
    return root


def _r(x, y) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def _residual(y: np.ndarray, factor: np.ndarray) -> np.ndarray:
    slope = np.polyfit(factor, y, 1)
    return y - np.polyval(slope, factor)


def test_observable_items_follow_their_behaviour(population):
    rated, behaviour = population.rated, population.behaviour
    assert _r(rated["N1"], behaviour["expression_rate_per_min"]) < -0.6
    assert _r(rated["facial_expression"], behaviour["expression_intensity"]) < -0.7
    assert _r(rated["expressive_gestures"], behaviour["gesture_amplitude"]) < -0.7
    assert _r(rated["N3"], behaviour["gaze_aversion"]) > 0.7
    assert _r(rated["N6"], behaviour["talk_fraction"]) < -0.7
    assert _r(rated["quantity_of_speech"], behaviour["pause_s"]) > 0.7


def test_the_shared_factor_correlates_items_and_is_the_only_path_for_unobservable_ones(
    population,
):
    rated, behaviour, factor = population.rated, population.behaviour, population.factor
    assert _r(rated["N4"], rated["N5"]) > 0.15 and _r(rated["N2"], rated["vocal_expression"]) > 0.3
    every = np.column_stack([behaviour[b] for b in behaviour])
    for item in UNOBSERVABLE:
        assert abs(_r(rated[item], behaviour["expression_rate_per_min"])) > 0.1
        residual = _residual(population.true[item], factor)
        assert np.abs([_r(residual, column) for column in every.T]).max() < 0.03, item
    residual = _residual(population.true["N1"], factor)
    assert _r(residual, behaviour["expression_rate_per_min"]) < -0.4


def test_rated_scores_stay_within_the_scales(population):
    for item in PANSS:
        assert population.rated[item].min() >= 1 and population.rated[item].max() <= 7
    for item in CAINS:
        assert population.rated[item].min() >= 0 and population.rated[item].max() <= 4
    panss_total = sum(population.rated[i] for i in PANSS)
    assert panss_total.min() >= 7 and panss_total.max() <= 49 and 15 < panss_total.mean() < 30


def test_ceiling_is_lower_for_items_the_video_cannot_see():
    ceiling = oracle_ceiling(n=20_000)
    for scale, values in ceiling.oracle.items():
        assert all(0 < v <= 1 for v in values.values())
        seen = [v for i, v in values.items() if ceiling.observable[scale].get(i) is True]
        unseen = [v for i, v in values.items() if ceiling.observable[scale].get(i) is False]
        assert max(unseen) < min(seen) - 0.15
        for item, value in values.items():
            assert value <= ceiling.rater_bound[scale][item] + 0.02


def test_labels_pass_read_labels_and_match_truth(cohort):
    truth = list(csv.DictReader((cohort / "truth.csv").open(encoding="utf-8")))
    files = (("labels_panss.csv", "panss_negative"), ("labels_cains.csv", "cains_expression"))
    for name, scale in files:
        labels = read_labels(cohort / name, scale, check_recordings=True)
        assert list(labels.table["interview_id"]) == [row["interview_id"] for row in truth]
        assert set(labels.patient_ids) <= {f"P{i:03d}" for i in range(1, 5)}
    ceiling = json.loads((cohort / "ceiling.json").read_text(encoding="utf-8"))
    assert set(ceiling["pcc"]) == set(PANSS + CAINS)
    assert {"total"} <= set(ceiling["by_scale"]["panss_negative"])


def _track_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_tracks_match_the_recordings_and_mark_absent_faces(cohort):
    recordings = sorted((cohort / "recordings").glob("*.mp4"))
    assert recordings
    for recording in recordings:
        reader = decord.VideoReader(str(recording))
        assert len(reader) == SMALL.n_frames and reader[0].shape == (96, 128, 3)
        rows = _track_rows(cohort / "tracks" / f"{recording.stem}.csv")
        patient = [r for r in rows if r["face_id"] == "0"]
        assert [int(r["frame"]) for r in patient] == list(range(1, len(reader) + 1))
        absent = [r for r in patient if r["success"] == "0"]
        assert absent and all(r["face_x"] == "" and r["confidence"] == "0.00" for r in absent)
        tracks = read_face_tracks(cohort / "tracks" / f"{recording.stem}.csv")
        assert tracks.patient_id() == 0 and tracks.roles.get(1) == "interviewer"
        assert len(tracks.boxes[0]) == len(patient) - len(absent)
        for box in tracks.boxes[0].values():
            assert box.x >= 0 and box.x + box.w <= 128 and box.y >= 0 and box.y + box.h <= 96
            assert 15 < box.h < 60


def test_the_patient_box_holds_the_face(cohort):
    recording = sorted((cohort / "recordings").glob("*.mp4"))[0]
    frames = decord.VideoReader(str(recording))
    rows = [r for r in _track_rows(cohort / "tracks" / f"{recording.stem}.csv")
            if r["face_id"] == "0" and r["success"] == "1"]  # fmt: skip
    row = rows[len(rows) // 2]
    image = frames[int(row["frame"]) - 1].asnumpy().astype(float)
    x, y, w, h = (round(float(row[k])) for k in ("face_x", "face_y", "face_w", "face_h"))
    inside = image[y : y + h, x : x + w].reshape(-1, 3)
    above = image[max(0, y - h) : y, :].reshape(-1, 3)  # wall or hair, not skin
    skin = inside.mean(axis=0)
    assert skin[0] > skin[2]  # skin is redder than blue
    assert np.abs(inside.mean(axis=0) - above.mean(axis=0)).sum() > 10


def test_same_seed_same_cohort(cohort, tmp_path):
    make_interviews(tmp_path, SMALL, seed=11, workers=2)
    for name in ("labels_panss.csv", "labels_cains.csv", "truth.csv", "ceiling.json",
                 "ceiling.csv", "synth_meta.json"):  # fmt: skip
        assert (cohort / name).read_bytes() == (tmp_path / name).read_bytes(), name
    for track in sorted((cohort / "tracks").glob("*.csv")):
        assert track.read_bytes() == (tmp_path / "tracks" / track.name).read_bytes()
    first = sorted((cohort / "recordings").glob("*.mp4"))[0]
    ours, theirs = (
        decord.VideoReader(str(p)) for p in (first, tmp_path / "recordings" / first.name)
    )
    indices = list(range(0, len(ours), 5))
    assert np.array_equal(ours.get_batch(indices).asnumpy(), theirs.get_batch(indices).asnumpy())


def test_a_one_minute_interview_at_25_fps_decodes(tmp_path):
    make_interviews(tmp_path, n_patients=1, interviews_per_patient=(1, 1), minutes=1.0,
                    width=96, height=64, seed=2)  # fmt: skip
    reader = decord.VideoReader(str(tmp_path / "recordings" / "P001_I1.mp4"))
    assert len(reader) == 1500 and abs(reader.get_avg_fps() - 25) < 1e-6
    assert reader[1499].shape == (64, 96, 3)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_patients": 0}, "n_patients must be >= 1, got 0"),
        ({"minutes": -1.0}, "minutes must be within (0, 600], got -1.0"),
        ({"style": "cartoon"}, "unknown rendering style 'cartoon'"),
        ({"interviews_per_patient": (2, 1)}, "interviews_per_patient must be 1 <= low <= high"),
        ({"width": 72}, "not 72 wide"),
    ],
)
def test_bad_arguments_give_one_clear_error(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        make_interviews(tmp_path / "x", **settings)
    assert str(error.value).count("must") <= 1  # one problem, not a list
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["interviews", "--patients", "0"], "Invalid value for '--patients'"),
        (
            ["interviews", "--min-interviews", "4"],
            "--min-interviews 4 is above --max-interviews 3 (--max-interviews's default)",
        ),
        (["mafw", "--identities", "4"], "Invalid value for '--identities'"),
        (
            ["dfew", "--min-seconds", "3.5"],
            "--min-seconds 3.5 is above --max-seconds 3.0 (--max-seconds's default)",
        ),
    ],
)
def test_cli_names_the_option_a_bad_value_came_from(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "emoclip_clinic", "synth", *args, "--out", str(tmp_path / "z")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "z").exists()
