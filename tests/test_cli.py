"""The command-line interface as a user meets it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

COMMANDS = [
    "pretrain",
    "zeroshot",
    "embed",
    "score",
    "loocv",
    "train-head",
    "report",
    "synth",
    "demo",
    "models",
]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emoclip_clinic", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_every_command_without_importing_torch():
    code = (
        "import sys; sys.argv = ['emoclip-clinic', '--help']\n"
        "from emoclip_clinic.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().endswith("NO-TORCH")
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_version():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"emoclip-clinic {version('emoclip-clinic')}"


def test_models_lists_shipped_and_user_configs(tmp_path):
    result = run_cli("models", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert {"emoclip-vit-b-32", "emoclip-reference", "emoclip-tiny", "emoclip-tiny-minilm"} <= set(
        listed
    )
    custom = dict(listed["emoclip-tiny"], name="lab-model")
    (tmp_path / "lab-model.json").write_text(json.dumps(custom))
    result = run_cli("models", "--model-dir", str(tmp_path))
    assert "lab-model" in result.stdout
    shown = json.loads(run_cli("models", "emoclip-vit-b-32").stdout)
    assert shown["backbone"]["open_clip_model"] == "ViT-B-32"


def test_user_mistake_is_one_line_without_traceback():
    result = run_cli("models", "no-such-model")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown model config 'no-such-model'")
    assert "Traceback" not in result.stderr


def test_first_run_mistakes_are_one_line_each_and_outputs_are_readable_by_colleagues(tmp_path):
    import os
    import stat

    import torch

    from emoclip_clinic.models import create_emoclip
    from emoclip_clinic.models.checkpoints import save_checkpoint
    from tests.toy_cohort import make_toy_cohort

    root = make_toy_cohort(tmp_path / "cohort", patients=3)
    torch.manual_seed(0)
    ckpt = str(save_checkpoint(tmp_path / "ckpt", create_emoclip("emoclip-tiny")))
    labels, afile = str(root / "labels.csv"), tmp_path / "afile"
    afile.write_text("not a folder")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "bundle.json").write_text('{"format": "emoclip-clinic-head", "scale"')
    (bundle / "head.safetensors").write_bytes(b"")
    roster = tmp_path / "enrolled.txt"
    roster.write_text("P00\nP01\n")  # P02 is in the labels: a typo, or a list out of date
    common = ["--checkpoint", ckpt, "--cache", str(tmp_path / "cache"), "--clip-len", "4"]
    cases = [
        (["loocv", labels, *common, "--device", "gpu"], 2, "unknown device 'gpu': use auto"),
        (["loocv", labels, *common, "--out", str(afile)], 1, f"{afile}: File exists"),
        (["loocv", labels, *common, "--downsample", "0"], 2, "'--downsample': Input should be"),
        (["train-head", labels, *common, "--out", str(tmp_path / "b"), "--patients", str(roster)],
         1, "line 5: unknown patient_id 'P02'"),
        (["score", str(root / "recordings" / "P00_I0.mp4"), "--head", str(bundle), *common[:2]],
         1, f"{bundle / 'bundle.json'}: not readable JSON"),
    ]  # fmt: skip
    if not torch.cuda.is_available():
        cases.append((["loocv", labels, *common, "--device", "cuda"], 2, "no CUDA GPU"))
    for args, code, message in cases:
        result = run_cli(*args)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    umask = os.umask(0o022)
    try:
        result = run_cli("loocv", labels, *common, "--out", str(tmp_path / "ok"), "--n-boot", "0")
    finally:
        os.umask(umask)
    assert result.returncode == 0, result.stderr
    for name in ("loocv.json", "loocv_predictions.csv"):  # not tempfile's owner-only 0600
        assert stat.S_IMODE((tmp_path / "ok" / name).stat().st_mode) == 0o644
