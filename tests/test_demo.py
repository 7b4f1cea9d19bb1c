"""The main job: `emoclip-clinic demo --quick` runs the whole chain to the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_quick_demo_runs_the_whole_chain(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "emoclip_clinic", "demo", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=1800,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Zero-shot recognition on synthetic DFEW" in result.stdout
    assert "Leave-one-patient-out agreement" in result.stdout
    zeroshot = json.loads((out / "zeroshot" / "dfew_all_folds.json").read_text())
    models = {row["model"] for row in zeroshot["rows"]}
    assert models == {"EmoCLIP", "CLIP frame-ensemble"}
    texts = {row["text"] for row in zeroshot["rows"]}
    assert {"basic7", "basic7_unseen"} <= texts
    for scale in ("panss_negative", "cains_expression"):
        loocv = json.loads((out / "loocv" / scale / "loocv.json").read_text())
        assert loocv["cohort"]["patients"] >= 8
        assert all("oracle_pcc" in row for row in loocv["agreement"])
    reports = sorted(out.glob("reports/**/*.html"))
    assert len(reports) >= 3  # two cohort reports and a patient report
    assert "research use" in reports[0].read_text().lower()
