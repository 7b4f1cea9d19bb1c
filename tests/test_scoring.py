"""Interview scoring: face tracks, the symptom head, leave-one-patient-out, bundles, score."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from emoclip_clinic.errors import CheckpointError, ConfigError, DataError
from emoclip_clinic.faces.boxes import FaceBox
from emoclip_clinic.faces.tracking import DetectorTracker, TrackerSettings, TrackFile
from emoclip_clinic.faces.tracks import read_face_tracks
from emoclip_clinic.fileio import json_safe
from emoclip_clinic.models import create_emoclip
from emoclip_clinic.models.checkpoints import save_checkpoint
from emoclip_clinic.scoring import embed as embed_module
from emoclip_clinic.scoring.embed import EmbedSettings
from emoclip_clinic.scoring.head import HeadSettings, fit_symptom_heads
from emoclip_clinic.scoring.jobs import CohortJob, run_loocv, run_train_head
from emoclip_clinic.scoring.score import score_recording
from tests.toy_cohort import make_toy_cohort

SETTINGS = EmbedSettings(downsample=2, clip_len=4)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = make_toy_cohort(tmp_path_factory.mktemp("cohort"))
    torch.manual_seed(0)
    checkpoint = save_checkpoint(root / "ckpt", create_emoclip("emoclip-tiny"))
    return root, checkpoint


def _job(root, checkpoint, **kw):
    return CohortJob(root / "labels.csv", "panss_negative", checkpoint, root / "cache", SETTINGS,
                     head=HeadSettings(steps=60), **kw)  # fmt: skip


def test_openface_landmarks_and_box_columns_give_boxes(tmp_path):
    landmarks = tmp_path / "openface.csv"
    header = "frame, face_id, timestamp, confidence, success, " + ", ".join(
        [f"x_{i}" for i in range(3)] + [f"y_{i}" for i in range(3)]
    )
    landmarks.write_text(header + "\n1, 0, 0.0, 0.9, 1, 10, 20, 30, 5, 15, 45\n"
                         "2, 0, 0.04, 0.1, 0, 0, 0, 0, 0, 0, 0\n")  # fmt: skip
    tracks = read_face_tracks(landmarks)
    assert tracks.boxes[0] == {0: FaceBox(10, 5, 20, 40, 0.9)}  # frame 2 failed: no box
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,face_id\n1,0\n")
    with pytest.raises(DataError, match=r"bad\.csv: no face boxes"):
        read_face_tracks(bad)


def test_overlapping_clips_detect_each_frame_once_and_agree_on_shared_frames():
    """--stride 2 with 4-frame clips: frames 2 and 3 are in both clips. They were detected
    again (twice the detector calls) and could get other boxes in the second clip."""
    faces = [[FaceBox(100 + 5 * i, 100, 80, 80, 0.9)] for i in range(6)]
    tracker = DetectorTracker(_FakeDetector(faces), TrackerSettings(detect_every=1))
    frames = np.zeros((4, 8, 8, 3), np.uint8)
    first = tracker.boxes([0, 1, 2, 3], frames)
    second = tracker.boxes([2, 3, 4, 5], frames)  # the script has 6 answers: one call a frame
    assert second[:2] == first[2:] and second[2:] == [faces[4][0], faces[5][0]]
    looped = DetectorTracker(_FakeDetector(faces[:2]), TrackerSettings(detect_every=1))
    assert looped.boxes([0, 1, 0, 1], frames) == [faces[0][0], faces[1][0]] * 2  # a short clip


def test_a_patient_never_tracked_is_not_replaced_by_the_interviewer(tmp_path):
    """The patient's rows all failed (success 0): the recording has no patient face. Before,
    roles were read from the successful rows only, and the interviewer became the patient."""
    tracks = tmp_path / "tracks.csv"
    rows = ["frame,face_id,confidence,success,face_x,face_y,face_w,face_h,role"]
    for frame in (1, 2):
        rows += [f"{frame},0,0.1,0,0,0,0,0,patient", f"{frame},1,0.9,1,300,40,90,90,interviewer"]
    rows += ["3,,0,0,,,,,", "3,1,0.9,1,304,40,90,90,"]  # a row of nothing; a blank role
    tracks.write_text("\n".join(rows) + "\n")
    read = read_face_tracks(tracks)
    assert read.patient_id() == 0 and 0 not in read.boxes
    assert read.roles == {0: "patient", 1: "interviewer"}
    source = TrackFile(read, name="tracks.csv")
    assert source.boxes([0, 1], np.zeros((2, 8, 8, 3), np.uint8)) == [None, None]


class _FakeDetector:
    name = "fake"

    def __init__(self, script):
        self.script = iter(script)

    def detect(self, frame):
        return next(self.script)


def test_tracker_keeps_the_patient_when_a_second_face_appears():
    patient = FaceBox(100, 100, 80, 80, 0.9)
    moved = FaceBox(105, 102, 80, 80, 0.9)
    interviewer = FaceBox(400, 90, 120, 120, 0.95)  # larger, but not the patient
    script = [[patient], [moved, interviewer], [interviewer, moved], [interviewer]]
    tracker = DetectorTracker(_FakeDetector(script), TrackerSettings(detect_every=1))
    boxes = tracker.boxes([0, 1, 2, 3], np.zeros((4, 8, 8, 3), np.uint8))
    assert boxes[:3] == [patient, moved, moved]
    assert boxes[3] is None  # the patient is gone; the interviewer is not taken for them


def test_a_face_lost_at_the_end_of_one_clip_stays_lost_at_the_start_of_the_next():
    """Clips of 3 frames, detection on every 2nd frame: the next clip starts on a frame that
    holds the last detection's answer. It showed the patient's older box, though the latest
    detection had missed them."""
    patient = FaceBox(100, 100, 80, 80, 0.9)
    tracker = DetectorTracker(_FakeDetector([[patient], [], []]), TrackerSettings(detect_every=2))
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    assert tracker.boxes([0, 1, 2], frames) == [patient, patient, None]
    assert tracker.boxes([3, 4, 5], frames) == [None, None, None]


@pytest.mark.parametrize("form", ["face objects", "dicts", "arrays"])
def test_retinaface_detections_of_every_uniface_version_become_boxes(form, monkeypatch):
    """uniface (downloaded weights, not installed here) is replaced by a stand-in that answers
    in one of the forms its versions have used; 2.x answers with Face objects, which the
    adapter read as rows before (a TypeError)."""
    import sys
    import types

    from emoclip_clinic.faces.detectors import make_detector

    rows = np.array([[10, 20, 50, 80, 0.9], [100, 20, 130, 60, 0.6]], np.float32)
    answers = {
        "face objects": [types.SimpleNamespace(bbox=r[:4], confidence=float(r[4]),
                                               landmarks=np.zeros((5, 2))) for r in rows],
        "dicts": [{"bbox": r[:4].tolist(), "confidence": float(r[4])} for r in rows],
        "arrays": (rows, np.zeros((2, 5, 2))),
    }  # fmt: skip
    seen = []

    class RetinaFace:
        def detect(self, image):
            seen.append(image)
            return answers[form]

    monkeypatch.setitem(sys.modules, "uniface", types.SimpleNamespace(RetinaFace=RetinaFace))
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[..., 0] = 255  # red in RGB
    boxes = make_detector("retinaface").detect(frame)
    assert seen[0][0, 0].tolist() == [0, 0, 255]  # handed over as BGR
    assert boxes == [FaceBox(10, 20, 40, 60, pytest.approx(0.9)),
                     FaceBox(100, 20, 30, 40, pytest.approx(0.6))]  # fmt: skip


def test_background_decoding_stops_and_closes_the_decoder_when_embedding_stops():
    """An error while embedding (say, GPU memory) left the decoding thread waiting forever
    to hand over its next clip, holding the decoder open."""
    import threading

    closed = threading.Event()

    def decode():
        try:
            yield from range(1000)
        finally:
            closed.set()  # what closing the reader does

    clips = embed_module._background(decode(), depth=2)
    assert next(clips) == 0
    clips.close()  # the consumer stops after one clip
    assert closed.is_set()
    assert list(embed_module._background(iter(range(5)), depth=2)) == [0, 1, 2, 3, 4]


def test_a_fold_never_sees_its_held_out_interviews():
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(int(rng.integers(5, 30)), 6)).astype(np.float32) for _ in range(6)]
    targets = rng.normal(size=(6, 3))
    masks = np.ones((2, 6))
    masks[0, 5] = 0  # fold 0 holds interview 5 out
    before = fit_symptom_heads(clips, targets, masks, HeadSettings(steps=20))
    clips[5] = clips[5] * 10 + 3
    targets[5] = 100.0
    after = fit_symptom_heads(clips, targets, masks, HeadSettings(steps=20))
    for a, b in zip(before[0].model.parameters(), after[0].model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    np.testing.assert_allclose(before[0].feature_mean, after[0].feature_mean)
    np.testing.assert_allclose(before[0].feature_std, after[0].feature_std)
    assert not np.allclose(before[1].feature_std, after[1].feature_std)


def test_all_interviews_of_a_patient_leave_together_and_only_they(monkeypatch):
    """Patients with 1-3 interviews, listed out of order: each fold trains on every interview
    but one patient's, and that patient's interviews are predicted by that fold's head."""
    from types import SimpleNamespace

    from emoclip_clinic.scoring import loocv
    from emoclip_clinic.scoring.scales import load_scale

    scale = load_scale("panss_negative")
    patients = np.array(["B", "A", "B", "C", "A", "B"])
    ids = [f"I{i}" for i in range(len(patients))]
    ratings = pd.DataFrame(4.0, index=ids, columns=[*scale.item_ids, scale.total.id])
    clips = [np.full((3, 4), i, np.float32) for i in range(len(patients))]
    trained_on = []

    def fake_fit_heads(data, scale, settings, masks, device):  # one head per fold
        trained_on.extend(np.flatnonzero(mask).tolist() for mask in masks)
        return [SimpleNamespace(fold=k, predict_interview=lambda clips, ranges, k=k: np.full(
            ratings.shape[1], float(k))) for k in range(len(masks))]  # fmt: skip

    monkeypatch.setattr(loocv, "fit_heads", fake_fit_heads)
    data = loocv.CohortData(ids, patients, clips, ratings)
    predicted = loocv.leave_one_patient_out(data, scale)
    assert len(trained_on) == 3  # one fold per patient
    for fold, train in enumerate(trained_on):
        held_out = sorted(set(range(len(ids))) - set(train))
        assert len(set(patients[held_out])) == 1  # one patient leaves...
        assert set(patients[train]).isdisjoint(patients[held_out])  # ...with all interviews
        assert (predicted.iloc[held_out, 0] == fold).all()  # predicted by that fold's head


def test_the_head_recovers_ratings_that_the_clip_embeddings_encode():
    # 40 patients, two latent severities driving seven 1-7 items; each clip embedding carries
    # the latents linearly under heavy clip noise. Leave-one-patient-out of the paper's head
    # (clip inputs) must come close to an independent reference: scikit-learn's ridge
    # regression on interview means. The default head (centred inputs) sees only what changes
    # within a recording, so a level that holds for a whole interview is lost to it.
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    from emoclip_clinic.scoring.loocv import CohortData, leave_one_patient_out
    from emoclip_clinic.scoring.scales import load_scale

    scale = load_scale("panss_negative")
    rng = np.random.default_rng(1)
    n, items = 40, list(scale.item_ids)
    latent = rng.normal(size=(n, 2))
    severity = latent @ rng.normal(size=(2, len(items))) / np.sqrt(2)
    ratings = pd.DataFrame(np.clip(np.round(3.5 + 1.2 * severity), 1, 7), columns=items,
                           index=[f"I{i}" for i in range(n)])  # fmt: skip
    ratings[scale.total.id] = ratings.sum(axis=1)
    mixing = rng.normal(size=(2, 16))
    clips = [(z @ mixing + 2.0 * rng.normal(size=(60, 16))).astype(np.float32) for z in latent]
    data = CohortData(list(ratings.index), np.array([f"P{i}" for i in range(n)]), clips, ratings)
    predicted = leave_one_patient_out(data, scale, HeadSettings(inputs="clip"))
    centred = leave_one_patient_out(data, scale)
    means = np.stack([c.mean(axis=0) for c in clips])
    ridge = cross_val_predict(RidgeCV(alphas=np.logspace(-2, 3, 12)), means, ratings.to_numpy(),
                              cv=LeaveOneOut())  # fmt: skip
    head_pcc = [stats.pearsonr(predicted[c], ratings[c])[0] for c in ratings.columns]
    ridge_pcc = [stats.pearsonr(ridge[:, k], ratings[c])[0] for k, c in enumerate(ratings.columns)]
    assert np.mean(head_pcc) > 0.75
    assert np.mean(head_pcc) > np.mean(ridge_pcc) - 0.08, (head_pcc, ridge_pcc)
    assert np.abs(predicted.mean() - ratings.mean()).max() < 0.5 * ratings.std().min()
    # Without information the held-out predictions stay at the training folds' means (which,
    # left one out, correlate negatively with the held-out ratings: a PCC says nothing here).
    assert (centred.std() / ratings.std()).max() < 0.25, centred.std() / ratings.std()


def _behaviour_in_some_clips(seed: int, either_side: bool):
    """40 interviews whose 1-7 ratings follow the share of clips showing a behaviour.

    The behaviour adds a fixed direction to a clip (with a random sign if ``either_side``);
    each person also has a look of their own, constant within an interview and unrelated to
    the ratings. Returns the scale, the cohort data and the ratings.
    """
    from emoclip_clinic.scoring.loocv import CohortData
    from emoclip_clinic.scoring.scales import load_scale

    scale = load_scale("panss_negative")
    rng = np.random.default_rng(seed)
    n, d = 40, 16
    rate = rng.uniform(0.1, 0.9, size=n)  # share of an interview's clips showing the behaviour
    rated = {item: np.clip(np.round(1 + 6 * rate + 0.5 * rng.normal(size=n)), 1, 7)
             for item in scale.item_ids}  # fmt: skip
    ratings = pd.DataFrame(rated, index=[f"I{i}" for i in range(n)])
    ratings[scale.total.id] = ratings.sum(axis=1)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    look = 0.5 * rng.normal(size=(n, d))

    def clips_of(i):
        shows = rng.random((120, 1)) < rate[i]
        side = rng.choice([-1.0, 1.0], size=(120, 1)) if either_side else 1.0
        return 3.0 * shows * side * direction + look[i] + 0.5 * rng.normal(size=(120, d))

    clips = [clips_of(i).astype(np.float32) for i in range(n)]
    data = CohortData(list(ratings.index), np.array([f"P{i}" for i in range(n)]), clips, ratings)
    return scale, data, ratings


def _ridge_pcc(features: np.ndarray, ratings: pd.DataFrame) -> float:
    """Mean PCC over columns of scikit-learn's leave-one-out ridge regression."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    ridge = cross_val_predict(RidgeCV(alphas=np.logspace(-2, 3, 12)), features,
                              ratings.to_numpy(), cv=LeaveOneOut())  # fmt: skip
    return float(np.mean([stats.pearsonr(ridge[:, k], ratings[c])[0]
                          for k, c in enumerate(ratings.columns)]))  # fmt: skip


def test_the_head_follows_behaviour_that_comes_and_goes_between_clips():
    # The usual case in an interview: a behaviour (an expression, a nod) shows in some clips
    # and not others, and the interview's rating follows how often. Each person also has a
    # look of their own, constant within an interview and unrelated to the ratings. Training
    # the mean of an interview's clip predictions on its ratings (the default loss; the paper's
    # clip inputs here) must come close to scikit-learn's ridge regression on interview means;
    # labelling every clip with its interview's ratings shrinks the behaviour direction and
    # predicts new patients near the cohort mean (slope of predictions on ratings near zero).
    from emoclip_clinic.scoring.loocv import leave_one_patient_out

    scale, data, ratings = _behaviour_in_some_clips(2, either_side=False)
    ridge_pcc = _ridge_pcc(np.stack([c.mean(axis=0) for c in data.clips]), ratings)

    def fit(loss):
        predicted = leave_one_patient_out(data, scale, HeadSettings(loss=loss, inputs="clip"))
        pcc = np.mean([stats.pearsonr(predicted[c], ratings[c])[0] for c in ratings.columns])
        slope = np.mean([np.polyfit(ratings[c], predicted[c], 1)[0] for c in scale.item_ids])
        return pcc, slope

    (pcc, slope), (clip_pcc, clip_slope) = fit("interview"), fit("clip")
    assert ridge_pcc > 0.6  # the interview means do carry the ratings
    assert pcc > ridge_pcc - 0.08, (pcc, ridge_pcc)
    assert slope > 0.3
    assert clip_pcc < pcc - 0.2 and clip_slope < 0.15, (clip_pcc, clip_slope)


def test_centred_inputs_see_behaviour_that_leaves_the_interview_mean_unchanged():
    # A behaviour that moves the embedding one way or the other (the head turned left or
    # right, a smile or a frown) in a share of clips leaves the interview's mean where it was:
    # the paper's head (clip inputs, prediction = mean of clip predictions) has nothing to go
    # on, and each person's look, constant within an interview, only misleads it. With the
    # recording's mean subtracted (the default) the head must come close to an independent
    # reference: scikit-learn's ridge regression on each interview's mean absolute deviation.
    from emoclip_clinic.scoring.loocv import leave_one_patient_out

    scale, data, ratings = _behaviour_in_some_clips(3, either_side=True)
    spread = np.stack([np.abs(c - c.mean(axis=0)).mean(axis=0) for c in data.clips])
    ridge_pcc = _ridge_pcc(spread, ratings)

    def pcc(predicted):
        return np.mean([stats.pearsonr(predicted[:, k], ratings[c])[0]
                        for k, c in enumerate(ratings.columns)])  # fmt: skip

    centred = leave_one_patient_out(data, scale).to_numpy()
    paper = leave_one_patient_out(data, scale, HeadSettings(inputs="clip")).to_numpy()
    assert ridge_pcc > 0.6  # the spread of an interview's clips carries the ratings
    assert pcc(centred) > ridge_pcc - 0.1, (pcc(centred), ridge_pcc)
    assert pcc(paper) < pcc(centred) - 0.2, (pcc(paper), pcc(centred))


def test_bf16_head_training_predicts_what_fp32_training_predicts():
    # The opt-in bf16 products must leave the held-out predictions where fp32 puts them, far
    # closer than another training seed does, also for embeddings far from zero (each fold's
    # standardisation is folded into the first layer, where bf16 would subtract two large
    # numbers if the inputs were not first centred on the cohort's mean).
    from dataclasses import replace

    from emoclip_clinic.scoring.loocv import leave_one_patient_out

    scale, data, ratings = _behaviour_in_some_clips(2, either_side=False)
    data = replace(data, clips=[c + 20.0 for c in data.clips])

    def fit(**kw):
        return leave_one_patient_out(data, scale, HeadSettings(inputs="clip", **kw))

    fp32, bf16, reseeded = fit(), fit(precision="bf16"), fit(seed=1)

    def gap(other):  # mean absolute difference, in units of each column's rating SD
        return float(((other - fp32).abs() / ratings.std()).mean().mean())

    assert gap(bf16) < 0.01, gap(bf16)  # 0.034 without the centring
    assert gap(bf16) < 0.1 * gap(reseeded), (gap(bf16), gap(reseeded))


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_heads_trained_on_a_gpu_predict_what_heads_trained_on_the_cpu_predict(precision):
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal((int(rng.integers(10, 30)), 64)).astype(np.float32)
             for _ in range(12)]  # fmt: skip
    targets = rng.uniform(1, 7, (12, 3))
    settings = HeadSettings(steps=40, precision=precision)
    masks = 1 - np.eye(12)  # twelve folds, each holding one interview out
    on_cpu = fit_symptom_heads(clips, targets, masks, settings)
    on_gpu = fit_symptom_heads(clips, targets, masks, settings, "cuda")
    # Rating units (SD about 1.7). The draws are the same; AdamW turns the devices' different
    # rounding of near-zero gradients into steps of up to lr, so agreement is not bitwise.
    tolerance = 0.02 if precision == "fp32" else 0.1
    for held_out, (a, b) in enumerate(zip(on_cpu, on_gpu, strict=True)):
        assert next(b.model.parameters()).device.type == "cpu"  # heads come back to the CPU
        np.testing.assert_allclose(b.predict_clips(clips[held_out]),
                                   a.predict_clips(clips[held_out]), atol=tolerance)  # fmt: skip


def test_head_settings_refuse_an_unknown_loss():
    from emoclip_clinic.scoring.head import HeadSettings

    with pytest.raises(ConfigError, match="head loss must be one of interview, clip"):
        HeadSettings(loss="video")
    with pytest.raises(ConfigError, match="head inputs must be one of centred, clip"):
        HeadSettings(inputs="frames")
    with pytest.raises(ConfigError, match="head precision must be one of fp32, bf16"):
        HeadSettings(precision="fp16")


def test_the_command_line_offers_exactly_the_head_choices_the_library_accepts():
    # the CLI keeps its own enums so that --help does not import torch; they must not drift
    from emoclip_clinic.cli.scoring_cmd import HeadInputs, HeadLoss, HeadPrecision
    from emoclip_clinic.scoring.head import HEAD_INPUTS, HEAD_LOSSES, HEAD_PRECISIONS

    assert [c.value for c in HeadInputs] == list(HEAD_INPUTS)
    assert [c.value for c in HeadLoss] == list(HEAD_LOSSES)
    assert [c.value for c in HeadPrecision] == list(HEAD_PRECISIONS)


def test_loocv_outputs_agree_with_an_independent_computation(cohort, tmp_path):
    root, checkpoint = cohort
    result = run_loocv(_job(root, checkpoint), tmp_path / "out", n_boot=100)
    predictions = pd.read_csv(tmp_path / "out" / "loocv_predictions.csv", index_col=0)
    agreement = pd.read_csv(tmp_path / "out" / "loocv_agreement.csv", index_col=0)
    for item in ("N1", "total"):
        rated, predicted = predictions[f"rated_{item}"], predictions[f"predicted_{item}"]
        assert agreement.loc[item, "pcc"] == pytest.approx(stats.pearsonr(rated, predicted)[0])
        assert agreement.loc[item, "mae"] == pytest.approx(np.mean(np.abs(rated - predicted)))
    assert predictions.filter(like="predicted_N").min().min() >= 1
    assert predictions["predicted_total"].max() <= 49
    saved = json.loads((tmp_path / "out" / "loocv.json").read_text())
    assert saved["cohort"]["patients"] == 8 and saved["cohort"]["interviews"] == 12
    assert {i["id"] for i in saved["items"]} >= {"N1", "N7", "total"}
    assert result["labels"]["sha256"]


def test_cache_is_reused_and_a_corrupt_recording_is_reported(cohort, tmp_path, monkeypatch, caplog):
    import shutil

    root, checkpoint = cohort
    copy = tmp_path / "cohort"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("cache", "ckpt"))
    ceiling = {"by_scale": {"panss_negative": {"N1": 0.5, "N2": 0.0, "N3": -0.2}}}
    (copy / "ceiling.json").write_text(json.dumps(ceiling))
    job = _job(copy, checkpoint)
    first = run_loocv(job, tmp_path / "first", n_boot=0)
    share = {row["item"]: row["share_of_ceiling"] for row in first["agreement"]}
    pcc = {row["item"]: row["pcc"] for row in first["agreement"]}
    assert share["N1"] == pytest.approx(pcc["N1"] / 0.5)
    assert np.isnan(share["N2"]) and np.isnan(share["N3"])  # no share of a ceiling <= 0

    def forbidden(*args, **kwargs):
        raise AssertionError("recording embedded again despite the cache")

    monkeypatch.setattr("emoclip_clinic.scoring.pipeline.embed_recording", forbidden)
    with caplog.at_level("WARNING"):
        run_loocv(job, tmp_path / "first", n_boot=0)  # into the same folder: said, replaced
    assert "holds earlier LOOCV results (scale panss_negative, labels" in caplog.text
    monkeypatch.setattr("emoclip_clinic.scoring.pipeline.embed_recording",
                        embed_module.embed_recording)  # fmt: skip
    (copy / "recordings" / "P03_I0.mp4").write_bytes(b"not a video")
    result = run_loocv(job, tmp_path / "third", n_boot=0)
    assert "P03_I0" in result["failed_recordings"]
    assert "P03_I0" in result["cohort"]["left_out"]
    assert result["cohort"]["interviews"] == 11


def test_a_corrected_track_file_is_embedded_again_not_served_from_the_cache(cohort, tmp_path):
    import shutil

    from emoclip_clinic.scoring.pipeline import FaceOptions, embed_cohort, load_encoder

    root, checkpoint = cohort
    shutil.copytree(root / "tracks", tmp_path / "tracks")
    recording = root / "recordings" / "P00_I0.mp4"
    encoder, faces = load_encoder(checkpoint), FaceOptions("tracks", tmp_path / "tracks")
    before, _ = embed_cohort({"P00_I0": recording}, encoder, SETTINGS, faces, tmp_path / "cache")
    track = tmp_path / "tracks" / "P00_I0.csv"
    rows = track.read_text().splitlines()  # the face is now tracked in the first half only
    track.write_text("\n".join(rows[: 1 + (len(rows) - 1) // 2]) + "\n")
    after, _ = embed_cohort({"P00_I0": recording}, encoder, SETTINGS, faces, tmp_path / "cache")
    assert after["P00_I0"].meta["cache_key"] != before["P00_I0"].meta["cache_key"]
    assert before["P00_I0"].usable.all()
    usable = after["P00_I0"].usable
    assert usable.any() and not usable.all()  # the clips of the second half lost their face


def test_embeddings_made_in_bf16_on_a_gpu_are_not_served_to_a_cpu_run(cohort, tmp_path,
                                                                        monkeypatch):  # fmt: skip
    from emoclip_clinic.scoring.pipeline import FaceOptions, embed_cohort, load_encoder
    from emoclip_clinic.train.evaluate import inference_precision

    assert inference_precision(torch.device("cuda")) == "bf16"  # no GPU needed to ask
    assert inference_precision(torch.device("cpu")) == "fp32"
    root, checkpoint = cohort
    recording = {"P02_I0": root / "recordings" / "P02_I0.mp4"}
    encoder, faces = load_encoder(checkpoint), FaceOptions("tracks", root / "tracks")
    cpu, _ = embed_cohort(recording, encoder, SETTINGS, faces, tmp_path)
    monkeypatch.setattr("emoclip_clinic.scoring.pipeline.inference_precision", lambda d: "bf16")
    gpu, _ = embed_cohort(recording, encoder, SETTINGS, faces, tmp_path)
    assert gpu["P02_I0"].meta["cache_key"] != cpu["P02_I0"].meta["cache_key"]
    assert gpu["P02_I0"].meta["key_parts"]["precision"] == "bf16"
    assert "precision" not in cpu["P02_I0"].meta["key_parts"]


def test_a_cached_recording_builds_no_face_detector(cohort, tmp_path, monkeypatch):
    from emoclip_clinic.scoring.pipeline import FaceOptions, embed_cohort, load_encoder

    root, checkpoint = cohort
    recording = {"P01_I0": root / "recordings" / "P01_I0.mp4"}
    encoder, faces = load_encoder(checkpoint), FaceOptions("detector")
    first, _ = embed_cohort(recording, encoder, SETTINGS, faces, tmp_path)
    assert first["P01_I0"].meta["face_source"] == "detector:centerface:every2"

    def forbidden(name):
        raise AssertionError("a face detector was built for a cached recording")

    monkeypatch.setattr("emoclip_clinic.faces.detectors.make_detector", forbidden)
    again, _ = embed_cohort(recording, encoder, SETTINGS, faces, tmp_path)
    np.testing.assert_array_equal(again["P01_I0"].embeddings, first["P01_I0"].embeddings)
    with pytest.raises(ConfigError, match="unknown face detector 'mtcnn'"):
        embed_cohort(recording, encoder, SETTINGS, FaceOptions("detector", detector="mtcnn"),
                     tmp_path)  # fmt: skip
    monkeypatch.undo()
    stricter = functools.partial(TrackerSettings, min_iou=0.5)  # as a later version might
    monkeypatch.setattr("emoclip_clinic.scoring.pipeline.TrackerSettings", stricter)
    tracked = []
    monkeypatch.setattr(DetectorTracker, "__init__", _spy(DetectorTracker.__init__, tracked))
    other, _ = embed_cohort(recording, encoder, SETTINGS, faces, tmp_path)
    assert other["P01_I0"].meta["cache_key"] != first["P01_I0"].meta["cache_key"]
    assert [settings.min_iou for settings in tracked] == [0.5]  # embedded again, as keyed


def _spy(init, seen):
    def spying(self, detector, settings=None):
        seen.append(settings)
        init(self, detector, settings)

    return spying


def test_two_interviews_with_copies_of_one_video_are_refused(cohort, tmp_path):
    import shutil

    root, checkpoint = cohort
    copy = tmp_path / "cohort"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("ckpt"))
    shutil.copy(copy / "recordings" / "P00_I0.mp4", copy / "recordings" / "P01_I0.mp4")
    with pytest.raises(DataError, match=r"labels\.csv: the recordings of interviews 'P00_I0' "
                                        r"and 'P01_I0' are the same video"):  # fmt: skip
        run_loocv(_job(copy, checkpoint), tmp_path / "out", n_boot=0)
    assert not (tmp_path / "out" / "loocv.json").exists()


def test_parallel_embedding_matches_one_process_and_reports_bad_recordings(cohort, tmp_path):
    from emoclip_clinic.scoring.pipeline import FaceOptions, embed_cohort, load_encoder

    root, checkpoint = cohort
    recordings = {p.stem: p for p in sorted((root / "recordings").glob("*.mp4"))[:4]}
    bad = tmp_path / "P99_I0.mp4"
    bad.write_bytes(b"not a video")
    encoder, faces = load_encoder(checkpoint), FaceOptions("tracks", root / "tracks")
    serial, _ = embed_cohort(recordings, encoder, SETTINGS, faces, tmp_path / "serial")
    parallel, failed = embed_cohort({**recordings, "P99_I0": bad}, encoder, SETTINGS, faces,
                                    tmp_path / "parallel", workers=2)  # fmt: skip
    assert list(parallel) == list(recordings)  # the caller's order, the bad one left out
    assert list(failed) == ["P99_I0"] and str(bad) in failed["P99_I0"]
    for name, entry in serial.items():
        np.testing.assert_array_equal(parallel[name].usable, entry.usable)
        np.testing.assert_allclose(parallel[name].embeddings, entry.embeddings, atol=1e-5)
        assert parallel[name].meta["cache_key"] == entry.meta["cache_key"]
    # the entries the workers wrote are what a later run reads
    again, _ = embed_cohort(recordings, encoder, SETTINGS, faces, tmp_path / "parallel", workers=2)
    for name, entry in again.items():
        np.testing.assert_array_equal(entry.embeddings, parallel[name].embeddings)


def test_workers_that_cannot_load_the_encoder_name_the_checkpoint(cohort, tmp_path):
    import shutil

    from emoclip_clinic.scoring.pipeline import FaceOptions, embed_cohort, load_encoder

    root, checkpoint = cohort
    recordings = {p.stem: p for p in sorted((root / "recordings").glob("*.mp4"))[:2]}
    faces = FaceOptions("tracks", root / "tracks")
    copy = shutil.copytree(checkpoint, tmp_path / "ckpt")
    encoder = load_encoder(copy)
    # the checkpoint is replaced by other weights after the run has started
    shutil.rmtree(copy)
    torch.manual_seed(1)
    save_checkpoint(copy, create_emoclip("emoclip-tiny"))
    with pytest.raises(ConfigError, match=r"ckpt.*weights changed while embedding"):
        embed_cohort(recordings, encoder, SETTINGS, faces, tmp_path / "cache", workers=2)
    assert not list((tmp_path / "cache").rglob("*.npz"))  # nothing embedded with other weights


@pytest.mark.parametrize("inputs", ["centred", "clip", "clip+centred"])
def test_a_saved_head_predicts_as_it_did_when_trained(tmp_path, inputs):
    from emoclip_clinic.scoring.bundle import load_bundle, save_bundle

    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(int(rng.integers(5, 30)), 6)).astype(np.float32) for _ in range(6)]
    head = fit_symptom_heads(clips, rng.normal(size=(6, 3)), np.ones((1, 6)),
                             HeadSettings(steps=5, inputs=inputs))[0]  # fmt: skip
    save_bundle(tmp_path / "head", head, {"head_settings": {"inputs": inputs}})
    loaded, _ = load_bundle(tmp_path / "head")
    assert loaded.inputs == inputs
    np.testing.assert_allclose(loaded.predict_clips(clips[0]), head.predict_clips(clips[0]),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    shifted = head.predict_clips(clips[0] + 5.0)  # a recording-wide shift of every clip
    moved = not np.allclose(shifted, head.predict_clips(clips[0]), atol=1e-4)
    assert moved is (inputs != "centred")


def test_loocv_command_passes_the_head_choices_on(cohort, tmp_path):
    """Also takes --frames, pretrain's and zeroshot's name of --clip-len."""
    from typer.testing import CliRunner

    from emoclip_clinic.cli import app, commands  # noqa: F401  (registers the commands)

    root, checkpoint = cohort
    out = tmp_path / "loocv"
    args = ["loocv", str(root / "labels.csv"), "--checkpoint", str(checkpoint), "--cache",
            str(root / "cache"), "--frames", "4", "--downsample", "2", "--out", str(out),
            "--n-boot", "20", "--head-precision", "bf16", "--head-inputs", "clip+centred",
            "--head-loss", "clip"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    head = json.loads((out / "loocv.json").read_text())["settings"]["head"]
    assert (head["inputs"], head["loss"], head["precision"]) == ("clip+centred", "clip", "bf16")
    refused = CliRunner().invoke(app, [*args[:-4], "--head-inputs", "frames"])
    assert refused.exit_code != 0 and "frames" in refused.output


def test_train_head_then_score_and_refusals(cohort, tmp_path):
    root, checkpoint = cohort
    info = run_train_head(_job(root, checkpoint), tmp_path / "bundle")
    assert set(info["interval_95"]) >= {"N1", "total"}
    result = score_recording(root / "recordings" / "P01_I1.mp4", tmp_path / "bundle", checkpoint,
                             tmp_path / "scores", cache_dir=root / "cache")  # fmt: skip
    scores = {row["item"]: row for row in result["scores"]}
    for row in scores.values():
        assert row["min"] <= row["interval_low"] <= row["predicted"] <= row["interval_high"]
        assert row["interval_high"] <= row["max"]
    assert result["bundle_meta"]["head_settings"]["inputs"] == "centred"
    timeline = pd.read_csv(tmp_path / "scores" / "P01_I1_timeline.csv")
    assert len(timeline) == result["quality"]["clips"] and timeline["usable"].all()
    assert timeline["expressivity"].between(0, 1).all()
    other = save_checkpoint(tmp_path / "other", create_emoclip("emoclip-tiny"))
    with pytest.raises(CheckpointError, match="trained on encoder"):
        score_recording(root / "recordings" / "P01_I1.mp4", tmp_path / "bundle", other,
                        tmp_path / "scores")  # fmt: skip
    with pytest.raises(CheckpointError, match="predicts scale 'panss_negative', not"):
        score_recording(root / "recordings" / "P01_I1.mp4", tmp_path / "bundle", checkpoint,
                        tmp_path / "scores", scale="cains_expression")  # fmt: skip


def test_clips_without_the_face_are_flagged_counted_and_left_out_of_the_scores(cohort, tmp_path):
    """The face track ends half-way (the patient walked out of view): of 6 clips the last 3
    have no face."""
    from emoclip_clinic.scoring.pipeline import FaceOptions

    root, checkpoint = cohort
    run_train_head(_job(root, checkpoint), tmp_path / "bundle")
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    lines = (root / "tracks" / "P00_I0.csv").read_text().splitlines()
    (tracks / "P00_I0.csv").write_text("\n".join(lines[:25]) + "\n")  # header + frames 1-24
    result = score_recording(root / "recordings" / "P00_I0.mp4", tmp_path / "bundle", checkpoint,
                             tmp_path / "scores", FaceOptions("tracks", tracks))  # fmt: skip
    quality = result["quality"]
    assert (quality["clips"], quality["usable_clips"], quality["no_face_clips"]) == (6, 3, 3)
    assert quality["face_time_share"] == pytest.approx(0.5)
    timeline = pd.read_csv(tmp_path / "scores" / "P00_I0_timeline.csv")
    assert timeline["flag"].tolist() == ["ok"] * 3 + ["no_face"] * 3
    assert timeline["usable"].tolist() == [True] * 3 + [False] * 3
    predicted = timeline.filter(like="predicted_")
    assert predicted.iloc[3:].isna().all().all() and predicted.iloc[:3].notna().all().all()


def test_score_gives_the_head_the_kind_of_input_it_was_trained_on(cohort, tmp_path):
    from emoclip_clinic.scoring.pipeline import FaceOptions

    root, checkpoint = cohort
    recording, whole = root / "recordings" / "P01_I1.mp4", FaceOptions("whole-frame")
    run_train_head(_job(root, checkpoint, faces=whole), tmp_path / "whole")
    run_train_head(_job(root, checkpoint), tmp_path / "crops")  # auto: the track files
    as_trained = score_recording(recording, tmp_path / "whole", checkpoint, tmp_path / "a")
    assert as_trained["face_source"] == "whole-frame"  # not the track file beside it
    assert score_recording(recording, tmp_path / "crops", checkpoint,
                           tmp_path / "b")["face_source"].startswith("track-file:")  # fmt: skip
    with pytest.raises(CheckpointError, match=r"trained on whole frames.*--faces tracks"):
        score_recording(recording, tmp_path / "whole", checkpoint, tmp_path / "c",
                        FaceOptions("tracks"))  # fmt: skip
    with pytest.raises(CheckpointError, match=r"trained on face crops \(--faces auto\)"):
        score_recording(recording, tmp_path / "crops", checkpoint, tmp_path / "c", whole)


def test_train_head_replaces_an_earlier_bundle_but_refuses_a_folder_of_other_files(
    cohort, tmp_path, monkeypatch
):
    root, checkpoint = cohort
    results = tmp_path / "results"
    run_loocv(_job(root, checkpoint), results, n_boot=0)
    kept = {p.name: p.read_bytes() for p in results.iterdir()}

    def forbidden(*args, **kwargs):
        raise AssertionError("the cohort was embedded before the output folder was checked")

    monkeypatch.setattr("emoclip_clinic.scoring.jobs._prepare", forbidden)
    with pytest.raises(ConfigError, match=rf"{results}.*no bundle\.json.*new or empty folder"):
        run_train_head(_job(root, checkpoint), results)
    assert {p.name: p.read_bytes() for p in results.iterdir()} == kept
    monkeypatch.undo()
    bundle = tmp_path / "bundle"
    run_train_head(_job(root, checkpoint), bundle)
    run_train_head(_job(root, checkpoint), bundle, seed=1)  # an earlier bundle is replaced
    assert json.loads((bundle / "bundle.json").read_text())["seed"] == 1
    with pytest.raises(ConfigError, match=r"holds files but no emoclip\.json"):
        save_checkpoint(results, create_emoclip("emoclip-tiny"))
    assert {p.name for p in results.iterdir()} == set(kept)


def test_a_bundle_missing_what_score_reads_is_refused_by_name(cohort, tmp_path):
    """A hand-edited or truncated bundle.json: one clear error, not a KeyError traceback."""
    from emoclip_clinic.scoring.bundle import SCORE_KEYS, load_bundle

    root, checkpoint = cohort
    bundle = tmp_path / "bundle"
    run_train_head(_job(root, checkpoint), bundle)
    meta_path = bundle / "bundle.json"
    meta = json.loads(meta_path.read_text())
    load_bundle(bundle, SCORE_KEYS)  # complete as train-head wrote it
    edits = [(lambda m: m.pop("cohort"), "no cohort"),
             (lambda m: m["encoder"].pop("sha256"), "no encoder.sha256"),
             (lambda m: m["scale"].pop("total"), "no scale.total"),
             (lambda m: m.update(scale="PANSS"), "no scale.name, scale.items")]  # fmt: skip
    for edit, named in edits:
        changed = json.loads(json.dumps(meta))
        edit(changed)
        meta_path.write_text(json.dumps(changed))
        with pytest.raises(CheckpointError, match=rf"{meta_path}: incomplete bundle, {named}"):
            load_bundle(bundle, SCORE_KEYS)
    meta_path.write_text(json.dumps(meta | {"embed_settings": {"clip_length": 4}}))
    with pytest.raises(CheckpointError, match=rf"{bundle}: unreadable embed_settings"):
        score_recording(root / "recordings" / "P00_I0.mp4", bundle, checkpoint, tmp_path / "s")


def test_prediction_intervals_are_the_conformal_rank_and_the_whole_scale_when_too_few():
    from types import SimpleNamespace

    from emoclip_clinic.scoring.jobs import score_table
    from emoclip_clinic.scoring.loocv import residual_quantiles

    def quantile(n):  # residuals 1, 2, ..., n in shuffled order
        residuals = np.random.default_rng(n).permutation(np.arange(1.0, n + 1))
        ratings = pd.DataFrame({"N1": residuals + 3.0})
        return residual_quantiles(SimpleNamespace(ratings=ratings), ratings * 0 + 3.0)["N1"]

    assert quantile(39) == (-38.0, 38.0)  # ceil(40 * 0.95) = 38th smallest of 39
    assert quantile(19) == (-19.0, 19.0)  # ceil(20 * 0.95) = 19th: the largest
    assert quantile(18) == (-np.inf, np.inf)  # the 19th of 18 does not exist
    meta = {"target_columns": ["N1"], "scale": {"ranges": {"N1": [1, 7]}},
            "interval_95": json_safe({"N1": quantile(18)})}  # fmt: skip
    assert meta["interval_95"]["N1"] == [None, None]  # as bundle.json stores it
    row = score_table(meta, np.array([4.2])).loc["N1"]
    assert (row["interval_low"], row["predicted"], row["interval_high"]) == (1, 4.2, 7)


def test_one_usable_clip_is_not_scored_by_a_centred_head_and_a_missing_file_stops_loocv(
    cohort, tmp_path
):
    import shutil

    from emoclip_clinic.scoring.pipeline import FaceOptions

    root, checkpoint = cohort
    run_train_head(_job(root, checkpoint), tmp_path / "bundle")  # centred inputs
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    rows = (root / "tracks" / "P00_I0.csv").read_text().splitlines()
    (tracks / "P00_I0.csv").write_text("\n".join(rows[:9]) + "\n")  # a face in frames 1-8
    with pytest.raises(DataError, match=r"P00_I0\.mp4: only 1 usable clip of 6; the head's "):
        score_recording(root / "recordings" / "P00_I0.mp4", tmp_path / "bundle", checkpoint,
                        tmp_path / "scores", FaceOptions("tracks", tracks))  # fmt: skip
    copy = tmp_path / "cohort"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("ckpt", "cache"))
    (copy / "recordings" / "P02_I0.mp4").unlink()
    with pytest.raises(DataError, match=r"labels\.csv.*line \d+: recording not found: .*P02_I0"):
        run_loocv(_job(copy, checkpoint), tmp_path / "out", n_boot=0)


def test_score_bad_recordings_lose_nothing(cohort, tmp_path, monkeypatch):
    root, checkpoint = cohort
    run_train_head(_job(root, checkpoint), tmp_path / "bundle")
    out = tmp_path / "scores"
    first = score_recording(root / "recordings" / "P00_I0.mp4", tmp_path / "bundle", checkpoint,
                            out, cache_dir=root / "cache")  # fmt: skip
    saved = (out / "P00_I0_score.json").read_text()
    for name, content in (("missing.mp4", None), ("empty.mp4", b""), ("junk.mp4", b"junk")):
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(DataError, match=name.replace(".", r"\.")):
            score_recording(path, tmp_path / "bundle", checkpoint, out)
    faceless = tmp_path / "tracks"
    faceless.mkdir()
    (faceless / "P00_I0.csv").write_text("frame,face_id,success,face_x,face_y,face_w,face_h\n")
    from emoclip_clinic.scoring.pipeline import FaceOptions

    with pytest.raises(DataError, match="no usable clip"):
        score_recording(root / "recordings" / "P00_I0.mp4", tmp_path / "bundle", checkpoint,
                        tmp_path / "other", FaceOptions("tracks", faceless))  # fmt: skip
    assert (out / "P00_I0_score.json").read_text() == saved
    assert first["scores"]
    namesake = tmp_path / "site2" / "recordings" / "P00_I0.mp4"  # another patient's video
    namesake.parent.mkdir(parents=True)
    namesake.write_bytes((root / "recordings" / "P01_I1.mp4").read_bytes())
    with pytest.raises(
        DataError,
        match=rf"P00_I0_score\.json: holds results of .*recordings/"
        rf"P00_I0\.mp4, not of {namesake}; .*--out",
    ):
        score_recording(namesake, tmp_path / "bundle", checkpoint, out, cache_dir=root / "cache")
    monkeypatch.chdir(namesake.parent)  # the same, named from its folder
    with pytest.raises(DataError, match=r"holds results of .*, not of P00_I0\.mp4"):
        score_recording(Path("P00_I0.mp4"), tmp_path / "bundle", checkpoint, out,
                        cache_dir=root / "cache")  # fmt: skip
    assert (out / "P00_I0_score.json").read_text() == saved
    again = score_recording(root / "recordings" / "P00_I0.mp4", tmp_path / "bundle",
                            checkpoint, out, cache_dir=root / "cache")  # fmt: skip
    assert again["scores"] == first["scores"]  # the same recording may be scored again
    from emoclip_clinic.scoring.pipeline import FaceOptions

    tracks = FaceOptions("tracks", root / "tracks")
    score_recording(namesake, tmp_path / "bundle", checkpoint, tmp_path / "site2_scores", tracks)
    namesake.write_bytes((root / "recordings" / "P02_I0.mp4").read_bytes())  # a corrected file
    redone = score_recording(namesake, tmp_path / "bundle", checkpoint,
                             tmp_path / "site2_scores", tracks)  # fmt: skip
    saved = json.loads((tmp_path / "site2_scores" / "P00_I0_score.json").read_text())
    assert saved["recording"]["sha256"] == redone["recording"]["sha256"]  # replaced


def test_embed_keeps_recordings_that_share_a_file_name_apart(cohort, tmp_path):
    from typer.testing import CliRunner

    from emoclip_clinic.cli import app, commands  # noqa: F401  (registers the commands)

    root, checkpoint = cohort
    first, second = root / "recordings" / "P00_I0.mp4", tmp_path / "site2" / "P00_I0.mp4"
    second.parent.mkdir()
    second.write_bytes((root / "recordings" / "P01_I1.mp4").read_bytes())
    args = ["embed", str(first), str(second), "--checkpoint", str(checkpoint), "--cache",
            str(tmp_path / "cache"), "--clip-len", "4", "--downsample", "2"]  # fmt: skip
    shared = CliRunner().invoke(app, [*args, "--tracks", str(root / "tracks")])
    assert isinstance(shared.exception, ConfigError)  # main() prints it as one line
    assert f"{first} and {second} would both be cropped with the face tracks in" in str(
        shared.exception
    )
    assert not (tmp_path / "cache").exists()  # refused before any work
    result = CliRunner().invoke(app, [*args, "--faces", "whole-frame"])
    assert result.exit_code == 0, result.output
    printed = "".join(result.output.split())  # Rich wraps long lines
    assert printed.count("clipsusable") == 2  # both embedded, neither hidden by the other
    assert f"{first}:6/6" in printed and f"{second}:" in printed


def test_embed_cuts_overlapping_clips_with_stride_and_crops_with_the_margin_asked(cohort, tmp_path):
    from typer.testing import CliRunner

    from emoclip_clinic.cli import app, commands  # noqa: F401  (registers the commands)
    from emoclip_clinic.scoring.cache import EmbeddingCache

    root, checkpoint = cohort
    recording = root / "recordings" / "P00_I0.mp4"  # 48 frames: 24 sampled at --downsample 2
    args = ["embed", str(recording), "--checkpoint", str(checkpoint), "--cache",
            str(tmp_path / "cache"), "--clip-len", "4", "--downsample", "2"]  # fmt: skip
    plain = CliRunner().invoke(app, args)
    wide = CliRunner().invoke(app, [*args, "--stride", "2", "--margin", "2.0"])
    assert plain.exit_code == 0 and wide.exit_code == 0, plain.output + wide.output
    assert "P00_I0:6/6" in "".join(plain.output.split())  # clips start 4 sampled frames apart
    assert "P00_I0:11/11" in "".join(wide.output.split())  # 2 apart: 0, 2, ..., 20
    cache = EmbeddingCache(tmp_path / "cache")
    parts = [cache.get(path.stem).meta["key_parts"]["settings"]
             for path in (tmp_path / "cache").glob("*.npz")]  # fmt: skip
    settings = sorted((part["stride"] or 0, part["margin"]) for part in parts)
    assert settings == [(0, 1.4), (2, 2.0)]  # two cache entries, one per setting (0: None)


def test_score_finds_and_tracks_the_face_in_the_real_video(cohort, shared_dir, tmp_path):
    from emoclip_clinic.scoring.pipeline import FaceOptions

    root, checkpoint = cohort
    run_train_head(_job(root, checkpoint), tmp_path / "bundle")
    video = shared_dir / "data/real/videos/pyfeat_WolfgangLanger_Pexels.mp4"
    result = score_recording(video, tmp_path / "bundle", checkpoint, tmp_path / "scores",
                             FaceOptions("detector"), tmp_path / "cache")  # fmt: skip
    assert result["face_source"].startswith("detector:centerface")
    quality = result["quality"]
    assert quality["no_face_clips"] == 0 and quality["face_time_share"] > 0.95
    timeline = pd.read_csv(tmp_path / "scores" / f"{video.stem}_timeline.csv")
    assert timeline["end_s"].iloc[-1] == pytest.approx(19.7, abs=0.1)
    assert (timeline["confidence"] > 0.5).all()
    # The detector finds the face under the hand (2.4-9.5 s); the occlusion flag leaves it out.
    # The bundle's clips are 8 frames (0.33 s) long.
    hand = timeline[(timeline["end_s"] > 4.5) & (timeline["start_s"] < 9.0)]
    laughing = timeline[(timeline["start_s"] >= 10.5) & (timeline["end_s"] <= 16.0)]
    assert len(hand) >= 12 and len(laughing) >= 15
    assert (hand["flag"] == "occluded").all() and not hand["usable"].any()
    assert (laughing["flag"] == "ok").all() and laughing["usable"].all()
    assert quality["occluded_clips"] == (timeline["flag"] == "occluded").sum()
    assert quality["usable_clips"] == quality["clips"] - quality["occluded_clips"]
